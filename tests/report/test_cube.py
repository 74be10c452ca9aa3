"""The report cube built by the engine gives the same numbers as the whole window in pandas.

The cube (``govlib.report.cube``) no longer loads a market's 15-month window into pandas: the
engine writes the tables, keeps only recent and referenced ``content`` and the scores of
labelled content, and counts publications per creator-month and per week. Each test
recomputes a report input the old way (``load_market_window`` with the full window, every
row in pandas) and requires the cube's version to be equal.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from govlib.data.load import load_kpi_inputs, load_market_window, load_signal_evaluation_inputs, open_dataset
from govlib.metrics import effectiveness as m_eff
from govlib.metrics.kpis import compute_kpis
from govlib.params import load_market
from govlib.report.cube import (
    CONTENT_MONTHS_BACK,
    KPI_COLUMNS,
    WINDOW_MONTHS_BACK,
    CubeError,
    build_cube,
    load_cube,
)
from govlib.timeutil import month_bounds, shift_month

MONTH = "2026-10"
MARKET = "DE"  # the market with the planted wave: alarms are not empty


@pytest.fixture(scope="module")
def setting(demo_dir, tmp_path_factory):
    params = load_market(MARKET)
    ds = open_dataset(demo_dir)
    cube = load_cube(build_cube(ds, MARKET, MONTH, params, cache_dir=tmp_path_factory.mktemp("cubes")))
    window = load_market_window(ds, MARKET, MONTH, params.timezone, months_back=WINDOW_MONTHS_BACK)
    return ds, params, cube, window


def test_cube_content_is_recent_or_referenced(setting):
    ds, params, cube, window = setting
    content = cube.table("content")
    recent_start, _ = month_bounds(shift_month(MONTH, -CONTENT_MONTHS_BACK), params.timezone)
    mine = window["content"][window["content"]["market"] == MARKET]
    recent = mine[mine["published_at"] >= recent_start]
    # every recent item is there, and the table is smaller than the window (the point of it)
    assert set(recent["content_id"]) <= set(content["content_id"])
    assert len(content) < len(window["content"])
    old = content[content["published_at"] < recent_start]
    assert len(old) > 0  # referenced older content is kept ...
    referenced = set(window["enforcement_actions"]["content_id"].dropna())
    for t in ("notices", "review_labels"):
        referenced |= set(window[t]["content_id"].dropna())
    assert set(old["content_id"]) <= referenced  # ... and only referenced older content


def test_cube_signal_scores_are_the_labelled_ones(setting):
    ds, params, cube, window = setting
    scores, labels = window["signal_scores"], ds.load("review_labels", market=MARKET)
    expected = scores[scores["content_id"].isin(labels["content_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(cube.table("signal_scores"), expected, check_dtype=False)
    counts = scores.groupby(["signal", "version"]).size().rename("rows").reset_index()
    pd.testing.assert_frame_equal(cube.signal_counts, counts, check_dtype=False)
    assert cube.content_first_published_at == ds.load("content", market=MARKET)["published_at"].min()


def test_cube_kpi_history_equals_month_by_month(setting):
    ds, params, cube, window = setting
    tz = params.timezone
    for month in (shift_month(MONTH, -12), shift_month(MONTH, -6), MONTH):
        expected = compute_kpis(load_kpi_inputs(ds, MARKET, month, tz), MARKET, month, tz)[KPI_COLUMNS]
        got = cube.kpis_for(month)
        assert set(got["status"]) == {"ok"}  # every demo month has data
        pd.testing.assert_frame_equal(
            got[KPI_COLUMNS], expected.reset_index(drop=True), check_dtype=False, rtol=1e-12
        )
    assert sorted(set(cube.kpis["month"])) == [shift_month(MONTH, -k) for k in range(12, -1, -1)]


def test_cube_weekly_series_and_alarms_equal_the_window_computation(setting):
    from govlib.metrics import trends

    ds, params, cube, window = setting
    series = trends.weekly_series_for_month(window, MARKET, MONTH, params.timezone)
    pd.testing.assert_frame_equal(cube.weekly_series, series, check_dtype=False)
    alerts = trends.alerts_for_month(series, MARKET, MONTH, params.alerts)
    assert len(alerts) > 0  # the planted wave
    pd.testing.assert_frame_equal(cube.alerts, alerts, check_dtype=False)


def test_violation_panel_from_cube_activity_equals_full_content(setting):
    ds, params, cube, window = setting
    tz = params.timezone
    full = m_eff.build_violation_panel(
        window["content"],
        window["enforcement_actions"],
        window["creators"],
        tz=tz,
        market=MARKET,
        notices=window["notices"],
    )
    slim = m_eff.build_violation_panel(
        cube.table("content"),
        cube.table("enforcement_actions"),
        cube.table("creators"),
        tz=tz,
        market=MARKET,
        notices=cube.table("notices"),
        activity=cube.activity,
    )
    assert full["activity"].sum() > 0 and full["allegations"].sum() > 0
    pd.testing.assert_frame_equal(slim, full, check_dtype=False)
    # without the activity counts the slim content would undercount: the argument matters
    wrong = m_eff.build_violation_panel(
        cube.table("content"),
        cube.table("enforcement_actions"),
        cube.table("creators"),
        tz=tz,
        market=MARKET,
        notices=cube.table("notices"),
    )
    assert wrong["activity"].sum() < full["activity"].sum()


def test_signal_evaluation_inputs_give_the_full_load_result(setting):
    from govlib.metrics import signals

    ds, params, cube, window = setting
    start, _ = month_bounds(shift_month(MONTH, -5), params.timezone)
    _, end = month_bounds(MONTH, params.timezone)
    scores = ds.load("signal_scores", market=MARKET, start=start, end=end)
    content = ds.load(
        "content",
        market=MARKET,
        start=start - pd.Timedelta(days=31),
        end=end,
        columns=["content_id", "market", "language"],
    )
    labels = ds.load("review_labels", market=MARKET)
    signal = scores["signal"].value_counts().index[0]
    version = sorted(scores.loc[scores["signal"] == signal, "version"].unique())[-1]
    expected = signals.prepare_signal_labels(
        scores, labels, content, signal=signal, version=version, market=MARKET, start=start, end=end
    )
    inputs = load_signal_evaluation_inputs(ds, MARKET, start, end)
    assert len(inputs["signal_scores"]) < len(scores)
    got = signals.prepare_signal_labels(
        inputs["signal_scores"],
        inputs["review_labels"],
        inputs["content"],
        signal=signal,
        version=version,
        market=MARKET,
        start=start,
        end=end,
    )
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected)
    counts = scores.groupby(["signal", "version"]).size()
    assert (
        dict(
            zip(
                zip(inputs["signal_counts"]["signal"], inputs["signal_counts"]["version"]),
                inputs["signal_counts"]["rows"],
            )
        )
        == counts.to_dict()
    )


def test_cube_build_is_byte_identical(setting, tmp_path):
    ds, params, cube, window = setting
    again = build_cube(ds, MARKET, MONTH, params, cache_dir=tmp_path)

    def digest(root):
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))
        }

    first = digest(cube.path)
    assert len(first) >= 10 and first == digest(again)


def test_cube_keeps_content_labelled_after_the_month(tmp_path):
    # a label reviewed after the report month (imported later) still describes content scored in it:
    # GB's ct_12 (published 2025-12, in the window, before M-3, never actioned) must stay in the cube
    # for signal evaluation to know its language; ct_01 (DE, published before the window) must not
    from datasets import MONTH, valid_tables, write_valid_dataset

    tables = valid_tables()
    late = pd.DataFrame(
        {
            "content_id": ["ct_12", "ct_01"],
            "market": ["GB", "DE"],
            "policy": [None, None],
            "is_violating": [False, True],
            "reviewed_at": pd.to_datetime(["2026-12-01T10:00:00Z"] * 2, utc=True),
            "source": ["qa_sample", "qa_sample"],
        }
    )
    tables["review_labels"] = pd.concat(
        [tables["review_labels"], late.astype(tables["review_labels"].dtypes)], ignore_index=True
    )
    write_valid_dataset(tmp_path / "data", layout="partitioned", tables=tables)
    cubes = {}
    for market in ("GB", "DE"):
        cubes[market] = load_cube(build_cube(tmp_path / "data", market, MONTH, cache_dir=tmp_path / "cubes"))
    assert "ct_12" in set(cubes["GB"].table("content")["content_id"])
    de = set(cubes["DE"].table("content")["content_id"])
    assert "ct_01" in de  # acted on in October (a_01): referenced content is kept whenever published
    assert "ct_05" not in de  # published 1 Nov local: after the month, never in the window


def test_cube_expr_is_the_table_on_the_engine(setting):
    _, _, cube, _ = setting
    acts = cube.expr("enforcement_actions")
    assert acts.count().execute() == len(cube.table("enforcement_actions"))
    per_policy = acts.group_by("policy").agg(n=acts.count()).execute().set_index("policy")["n"]
    expected = cube.table("enforcement_actions")["policy"].value_counts()
    assert per_policy.sort_index().tolist() == expected.sort_index().tolist()
    with pytest.raises(Exception, match="not in this dataset"):
        cube.expr("no_such_table")


@pytest.mark.parametrize("tz", ["Europe/Berlin", "UTC", "Pacific/Kiritimati"])
def test_month_rows_give_the_summaries_of_the_whole_window(setting, tz):
    """The notices and appeals sections read one month of rows (any of their time columns in the
    local month) and a few columns of the actions: their summaries equal those of the whole
    window, at every month edge of ``tz``."""
    from govlib.metrics import appeals as m_appeals
    from govlib.metrics import notices as m_notices
    from govlib.report.sections.base import APPEAL_COLUMNS, APPEAL_TIMES, NOTICE_COLUMNS, NOTICE_TIMES

    _, _, cube, _ = setting
    full = cube.table("notices")
    month = cube.month_rows("notices", MONTH, tz, NOTICE_TIMES, NOTICE_COLUMNS)
    assert 0 < len(month) < len(full) / 5
    for fn in (
        lambda t: m_notices.summarize_notice_handling(t, MARKET, MONTH, tz, by="reporter_type"),
        lambda t: m_notices.compare_notice_handling_times(t, MARKET, MONTH, tz),
    ):
        pd.testing.assert_frame_equal(fn(month), fn(full))
    full, actions = cube.table("appeals"), cube.table("enforcement_actions")
    month = cube.month_rows("appeals", MONTH, tz, APPEAL_TIMES, APPEAL_COLUMNS)
    few = cube.table("enforcement_actions", ["action_id", "decision_mode"])
    assert 0 < len(month) < len(full) / 5
    for fn in (
        lambda t, a: m_appeals.summarize_overturns(t, a, MARKET, MONTH, tz, by="decision_mode"),
        lambda t, a: m_appeals.compare_overturn_rates(t, a, MARKET, MONTH, tz),
    ):
        pd.testing.assert_frame_equal(fn(month, few), fn(full, actions))
    with pytest.raises(CubeError, match="not in this dataset"):
        cube.month_rows("no_such_table", MONTH, tz, ["received_at"], ["market"])


def test_rows_in_is_the_content_of_the_scored_items(setting):
    """The signal evaluation reads the content of the scored items only: the same rows, in the
    table's order and with its dtypes, as filtering the whole table in pandas."""
    _, _, cube, _ = setting
    cols = ["content_id", "market", "language"]
    full, scored = cube.table("content", columns=cols), cube.table("signal_scores")["content_id"]
    got = cube.rows_in("content", "content_id", scored, cols)
    expected = full[full["content_id"].isin(set(scored))].reset_index(drop=True)
    assert 0 < len(got) < len(full)
    pd.testing.assert_frame_equal(got, expected)
    none = cube.rows_in("content", "content_id", [], cols)
    assert none.empty and none.dtypes.to_dict() == full.dtypes.to_dict()
