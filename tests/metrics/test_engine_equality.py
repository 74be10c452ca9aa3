"""Engine-side health, rewards and performance metrics equal their pandas reference (issue 15).

Each metric runs twice on the demo data of two markets: the engine version on Ibis tables
(DuckDB over the dataset's Parquet, the way reports run it over a cube) and the pandas
implementation it replaced (``tests/metrics/pandas_reference``) on the same rows loaded into
pandas. Counts must be equal, rates and estimates equal to 1e-9. The small demo always; the
medium demo too when ``GOVLIB_TEST_SCALES=small,medium`` (it is generated once, ~1 minute).
"""

from __future__ import annotations

import os

import pytest
from conftest import demo_dataset
from engine_equality import assert_same
from metrics.pandas_reference import health as ref_health
from metrics.pandas_reference import performance as ref_performance
from metrics.pandas_reference import rewards as ref_rewards

from govlib.data.load import open_dataset
from govlib.metrics import health, performance, rewards
from govlib.params import load_market
from govlib.timeutil import month_bounds

MONTH = "2026-10"
MARKETS = ("DE", "GB")
SCALES = [s.strip() for s in os.environ.get("GOVLIB_TEST_SCALES", "small").split(",") if s.strip()]


@pytest.fixture(scope="module", params=SCALES)
def data(request):
    """Per market: the Ibis tables (engine) and the same rows as pandas frames (reference)."""
    ds = open_dataset(demo_dataset(scale=request.param))
    out = {}
    for market in MARKETS:
        mp = load_market(market)
        ibis_t, pandas_t = {}, {}
        for name in ("enforcement_actions", "creators", "appeals", "content", "rewards"):
            t = ds.table(name)
            ibis_t[name] = t.filter(t.market == market)
            pandas_t[name] = ds.load(name, market=market)
        out[market] = (mp, ibis_t, pandas_t)
    return out


def _scores(mp, t, p, market):
    at = month_bounds(MONTH, mp.timezone)[1]
    ledger = health.health_ledger(
        t["enforcement_actions"], t["creators"], at, mp.health, market=market, appeals=t["appeals"]
    )
    want = ref_health.score_health(
        p["enforcement_actions"], p["creators"], at, mp.health, market=market, appeals=p["appeals"]
    )
    return at, ledger, want


@pytest.mark.parametrize("market", MARKETS)
def test_health_ledger_equals_reference(data, market):
    mp, t, p = data[market]
    at, ledger, want = _scores(mp, t, p, market)
    got = health.score_health(
        t["enforcement_actions"], t["creators"], at, mp.health, market=market, appeals=t["appeals"]
    )
    assert_same(got, want)
    assert want["score"].lt(mp.health.start_score).sum() > 10  # creators with live deductions
    assert want["ecommerce_removed"].any()  # a terminal rule is exercised
    assert int(ledger.count().execute()) == len(want)


@pytest.mark.parametrize("market", MARKETS)
def test_health_summaries_equal_reference(data, market):
    mp, t, p = data[market]
    at, ledger, want = _scores(mp, t, p, market)
    for by in (("tier",), ("market", "tier"), ()):
        got = health.summarise_health_distribution(ledger, by=by)
        assert_same(got, ref_health.summarise_health_distribution(want, by=by))
        got = health.share_at_or_below_milestones(ledger, t["content"], mp.health, by=by, at=at)
        ref = ref_health.share_at_or_below_milestones(want, p["content"], mp.health, by=by)
        assert_same(got, ref)
        assert ref["numerator"].sum() > 0


@pytest.mark.parametrize("market", MARKETS)
def test_early_warning_equals_reference(data, market):
    mp, t, p = data[market]
    at, ledger, want = _scores(mp, t, p, market)
    ref_list = ref_health.list_early_warning(want, p["enforcement_actions"], mp.health)
    got_list = health.list_early_warning(ledger, t["enforcement_actions"], mp.health, at=at)
    assert len(ref_list) > 10 and set(ref_list["reason"]) == {"milestone", "repeat_policy"}
    assert_same(got_list, ref_list)
    table = health.early_warning_table(ledger, t["enforcement_actions"], mp.health, at=at)
    assert_same(health.count_early_warning(table, ledger), ref_health.count_early_warning(ref_list, want))
    closest = ref_list.sort_values(["points_to_next", "creator_id"]).head(10).reset_index(drop=True)
    assert_same(health.closest_early_warning(table, mp.health, n=10), closest)


@pytest.mark.parametrize("market", MARKETS)
def test_rewards_equal_reference(data, market):
    mp, t, p = data[market]
    kw = dict(market=market, month=MONTH, tz=mp.timezone)
    for months in (1, 3):
        table = rewards.rewards_penalties_table(
            t["rewards"], t["enforcement_actions"], t["creators"], months=months, **kw
        )
        want = ref_rewards.compare_rewards_penalties(
            p["rewards"], p["enforcement_actions"], p["creators"], months=months, **kw
        )
        got = rewards.compare_rewards_penalties(
            t["rewards"], t["enforcement_actions"], t["creators"], months=months, **kw
        )
        assert_same(got, want)
        assert want["rewarded"].sum() > 10 and (want["rewarded"] & want["penalised"]).sum() > 0
        for by in (("tier",), ()):
            assert_same(
                rewards.summarise_rewards_penalties(table, by=by),
                ref_rewards.summarise_rewards_penalties(want, by=by),
            )
    for by in (None, "tier", "reward_type"):
        for days in (30, 90):
            got = rewards.share_rewarded_with_recent_violations(
                t["rewards"],
                t["enforcement_actions"],
                lookback_days=days,
                creators=t["creators"],
                by=by,
                **kw,
            )
            want = ref_rewards.share_rewarded_with_recent_violations(
                p["rewards"],
                p["enforcement_actions"],
                lookback_days=days,
                creators=p["creators"],
                by=by,
                **kw,
            )
            assert_same(got, want)
            assert want["numerator"].sum() > 0


@pytest.mark.parametrize("market", MARKETS)
def test_content_performance_equals_reference(data, market):
    mp, t, p = data[market]
    kw = dict(market=market, month=MONTH, tz=mp.timezone)
    acts = (t["enforcement_actions"], p["enforcement_actions"])
    for by in ("product_category", "content_type", None):
        got = performance.compare_actioned_content(t["content"], acts[0], by=by, **kw)
        want = ref_performance.compare_actioned_content(p["content"], acts[1], by=by, **kw)
        assert_same(got, want)
        assert want["actioned_items"].sum() > 10
    for measure, by in (("gmv_eur", None), ("views", None), ("gmv_eur", "product_category")):
        got = performance.estimate_exposure_to_violations(t["content"], acts[0], measure=measure, by=by, **kw)
        want = ref_performance.estimate_exposure_to_violations(
            p["content"], acts[1], measure=measure, by=by, **kw
        )
        assert_same(got, want)
        if by is None:  # a real interval around the share, not a degenerate one
            assert want["ci_low"].iloc[0] < want["value"].iloc[0] < want["ci_high"].iloc[0]
