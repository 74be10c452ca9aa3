"""Sections of the EMEA roll-up, without a kernel, on the small demo data (every market)."""

from __future__ import annotations

import pytest
import yaml

from govlib import config
from govlib.report.sections import emea_overview, open_rollup_context

from .conftest import MONTH, local_month_rows, read_table, tables

SECTIONS = ["intro", "headline", "ranking", "notable_changes", "emerging_risks", "regimes"]
GERMAN = {  # a msgstr of locales/de_DE each section must show
    "intro": "EMEA-Überblick",
    "headline": "Zentrale Kennzahlen nach Markt",
    "ranking": "Rangfolge",
    "notable_changes": "Auffällige Veränderungen zum Vormonat",
    "emerging_risks": "Aufkommende Risiken in allen Märkten",
    "regimes": "Regulatorische Rahmen",
}
MARKETS = ["DE", "ES", "FR", "GB", "IE", "IT", "PL"]


@pytest.mark.parametrize("name", SECTIONS)
def test_text_is_translated_in_german(name, rollup_en, rollup_de, assert_translated):
    assert_translated(
        getattr(emea_overview, name)(rollup_en), getattr(emea_overview, name)(rollup_de), GERMAN[name]
    )


def test_intro_names_failed_markets_only_when_some_failed(rollup_en, demo_dir):
    s = emea_overview.intro(rollup_en)
    assert s.text.startswith("# EMEA overview: October 2026") and s.data["no_data"] == []
    assert "Not included" not in s.text
    failed = open_rollup_context(
        MONTH, markets="DE,GB", failed_markets="IT", data_dir=str(demo_dir), lang="en_GB"
    )
    assert "**Not included:** the reports of IT failed this month" in emea_overview.intro(failed).text


def test_headline_has_a_column_per_market_with_its_action_count(rollup_en, demo_dir):
    (df,) = tables(emea_overview.headline(rollup_en))
    assert list(df.columns) == ["Indicator", *MARKETS]
    row = df.set_index("Indicator").loc["Enforcement actions"]
    for m in ("DE", "GB"):
        tz = rollup_en.extra["market_params"][m].timezone
        n = len(local_month_rows(read_table(demo_dir, "enforcement_actions", m), "actioned_at", tz))
        assert row[m] == rollup_en.fmt.count(n), m  # the roll-up formats in en_GB (1,234)


def test_ranking_ranks_every_market_on_the_watched_indicators(rollup_en):
    s = emea_overview.ranking(rollup_en)
    ranks = s.data["ranks"]
    assert set(ranks["kpi_id"]) == set(emea_overview.WATCHED)
    assert set(ranks["market"]) <= set(MARKETS) and [b[0] for b in s.blocks].count("figure") == 1


@pytest.mark.parametrize("ctx_name", ["rollup_en", "rollup_de"])
def test_ranking_panels_labels_do_not_run_into_each_other(ctx_name, request):
    (fig,) = [
        b[1] for b in emea_overview.ranking(request.getfixturevalue(ctx_name)).blocks if b[0] == "figure"
    ]
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)  # constrained layout places the labels on drawing
    for left, right in zip(fig.axes, fig.axes[1:]):
        for a, b in ((left.title, right.title), (left.xaxis.label, right.xaxis.label)):
            box_a, box_b = a.get_window_extent(renderer), b.get_window_extent(renderer)
            assert box_a.x1 <= box_b.x0, (a.get_text(), b.get_text())
    assert all(ax.xaxis.label.get_window_extent(renderer).x1 <= fig.bbox.x1 for ax in fig.axes)


def test_notable_changes_are_the_flagged_comparisons(rollup_en):
    s = emea_overview.notable_changes(rollup_en)
    flagged = s.data["changes"][s.data["changes"]["flagged"]]
    (df,) = tables(s)
    assert len(df) == len(flagged) > 0 and (flagged["qvalue"] < 0.05).all()
    assert df["q-value"].tolist() == [f"{q:.3f}" for q in flagged.sort_values(["market", "kpi_id"])["qvalue"]]
    assert list(df["Market"]) == sorted(df["Market"])


def test_emerging_risks_one_row_per_series_with_the_planted_wave(rollup_en, ground_truth):
    wave = ground_truth["emerging_wave"]
    s = emea_overview.emerging_risks(rollup_en)
    (df,) = tables(s)
    alerts = s.data["alerts"]
    series = alerts.groupby(["market", "policy", "content_type"]).size()
    assert len(df) == min(15, len(series))
    assert (
        (df["Market"] == wave["market"])
        & (df["Policy"] == "Scam or fraud")
        & (df["Content type"] == wave["content_type"].capitalize())
    ).sum() == 1
    if len(series) <= 15:
        assert sum(int(w) for w in df["Weeks alarmed"]) == len(alerts)


def test_regimes_come_from_the_market_params(rollup_en):
    (df,) = tables(emea_overview.regimes(rollup_en))
    for _i, row in df.iterrows():
        raw = yaml.safe_load(
            (config.PROJECT_ROOT / "params" / "markets" / f"{row['Market']}.yaml").read_text()
        )
        assert (row["Name"], row["Regime"], row["Time zone"]) == (
            raw["name"],
            raw["regime"].replace("_", " "),
            raw["timezone"],
        )


def test_rollup_reads_the_cubes_it_is_given(rollup_en, tmp_path):
    """``govlib run`` passes the markets' own cubes: the roll-up opens them and builds nothing,
    even where ``data_dir`` could not build one (e.g. the code changed during the batch)."""
    from govlib.report.cube import CubeError

    de, gb = (rollup_en.extra["cubes"][m].path for m in ("DE", "GB"))
    empty = tmp_path / "no-data"
    empty.mkdir()
    ctx = open_rollup_context(
        MONTH, markets="DE,GB", data_dir=str(empty), lang="en_GB", cube_paths=f"{gb},{de}"
    )
    assert {m: c.path for m, c in ctx.extra["cubes"].items()} == {"DE": de, "GB": gb}
    with pytest.raises(CubeError, match="is for DE 2026-10, not DE 2026-09"):
        open_rollup_context("2026-09", markets="DE", data_dir=str(empty), cube_paths=str(de))
