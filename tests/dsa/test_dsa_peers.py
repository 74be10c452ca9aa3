"""Published transparency reports of other services (tests/fixtures/dsa/transparency_reports, see PROVENANCE.md).

Expected figures are read off the published files by hand (the cell values are quoted below).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import paths
import pytest

from govlib import cli
from govlib.dsa.peers import (
    PeerReportError,
    PeerReportWarning,
    compare_with_peers,
    normalise_scope,
    our_figures,
    parse_number,
    part_of,
    peer_figures,
    period_from_name,
    period_of,
    read_peer_reports,
    read_report_csv,
    repair_text,
    uses_decimal_comma,
)

FIXTURES = paths.FIXTURES / "dsa" / "transparency_reports"
FAULTS = paths.FIXTURES / "dsa" / "peer_faults"
SHARED = Path("/work/shared/reference/dsa/transparency_reports")


@pytest.mark.parametrize(
    "text, decimal_comma, expected",
    [
        ("124.1M", False, 124_100_000.0),
        ("2.3K", False, 2_300.0),
        ("35.852.803", False, 35_852_803.0),
        ("35.852.803", True, 35_852_803.0),
        ("1,135,912", False, 1_135_912.0),
        ("42,03", False, 42.03),
        ("42,03", True, 42.03),
        ("1.720", True, 1720.0),
        ("427067.0", False, 427_067.0),
        ("98.38%", False, 0.9838),
        ("0.428916667", False, 0.428916667),
        ("", False, math.nan),
        ("NA", False, math.nan),
        (" 5 ", False, 5.0),
        ("not a number", False, math.nan),
    ],
)
def test_parse_number(text, decimal_comma, expected):
    got = parse_number(text, decimal_comma)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-12)


def test_decimal_convention_and_scopes():
    assert uses_decimal_comma(["1.203.717", "12"]) and uses_decimal_comma(["70,27"])
    assert not uses_decimal_comma(["1,135,912", "1,720", "0.5"])
    assert normalise_scope("EL") == ("GR", "member_state") and normalise_scope("GR") == ("GR", "member_state")
    assert normalise_scope("total") == ("Total number", "total") == normalise_scope("Total number ")
    assert normalise_scope("Own-initiative ") == ("Own-initiative", "own_initiative")
    assert normalise_scope("SI ") == ("SI", "member_state") and normalise_scope("el") == ("el", "language")
    assert (
        repair_text("traders¡¯ criteria¡ªwhere AT, [бн], SE Commission¨s")
        == "traders’ criteria—where AT, [...], SE Commission’s"
    )


def test_crlf_rows_with_lf_inside_quoted_cells(tmp_path):
    p = tmp_path / "x - 7_appeals.csv"
    p.write_bytes(b"Applicability,Service,Value,Contextual Information,,\r\n"
                  b"All,S,\"1,234\",\"line one\nline two\",,\r\nAll,S,5,,,\r\n")  # fmt: skip
    df = read_report_csv(p)
    assert list(df.columns) == ["Applicability", "Service", "Value", "Contextual Information"]
    assert df["Contextual Information"].iloc[0] == "line one\nline two" and len(df) == 2
    assert part_of(p) == 7


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-07-01/2025-12-31", ("2025-07-01/2025-12-31", None)),
        ("2025/7/1 - 2025/12/31", ("2025-07-01/2025-12-31", None)),
        ("YYYY-MM-DD/YYYY-MM-DD", (None, None)),
        ("", (None, None)),
        ("2025-07-01/2025-12-32", (None, "December 2025 has 31 days")),
        ("2024-01-01/2024-02-29", ("2024-01-01/2024-02-29", None)),  # leap year
        ("2025-01-01/2025-02-29", (None, "February 2025 has 28 days")),
        ("2025-07-01/2025-13-01", (None, "month 13 does not exist")),
        ("2025-12-31/2025-07-01", (None, "the period ends before it starts")),
    ],
)
def test_period_of(text, expected):
    assert period_of(text) == expected


def test_period_from_name():
    assert period_from_name("/x/amazon/2025H2/") == ("2025-07-01/2025-12-31", "2025H2")
    assert period_from_name("/x/temu/2026-h1") == ("2026-01-01/2026-06-30", "2026-h1")
    assert (
        period_from_name("/x/tiktok/DSA_Transparency_Report_TikTok_January_June_2026")[0]
        == "2026-01-01/2026-06-30"
    )
    assert period_from_name("/x/zalando/Zalando_Transparency_Report_August_2026") == (None, "")
    assert period_from_name("/2025H2/a/b/c") == (None, "")  # only the two innermost folders and the name


def test_impossible_period_is_a_warning_not_a_period():
    with pytest.warns(PeerReportWarning) as caught:
        tidy = read_peer_reports([FAULTS / "impossible_date"])
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert (
        messages[0].startswith("AliExpress/7_appeals_and_recidivism.csv: 1 row(s)")
        and "row 4: '2025-07-01/2025-12-32'" in messages[0]
    )
    assert (
        messages[1].startswith("AliExpress/8_automated_means.csv: 1 row(s)")
        and "row 3: '2025-07-01/2025-12-32'" in messages[1]
    )
    assert set(tidy["period"]) == {"2025-07-01/2025-12-31"}


def test_mixed_periods_refused_unless_allowed(tmp_path):
    for half, part in (("2025H2", "7_appeals_and_recidivism.csv"), ("2026H1", "8_automated_means.csv")):
        (tmp_path / "temu").mkdir(exist_ok=True)
        (tmp_path / "temu" / part).write_bytes((FIXTURES / "temu" / half / part).read_bytes())
    with pytest.raises(
        PeerReportError, match=r"2 reporting periods.*7_appeals_and_recidivism.csv \(2025-07-01"
    ):
        read_peer_reports([tmp_path])
    with pytest.warns(PeerReportWarning, match="kept as separate periods"):
        tidy = read_peer_reports([tmp_path], allow_mixed_periods=True)
    assert tidy.groupby("source_file")["period"].agg(set).to_dict() == {
        "temu/7_appeals_and_recidivism.csv": {"2025-07-01/2025-12-31"},
        "temu/8_automated_means.csv": {"2026-01-01/2026-06-30"},
    }


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.csv"))


@pytest.mark.parametrize("root", [FIXTURES, SHARED], ids=["fixtures", "shared"])
def test_reads_every_published_report(root):
    if not root.exists():
        pytest.skip(f"{root} not present")
    files = _all_files(root)
    assert len(files) == 82
    for f in files:
        read_report_csv(f)  # no file needs a manual fix
    tidy = read_peer_reports([root])
    numeric_parts = {f.relative_to(root).as_posix() for f in files if part_of(f) in (3, 4, 5, 6, 7, 8, 9, 10)}
    missing = numeric_parts - set(tidy["source_file"])
    # the only parts without numbers are Part 5 files that platforms published empty (all T&C-based)
    assert missing and all("5_own_initiative_illegal" in m for m in missing)
    for m in missing:
        df = read_report_csv(root / m)
        counts = df.loc[
            :, "Number of measures taken at the provider's own initiative":"Account restriction Termination"
        ]
        assert (counts.apply(lambda c: c.str.strip()) == "").all().all()
    assert tidy["period"].notna().all()
    assert set(tidy["service"]) == {"Amazon Store", "Temu", "TikTok", "Zalando"}
    ms = tidy.loc[tidy["scope_kind"] == "member_state", "scope"]
    assert "GR" in set(ms) and "EL" not in set(ms)
    figs = peer_figures(tidy)
    assert figs.groupby("figure").size().to_dict() == {
        "complaints_median_hours": 8, "complaints_reversed_share": 8, "notices_median_hours": 8,
        "solely_automated_share": 8,
    }  # fmt: skip
    assert figs["value"].notna().all()
    assert figs.loc[figs["figure"].str.endswith("share"), "value"].between(0, 1).all()


@pytest.fixture(scope="module")
def figs():
    return peer_figures(read_peer_reports([FIXTURES])).set_index(["service", "period", "figure"])


def test_known_figures(figs):
    h2, h1 = "2025-07-01/2025-12-31", "2026-01-01/2026-06-30"
    # Amazon 2025H2 part 7: reversed 286593.0 + partially reversed 1.0 of total 427067.0
    assert figs.loc[("Amazon Store", h2, "complaints_reversed_share"), "value"] == pytest.approx(
        286594 / 427067
    )
    # Zalando (February 2026 file, period 2025H2): median time '42,03' (decimal comma)
    assert figs.loc[("Zalando", h2, "complaints_median_hours"), "value"] == pytest.approx(42.03)
    assert figs.loc[("Zalando", h2, "notices_median_hours"), "value"] == pytest.approx(289.42)
    # TikTok 2026H1 part 8: 'total' rows at the end of the file, 206727421 and 13149128
    assert figs.loc[("TikTok", h1, "solely_automated_share"), "value"] == pytest.approx(
        206727421 / (206727421 + 13149128)
    )
    # TikTok 2025H2: 220217619 and 14874341 on 'total' rows (not the sum over member states)
    assert figs.loc[("TikTok", h2, "solely_automated_share"), "value"] == pytest.approx(
        220217619 / (220217619 + 14874341)
    )
    # Temu 2026H1: 387748 complaints, 119211 reversed, 0 partially
    assert figs.loc[("Temu", h1, "complaints_reversed_share"), "value"] == pytest.approx(119211 / 387748)
    assert figs.loc[("Temu", h1, "complaints_median_hours"), "unit_basis"].startswith("assumed: hours")
    assert "amazon/2025H2/" in figs.loc[("Amazon Store", h2, "complaints_reversed_share"), "source_file"]


def test_tidy_details():
    tidy = read_peer_reports([FIXTURES / "zalando", FIXTURES / "temu", FIXTURES / "tiktok"])
    z = tidy[tidy["source_file"].str.contains("February_2026") & (tidy["part"] == 10)]
    assert 35_852_803.0 in set(z["value"])  # '35.852.803'
    t = tidy[(tidy["service"] == "Temu") & (tidy["part"] == 10) & (tidy["raw"] == "129.7M")]
    assert set(t["value"]) == {129_700_000.0}
    # TikTok's Part 5 left the placeholder period: taken from the report's other parts
    p5 = tidy[tidy["source_file"].str.contains("January_June_2026 - 5_")]
    assert len(p5) and set(p5["period"]) == {"2026-01-01/2026-06-30"}
    assert not tidy["context"].str.contains("¡¯", regex=False).any()


def test_compare_with_peers(figs):
    ts = pd.Timestamp
    ea = pd.DataFrame({"action_id": ["a1", "a2", "a3", "a4"], "decision_mode": ["automated", "automated", "human", "hybrid"],
                       "actioned_at": [ts("2026-02-01", tz="UTC")] * 4})  # fmt: skip
    ap = pd.DataFrame({"channel": ["internal_complaint"] * 3 + ["out_of_court"],
                       "outcome": ["overturned", "upheld", "partially_overturned", "overturned"],
                       "submitted_at": [ts("2026-03-01", tz="UTC")] * 4,
                       "resolved_at": [ts("2026-03-01 02:00", tz="UTC"), ts("2026-03-01 04:00", tz="UTC"),
                                       ts("2026-03-02", tz="UTC"), ts("2026-03-05", tz="UTC")]})  # fmt: skip
    ours = our_figures({"enforcement_actions": ea, "appeals": ap}, "2026-H1").set_index("figure")
    assert ours.loc["complaints_reversed_share", "value"] == pytest.approx(2 / 3)
    assert ours.loc["complaints_median_hours", "value"] == pytest.approx(4.0)  # median of 2, 4, 24
    assert ours.loc["solely_automated_share", "value"] == pytest.approx(0.5)
    assert math.isnan(ours.loc["notices_median_hours", "value"])
    assert ours.loc["notices_median_hours", "note"] == "not available for this source"
    both = compare_with_peers(ours.reset_index(), figs.reset_index())
    first = both[both["figure"] == "complaints_reversed_share"].iloc[0]
    assert bool(first["is_ours"]) and first["period"] == "2026-01-01/2026-06-30"
    assert both["definition"].notna().all()


def test_cli(tmp_path, capsys):
    out = tmp_path / "figs.csv"
    rc = cli.main(["dsa", "peers", str(FIXTURES), "--out", str(out)])
    assert rc == 0 and "read 82 files" in capsys.readouterr().out
    assert len(pd.read_csv(out)) == 32
    rc = cli.main(["dsa", "peers", str(tmp_path / "missing")])
    assert rc == 2
