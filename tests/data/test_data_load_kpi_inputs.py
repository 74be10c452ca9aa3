"""``load_kpi_inputs``: the KPI step's pushed-down load gives the same KPI table as the whole data.

Reference: ``compute_kpis`` on every table read whole (all markets, all months) — the
metric code then selects the market and month itself, so any row the pushed-down load
wrongly drops (or a column it forgets) changes a number or raises.
"""

from __future__ import annotations

import pandas as pd
import pytest

from govlib.data.load import KPI_INPUT_COLUMNS, load_kpi_inputs, load_market_window, open_dataset
from govlib.metrics.kpis import compute_kpis
from govlib.params import load_market
from govlib.timeutil import month_bounds


@pytest.fixture(scope="module")
def ds(demo_dir):
    return open_dataset(demo_dir, "duckdb")


@pytest.fixture(scope="module")
def whole(ds):
    return {name: ds.load(name) for name in KPI_INPUT_COLUMNS if ds.has(name)}


def test_same_kpis_as_whole_tables_for_every_market(ds, whole, ground_truth):
    month = ground_truth["end_month"]
    for market in ground_truth["markets"]:
        tz = load_market(market).timezone
        got = compute_kpis(load_kpi_inputs(ds, market, month, tz), market, month, tz)
        want = compute_kpis(whole, market, month, tz)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=market)
        assert got.set_index("kpi_id").loc["actions_total", "value"] > 0


def test_also_for_an_earlier_month(ds, whole):
    # 2026-07 for GB: the recidivism cohort of 2026-04 and appeals resolved in July
    tz = load_market("GB").timezone
    got = compute_kpis(load_kpi_inputs(ds, "GB", "2026-07", tz), "GB", "2026-07", tz)
    pd.testing.assert_frame_equal(got, compute_kpis(whole, "GB", "2026-07", tz), check_exact=True)


def test_loads_only_the_rows_the_kpis_read(ds, whole, ground_truth):
    month, market = ground_truth["end_month"], "DE"
    tz = load_market(market).timezone
    got = load_kpi_inputs(ds, market, month, tz)
    start, end = month_bounds(month, tz)
    acts = whole["enforcement_actions"]
    removed = acts[
        (acts.market == market)
        & (acts.actioned_at >= start)
        & (acts.actioned_at < end)
        & (acts.action_type == "content_removed")
        & acts.content_id.notna()
    ]
    # content: exactly the removed content, two columns
    assert set(got["content"].content_id) == set(removed.content_id) & set(whole["content"].content_id)
    assert list(got["content"].columns) == ["content_id", "published_at"]
    # far less than the market's content window that load_market_window returns
    window = load_market_window(
        ds, market, month, tz, months_back=3, tables=["enforcement_actions", "content"]
    )
    assert len(got["content"]) * 10 < len(window["content"])
    n = got["notices"]
    assert ((n.handled_at >= start) & (n.handled_at < end)).all() and (n.market == market).all()


def test_appeals_resolved_in_month_but_submitted_long_before_are_kept(ds, whole, ground_truth):
    """An appeal resolved in M counts for overturn_rate whenever it was submitted."""
    a = whole["appeals"]
    a = a[a.resolved_at.notna()]
    lag = a.resolved_at - a.submitted_at
    # the demo has escalated appeals resolved months later (beyond a 3-month window's start)
    assert lag.max() > pd.Timedelta(days=92)
    row = a.loc[lag.idxmax()]
    market = row.market
    tz = load_market(market).timezone
    month = row.resolved_at.tz_convert(tz).strftime("%Y-%m")
    got = load_kpi_inputs(ds, market, month, tz)["appeals"]
    assert row.appeal_id in set(got.appeal_id)


@pytest.mark.parametrize("layout", ["parquet", "partitioned"])
def test_removed_content_of_another_market_is_found(tmp_path, layout):
    # load_kpi_inputs scans the market's own content partition first and the other markets' only
    # for ids not found there: a DE removal of GB content (ct_07) must still count in the 24-hour KPI
    from datasets import MONTH, valid_tables, write_valid_dataset

    tables = valid_tables()
    acts = tables["enforcement_actions"]
    acts.loc[acts["action_id"] == "a_03", "content_id"] = "ct_07"
    write_valid_dataset(tmp_path, layout=layout, tables=tables)
    ds = open_dataset(tmp_path)
    tz = "Europe/Berlin"
    inputs = load_kpi_inputs(ds, "DE", MONTH, tz)
    assert "ct_07" in set(inputs["content"]["content_id"])
    whole = {name: ds.load(name) for name in KPI_INPUT_COLUMNS if ds.has(name)}
    got = compute_kpis(inputs, "DE", MONTH, tz).set_index("kpi_id")
    want = compute_kpis(whole, "DE", MONTH, tz).set_index("kpi_id")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.loc["removed_within_24h_rate", "denominator"] == 2  # a_01 (ct_01) and a_03 (now ct_07)
