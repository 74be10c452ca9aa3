"""The Annex I CSV parts: exact template layout, hand-computed values, small-cell suppression."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from paths import FIXTURES

from govlib import cli
from govlib.dsa.templates import PARTS, build_report, parse_period, read_template, write_report
from govlib.errors import UsageError

FIXTURE_TEMPLATES = FIXTURES / "dsa" / "templates_2024_2835"
SHARED_TEMPLATES = Path("/work/shared/reference/dsa/templates_2024_2835")
PREFIX = "4_EN_Annex_I__Templates_for_Transparency_Reports_CSV_Part_"


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _tables() -> dict[str, pd.DataFrame]:
    """A hand-made dataset for 2026-H1 with known answers (see the asserts)."""
    acts = []

    def add(n, market, policy, at, src, mode, ground, when="2026-02-10 12:00"):
        for _ in range(n):
            i = len(acts)
            acts.append(dict(action_id=f"a{i}", creator_id=f"c{i % 5}", content_id=f"x{i}", market=market,
                             policy=policy, severity="low", action_type=at, health_points=0, detection_source=src,
                             decision_mode=mode, ground=ground, detected_at=_ts(when) - pd.Timedelta(hours=2),
                             actioned_at=_ts(when), restriction_ends_at=pd.NaT, views_before_action=None))  # fmt: skip

    add(12, "DE", "scam_fraud", "content_removed", "automated", "automated", "terms_of_service")
    add(11, "FR", "scam_fraud", "account_banned", "proactive_review", "human", "terms_of_service")
    add(
        3, "DE", "counterfeit_ip", "visibility_limited", "automated", "hybrid", "terms_of_service"
    )  # small cell
    add(15, "IT", "counterfeit_ip", "content_removed", "automated", "automated", "illegal_content")
    add(
        20, "DE", "hate_harassment", "content_removed", "user_report", "human", "illegal_content"
    )  # not own-init.
    add(
        30, "GB", "scam_fraud", "content_removed", "automated", "automated", "terms_of_service"
    )  # UK: excluded
    add(
        40,
        "DE",
        "scam_fraud",
        "content_removed",
        "automated",
        "automated",
        "terms_of_service",
        when="2025-12-31 23:00",
    )  # outside the period
    actions = pd.DataFrame(acts)
    # notices: 10 user notices on counterfeit handled after 1..10 hours (median 5.5), 2 of them actioned
    nts = []
    for i in range(10):
        rec = _ts("2026-03-01 00:00")
        nts.append(dict(notice_id=f"n{i}", content_id=f"x{26 + i}", creator_id=None, market="IT",
                        reporter_type="user", policy="counterfeit_ip", received_at=rec,
                        handled_at=rec + pd.Timedelta(hours=i + 1), outcome="actioned" if i < 2 else "no_violation",
                        action_id=f"a{26 + i}" if i < 2 else None))  # fmt: skip
    notices = pd.DataFrame(nts)
    # appeals: 12 internal complaints on content_removed actions: 6 upheld, 4 overturned, 2 pending;
    # resolved after 10, 20, ..., 100 hours (median 55)
    aps = []
    for i in range(12):
        sub = _ts("2026-04-01 00:00")
        outcome = "upheld" if i < 6 else "overturned" if i < 10 else "pending"
        aps.append(
            dict(
                appeal_id=f"p{i}",
                action_id=f"a{i}",
                creator_id="c0",
                market="DE",
                channel="internal_complaint",
                submitted_at=sub,
                resolved_at=sub + pd.Timedelta(hours=10 * (i + 1)) if i < 10 else pd.NaT,
                outcome=outcome,
            )
        )
    appeals = pd.DataFrame(aps)
    return {"enforcement_actions": actions, "notices": notices, "appeals": appeals}


@pytest.fixture(scope="module")
def report():
    return build_report(_tables(), "2026-H1", service="Test Shop", min_cell_size=10)


def _templates_dirs():
    dirs = [FIXTURE_TEMPLATES]
    if SHARED_TEMPLATES.exists():
        dirs.append(SHARED_TEMPLATES)
    return dirs


@pytest.mark.parametrize("tdir", _templates_dirs(), ids=lambda p: p.parent.name)
def test_headers_and_row_labels_equal_templates(report, tdir, tmp_path):
    paths = write_report(report, tmp_path)
    assert {p.stem for p in paths} == set(PARTS.values())
    for part, stem in PARTS.items():
        with open(tdir / f"{PREFIX}{stem}.csv", encoding="utf-8", newline="") as fh:
            tmpl = list(csv.reader(fh))
        with open(tmp_path / f"{stem}.csv", encoding="utf-8", newline="") as fh:
            ours = list(csv.reader(fh))
        assert ours[0] == tmpl[0], stem
        assert len(ours) == len(tmpl), stem
        label_cols = (0, 3, 4) if part in (4, 5, 6) else (0, 3, 4, 5)
        assert [[r[i] for i in label_cols] for r in ours[1:]] == [
            [r[i] for i in label_cols] for r in tmpl[1:]
        ]
        assert all(len(r) == len(tmpl[0]) for r in ours)
        assert {r[1] for r in ours[1:]} == {"Test Shop"} and {r[2] for r in ours[1:]} == {
            "2026-01-01/2026-06-30"
        }


def _row(rows, label, col):
    header = rows[0]
    hits = [r for r in rows[1:] if r[3] == label]
    return hits[0][header.index(col)]


def test_part6_terms_and_conditions_values(report):
    rows = report["6_own_initiative_TC"]
    own = "Number of measures taken at the provider's own initiative "
    auto = "Number of measures taken after detection with solely automated means "
    # own-initiative T&C in DSA markets in the period: 12 DE + 11 FR + 3 DE = 26 (GB and 2025 excluded)
    assert _row(rows, "TOTAL", own) == "26"
    assert _row(rows, "TOTAL", auto) == "15"  # 12 + 3 detected by automated means
    # 23 scam measures: shown, TOTAL - 23 would reveal the 3 suppressed counterfeit measures,
    # so it is suppressed too (complementary suppression)
    assert _row(rows, "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", own) == ""
    assert "complementary" in _row(
        rows, "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "Contextual Information on " + own
    )
    assert _row(rows, "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "Visibility restriction Removal") == "12"
    assert _row(rows, "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "Account restriction Termination") == "11"
    # 3 counterfeit measures: below the threshold of 10 -> suppressed, and said so
    assert _row(rows, "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", own) == ""
    assert _row(rows, "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
                "Contextual Information on " + own) == "Suppressed: fewer than 10"  # fmt: skip
    assert _row(rows, "STATEMENT_CATEGORY_ANIMAL_WELFARE", own) == "0"  # zero is not suppressed
    assert _row(rows, "KEYWORD_ANIMAL_HARM", own) == ""  # no keyword data


def test_part5_illegal_values(report):
    rows = report["5_own_initiative_illegal"]
    own = "Number of measures taken at the provider's own initiative "
    assert (
        _row(rows, "TOTAL", own) == "15"
    )  # IT counterfeit; the 20 user-reported ones are not own-initiative
    assert (
        _row(rows, "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", "Visibility restriction Removal")
        == "15"
    )


def test_part4_notices(report):
    rows = report["4_notices"]
    assert _row(rows, "TOTAL", "Number of notices received ") == "10"
    assert _row(rows, "TOTAL", "Median time to take action") == "5.50"  # median of 1..10 hours
    assert (
        _row(rows, "TOTAL", "Number of specific items of information included in the total number of notices")
        == "10"
    )
    # 2 actioned notices, both linked to illegal-content actions (a26, a27 are IT counterfeit): suppressed (< 10)
    assert _row(rows, "TOTAL", "Number of actions taken on the basis of the law") == ""
    assert (
        _row(rows, "TOTAL", "Number of actions taken on the basis of the terms and conditions of the service")
        == "0"
    )
    # trusted-flagger median over 0 notices: empty, no suppression note
    assert _row(rows, "TOTAL", "Median time to take action (Trusted Flagger notices)") == ""


def test_part7_complaints(report):
    rows = report["7_appeals_and_recidivism"]
    val = {(r[4], r[5]): r[6] for r in rows[1:]}
    ctx = {(r[4], r[5]): r[7] for r in rows[1:]}
    ind = "Number of complaints submitted to the internal-complaints mechanism"
    assert val[(ind, "Total number")] == "12"
    assert val[(ind, "Decisions upheld")] == ""  # 6 < 10: suppressed
    assert ctx[(ind, "Decisions upheld")] == "Suppressed: fewer than 10"
    assert val[(ind, "Median time")] == "55.00"  # median of 10..100 hours over 10 resolved
    vis = (
        "Complaint regarding a decision to remove or disable access to or restrict visibility of information"
    )
    assert val[(vis, "Total number")] == "12"  # all appealed actions a0..a11 are content_removed
    assert ctx[(ind, "Decision omitted")].startswith("Not available")


def test_part8_automated(report):
    rows = report["8_automated_means"]
    val = {(r[4], r[5]): r[6] for r in rows[1:]}
    # in scope: 12 + 11 + 3 + 15 + 20 = 61 actions; solely automated: 12 + 15 = 27; not: 34 (incl. 3 hybrid)
    assert val[("Number of measures solely taken by automated means ", "Total number")] == "27"
    assert val[("Number of measures not taken by automated means", "Total number")] == "34"
    assert val[("Number of measures solely taken by automated means ", "Own-initiative ")] == "27"
    assert val[("Number of measures not taken by automated means", "Own-initiative ")] == "14"


def test_rfc4180_utf8(report, tmp_path):
    write_report(report, tmp_path)
    raw = (tmp_path / "6_own_initiative_TC.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == len(report["6_own_initiative_TC"])  # every row ends with CRLF
    assert list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))) == report["6_own_initiative_TC"]


def test_service_name_is_never_a_spreadsheet_formula(tmp_path):
    service = "=1+cmd|' /C calc'!A0"
    parts = build_report(_tables(), "2026-H1", service=service, min_cell_size=10)
    plain = build_report(_tables(), "2026-H1", service="Shop", min_cell_size=10)
    paths = write_report(parts, tmp_path)
    for p in paths:
        rows = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"), newline="")))
        ref = plain[p.stem]
        assert [r[1] for r in rows[1:]] == ["'" + service] * (len(rows) - 1), p.name
        # every other cell is as written for a harmless name (counts, shares and labels unchanged)
        assert [r[:1] + r[2:] for r in rows] == [r[:1] + r[2:] for r in ref], p.name


def test_no_creator_ids_in_output(report):
    text = "".join(",".join(r) for rows in report.values() for r in rows)
    assert "c0" not in text.split(",") and "a1" not in text.split(",")


def test_parse_period():
    assert parse_period("2026-H2")[2] == "2026-07-01/2026-12-31"
    assert parse_period("2026-H1")[1] == pd.Timestamp("2026-07-01", tz="UTC")
    for bad in ("2026-H3", "2026-06", "H1-2026"):
        with pytest.raises(UsageError):
            parse_period(bad)


def test_read_template_part_range():
    assert read_template(7)[0][-1] == "Contextual Information"
    with pytest.raises(UsageError):
        read_template(9)


def test_cli_on_imported_real_rows(tmp_path, capsys):
    from govlib.dsa.sor import import_dumps
    from govlib.dsa.synth import build_dump

    rows = FIXTURES / "dsa" / "sor_rows"
    files = sorted(rows.glob("sor-global-2024-03-14-*.csv"))
    dump = build_dump(tmp_path / "sor-global-2024-03-14-full.zip", [[(f.name, f) for f in files]])
    import_dumps([dump], tmp_path / "ds")
    rc = cli.main(["dsa", "report", "--period", "2024-H1", "--data", str(tmp_path / "ds"), "--out",
                   str(tmp_path / "rep"), "--min-cell-size", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "4_notices.csv not written" in out
    raw = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]).drop_duplicates("uuid")
    # every real row is own-initiative (SOURCE_VOLUNTARY) T&C except one Article 16 notice; counted once (not per market)
    exp = int((raw["source_type"] == "SOURCE_VOLUNTARY").sum())
    with open(tmp_path / "rep" / "6_own_initiative_TC.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert _row(rows, "TOTAL", "Number of measures taken at the provider's own initiative ") == str(exp)
    exp_dis = int(raw.loc[raw["source_type"] == "SOURCE_VOLUNTARY", "decision_visibility"]
                  .str.contains("DECISION_VISIBILITY_CONTENT_DISABLED").sum())  # fmt: skip
    assert _row(rows, "TOTAL", "Visibility restriction Disable") == str(exp_dis)
