"""The weekly alarm series' action counts on the engine equal today's pandas counts (issue 15).

:func:`govlib.report.cube.weekly_action_counts_expr` counts actions per policy (and content
type) and local week in the engine; :func:`govlib.metrics.trends.build_weekly_series` then only
assembles the series. The counts are compared with the series the pandas path builds from the
market's whole window (every action in pandas), exactly, on the small demo and on the scales of
``GOVLIB_TEST_SCALES`` (e.g. ``small,medium``). The cube's series and alarms themselves are
compared with the window computation in ``test_cube.py``.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import DEMO_END_MONTH, demo_dataset

from govlib.data.load import load_market_window, open_dataset
from govlib.metrics.trends import build_weekly_series
from govlib.params import load_market
from govlib.report.cube import WINDOW_MONTHS_BACK, weekly_action_counts_expr
from govlib.timeutil import shift_month

SCALES = sorted(set(os.environ.get("GOVLIB_TEST_SCALES", "small").split(",")) | {"small"})
KEYS = ["policy", "content_type", "week_start"]


def reference_counts(ds, market: str, start: str, end: str) -> pd.DataFrame:
    """Non-zero weeks of the pandas series over the market's window: the counts the engine must give."""
    tz = load_market(market).timezone
    w = load_market_window(
        ds,
        market,
        DEMO_END_MONTH,
        tz,
        months_back=WINDOW_MONTHS_BACK,
        tables=("enforcement_actions", "content"),
    )
    s = build_weekly_series(w["enforcement_actions"], w["content"], market, tz, start=start, end=end)
    s = s[s["observed"] > 0].assign(week_start=s["week_start"].dt.strftime("%Y-%m-%d"))
    return s[[*KEYS, "observed", "creators"]].sort_values(KEYS).reset_index(drop=True)


def engine_counts(ds, market: str, start: str, end: str) -> pd.DataFrame:
    tz = load_market(market).timezone
    got = weekly_action_counts_expr(
        ds.table("enforcement_actions"), ds.table("content"), market, tz, start, end
    )
    got = got.execute()
    got[["observed", "creators"]] = got[["observed", "creators"]].astype("int64")
    return got.astype({k: object for k in KEYS}).sort_values(KEYS).reset_index(drop=True)


@pytest.mark.parametrize("scale", SCALES)
def test_weekly_action_counts_equal_pandas_series(scale):
    ds = open_dataset(demo_dataset(scale=scale))
    end = f"{shift_month(DEMO_END_MONTH, 1)}-01"
    for market, start in (("DE", "2025-07-03"), ("GB", "2026-01-01")):  # a Thursday: a cut first week
        ref, got = reference_counts(ds, market, start, end), engine_counts(ds, market, start, end)
        assert (ref["content_type"] == "all").any() and (ref["content_type"] != "all").any()
        pd.testing.assert_frame_equal(got, ref.astype({k: object for k in KEYS}), check_dtype=False)
        weeks = pd.to_datetime(got["week_start"])
        assert (weeks.dt.dayofweek == 0).all() and weeks.min() >= pd.Timestamp(start) - pd.Timedelta(days=6)
