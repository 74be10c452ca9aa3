"""The DSA peer report's sections (govlib/report/sections/dsa_peers.py) on the planted archive.

The planted statements (tests/dsa_archive.py, table in tests/dsa/test_peers_sor.py): TikTok 6
statements (4 fully automated, 5 detected automatically, 1 illegal), Temu 5 (2 fully automated),
decided January to March 2026. The published reports are the real ones of
tests/fixtures/dsa/transparency_reports (TikTok and Temu publish 2025 H2 and 2026 H1).
"""

from __future__ import annotations

import warnings

import pytest
from dsa_archive import planted_statements, write_archive
from paths import FIXTURES
from statsmodels.stats.proportion import proportion_confint

from govlib.dsa import peers_sor as ps
from govlib.dsa.peers import peer_figures, read_peer_reports
from govlib.report.sections import dsa_peers, open_dsa_context

from .conftest import column, tables

REPORTS = FIXTURES / "dsa" / "transparency_reports"
H1 = "2026-01-01/2026-06-30"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    store = write_archive(tmp_path_factory.mktemp("arch") / "a", planted_statements())
    return open_dsa_context("2026-03", months=3, archive=str(store), platform="TikTok",
                            peers="Temu,AliExpress,Amazon", peer_reports=str(REPORTS), lang="en_GB")  # fmt: skip


def test_intro_names_range_and_platforms_without_statements(ctx):
    s = dsa_peers.intro(ctx)
    assert s.data["missing"] == ["AliExpress", "Amazon"]
    assert "1 Jan 2026 to 31 Mar 2026" in s.text and "AliExpress, Amazon" in s.text


def test_headline_platform_first_with_intervals(ctx):
    s = dsa_peers.headline(ctx)
    assert list(tables(s)[0]["Platform"]) == ["TikTok", "Temu"]
    assert column(s, "Statements") == {"TikTok": "6", "Temu": "5"}
    lo, hi = proportion_confint(4, 6, method="wilson")
    expected = ctx.fmt.rate_with_interval(4 / 6, lo, hi)
    assert column(s, "Decided fully automatically")["TikTok"] == expected
    assert "66.7% (95% CI" in expected


def test_member_states_and_months(ctx):
    ms = dsa_peers.member_states(ctx).data["member_states"].set_index(["platform_name", "member_state"])
    assert ms.loc[("TikTok", "DE"), "statements"] == 4  # t1 t2 t-dup t5
    assert ms.loc[("TikTok", "IT"), "statements"] == 2  # t-dup t6
    assert ms.loc[("Temu", "PL"), "statements"] == 1
    mon = dsa_peers.monthly(ctx).data["monthly"].set_index(["platform_name", "month"])["statements"]
    assert mon.to_dict() == {("TikTok", "2026-01"): 4, ("TikTok", "2026-02"): 2, ("Temu", "2026-01"): 2,
                             ("Temu", "2026-02"): 2, ("Temu", "2026-03"): 1}  # fmt: skip


def test_decisions_content_and_timeliness(ctx):
    s = dsa_peers.decisions_and_content(ctx)
    decisions, content = tables(s)
    assert (
        dict(zip(decisions["Value"], decisions["Temu"]))["Service provision restricted"] == "20.0%"
    )  # m1 of 5
    assert dict(zip(content["Value"], content["TikTok"])) == {
        "product": "83.3%",
        "text": "16.7%",
        "video": "16.7%",
    }
    t = dsa_peers.timeliness(ctx).data["timeliness"].set_index("platform_name")
    assert t.loc["Temu", "decision_to_entry_median"] == 1.0


def test_automation_figure(ctx):
    s = dsa_peers.automation_figure(ctx)
    assert [b[0] for b in s.blocks] == ["markdown", "figure"]
    assert list(s.data["eea"]["platform_name"]) == ["TikTok", "Temu"]


def test_consistency_against_the_published_reports(ctx):
    s = dsa_peers.consistency(ctx)
    res = s.data["consistency"]
    # 2025 H2 has no stored day: left out; 2026 H1 is reached by January to March only
    assert set(res["period"]) == {H1} and set(res["platform"]) == {"TikTok", "Temu"}
    assert set(res["flag"]) == {"incomplete_archive"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figs = peer_figures(read_peer_reports([REPORTS]))
    tiktok = figs[
        (figs.service == "TikTok") & (figs.period == H1) & (figs.figure == "solely_automated_share")
    ]
    row = res[(res.platform == "TikTok") & (res.figure == "measures")].iloc[0]
    assert row.report_value == tiktok["denominator"].iloc[0] and row.statements_value == 6
    assert "archive incomplete for the period" in list(tables(s)[0]["Flag"])


def test_no_archive_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("GOVLIB_DSA_ARCHIVE", raising=False)
    with pytest.raises(ps.ArchiveError, match="set GOVLIB_DSA_ARCHIVE"):
        open_dsa_context("2026-03")


def test_range_without_stored_days_says_so(tmp_path):
    store = write_archive(tmp_path / "a", planted_statements())  # January to March 2026
    ctx = open_dsa_context("2026-10", months=2, archive=str(store), peers="Temu", peer_reports=str(REPORTS))
    s = dsa_peers.intro(ctx)
    assert "the archive holds no day from 1 Sept 2026 to 31 Oct 2026" in s.text, s.text
    assert s.data["missing"] == ["TikTok", "Temu"]
    assert dsa_peers.headline(ctx).blocks == [] and dsa_peers.monthly(ctx).blocks == []
    assert "No published report" in dsa_peers.consistency(ctx).text
