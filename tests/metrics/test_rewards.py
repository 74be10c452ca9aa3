"""Rewards and penalties: hand-computed fixtures, scipy/statsmodels references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from govlib.metrics.rewards import (
    compare_rewards_penalties,
    estimate_reward_change_after_violation,
    share_rewarded_with_recent_violations,
    summarise_rewards_penalties,
)

TZ = "Europe/Berlin"


def _ts(s):
    return pd.Timestamp(s, tz="UTC")


CREATORS = pd.DataFrame(
    {
        "creator_id": ["c1", "c2", "c3", "c4", "f1"],
        "market": ["DE", "DE", "DE", "DE", "FR"],
        "tier": ["new", "new", "top", "top", "new"],
        "registered_at": _ts("2025-01-01"),
    }
)

REWARDS = pd.DataFrame(
    {
        "reward_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
        "creator_id": ["c1", "c1", "c2", "c3", "f1", "c3"],
        "market": ["DE", "DE", "DE", "DE", "FR", "DE"],
        "granted_at": [
            _ts("2026-10-05"),
            _ts("2026-10-20"),
            _ts("2026-10-10"),
            _ts("2026-10-31 23:30"),
            _ts("2026-10-10"),
            _ts("2026-09-30 22:30"),
        ],  # r4 -> Nov in Berlin, r6 -> Oct in Berlin
        "reward_type": [
            "cash_incentive",
            "badge",
            "cash_incentive",
            "traffic_boost",
            "badge",
            "commission_boost",
        ],
        "value_eur": [100.0, 0.0, 50.0, 30.0, 10.0, 20.0],
    }
)

ACTIONS = pd.DataFrame(
    {
        "action_id": ["a1", "a2", "a3", "a4", "a5"],
        "creator_id": ["c1", "c2", "c4", "c4", "f1"],
        "market": ["DE", "DE", "DE", "DE", "FR"],
        "action_type": ["warning", "content_removed", "account_suspended", "warning", "warning"],
        "health_points": [5, 20, 80, 5, 5],
        # a1: 60 days before r1 (recent); a2: 95 days before r3 (not recent, lookback 90) ; a3/a4 in Oct
        "actioned_at": [
            _ts("2026-08-06"),
            _ts("2026-07-07"),
            _ts("2026-10-02"),
            _ts("2026-10-03"),
            _ts("2026-10-01"),
        ],
    }
)


def test_compare_and_summarise_per_tier():
    pc = compare_rewards_penalties(REWARDS, ACTIONS, CREATORS, market="DE", month="2026-10", tz=TZ).set_index(
        "creator_id"
    )
    assert list(pc.index) == ["c1", "c2", "c3", "c4"]  # FR creator excluded
    assert pc.loc["c1", "rewards"] == 2 and pc.loc["c1", "rewards_value_eur"] == 100
    assert pc.loc["c3", "rewards_value_eur"] == 20  # r6 is October locally; r4 November
    assert (
        pc.loc["c4", "actions"] == 2
        and pc.loc["c4", "sanctions"] == 1
        and pc.loc["c4", "health_points"] == 85
    )
    assert pc.loc["c1", "actions"] == 0  # a1 is August
    s = summarise_rewards_penalties(pc.reset_index()).set_index("tier")
    assert s.loc["top", "creators"] == 2 and s.loc["top", "rewarded"] == 1 and s.loc["top", "penalised"] == 1
    assert s.loc["top", "rewarded_and_penalised"] == 0 and s.loc["top", "value_share_to_penalised"] == 0
    assert s.loc["new", "mean_reward_per_rewarded_eur"] == 75  # (100 + 50) / 2
    # quarter Aug-Oct: c1 penalised (a1, August) and rewarded 100; c2's action a2 is July -> 100 of 150
    q = compare_rewards_penalties(REWARDS, ACTIONS, CREATORS, market="DE", month="2026-10", tz=TZ, months=3)
    sq = summarise_rewards_penalties(q).set_index("tier")
    assert (
        sq.loc["new", "value_share_to_penalised"] == 100 / 150
        and sq.loc["new", "rewarded_and_penalised"] == 1
    )


def test_share_rewarded_with_recent_violations():
    out = share_rewarded_with_recent_violations(REWARDS, ACTIONS, market="DE", month="2026-10", tz=TZ).iloc[0]
    # rewarded in Oct (Berlin): c1 (r1, r2), c2 (r3), c3 (r6) -> 3; recent violation: c1 only (a2 is 95 days old)
    assert out["denominator"] == 3 and out["numerator"] == 1
    lo, hi = proportion_confint(1, 3, method="wilson")
    assert math.isclose(out["ci_low"], lo, rel_tol=1e-12) and math.isclose(out["ci_high"], hi, rel_tol=1e-12)
    assert out["value_eur_total"] == 170 and out["value_eur_to_violators"] == 100
    assert math.isclose(out["value_share"], 100 / 170)
    wide = share_rewarded_with_recent_violations(
        REWARDS, ACTIONS, market="DE", month="2026-10", tz=TZ, lookback_days=100
    ).iloc[0]
    assert wide["numerator"] == 2
    tiers = share_rewarded_with_recent_violations(
        REWARDS, ACTIONS, market="DE", month="2026-10", tz=TZ, creators=CREATORS, by="tier"
    ).set_index("group")
    assert tiers.loc["new", "denominator"] == 2 and tiers.loc["top", "numerator"] == 0
    empty = share_rewarded_with_recent_violations(REWARDS, ACTIONS, market="DE", month="2025-01", tz=TZ).iloc[
        0
    ]
    assert empty["denominator"] == 0 and math.isnan(empty["value"])


def test_reward_change_after_first_violation_matches_scipy():
    rng = np.random.default_rng(5)
    rows_r, rows_a, before, after = [], [], [], []
    start, end = _ts("2025-01-01"), _ts("2026-12-31")
    for i in range(40):
        t0 = _ts("2025-06-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        rows_a.append({"creator_id": f"c{i}", "market": "DE", "actioned_at": t0})
        b, a = float(rng.integers(0, 5) * 10), float(rng.integers(0, 3) * 10)
        before.append(b)
        after.append(a)
        if b:
            rows_r.append(
                {
                    "creator_id": f"c{i}",
                    "market": "DE",
                    "granted_at": t0 - pd.Timedelta(days=30),
                    "value_eur": b,
                }
            )
        if a:
            rows_r.append(
                {
                    "creator_id": f"c{i}",
                    "market": "DE",
                    "granted_at": t0 + pd.Timedelta(days=30),
                    "value_eur": a,
                }
            )
        # outside both windows: ignored
        rows_r.append(
            {
                "creator_id": f"c{i}",
                "market": "DE",
                "granted_at": t0 + pd.Timedelta(days=120),
                "value_eur": 999.0,
            }
        )
    # a creator first actioned too close to the data end is left out
    rows_a.append({"creator_id": "late", "market": "DE", "actioned_at": end - pd.Timedelta(days=10)})
    res = estimate_reward_change_after_violation(
        pd.DataFrame(rows_r), pd.DataFrame(rows_a), data_start=start, data_end=end
    ).iloc[0]
    b, a = np.array(before), np.array(after)
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval()
    assert res["creators"] == 40
    assert math.isclose(res["difference_eur"], (a - b).mean(), rel_tol=1e-12)
    assert math.isclose(res["ci_low"], ci.low, rel_tol=1e-9) and math.isclose(
        res["p_value"], ref.pvalue, rel_tol=1e-9
    )
    assert math.isclose(res["ratio_after_before"], a.sum() / b.sum(), rel_tol=1e-12)
    assert math.isclose(res["share_rewarded_before"], (b > 0).mean())
