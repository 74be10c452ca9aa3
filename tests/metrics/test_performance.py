"""Content performance: hand-computed fixtures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from govlib.metrics.performance import (
    compare_actioned_content,
    estimate_exposure_to_violations,
    summarise_views_before_action,
)

TZ = "Europe/Berlin"
OCT = pd.Timestamp("2026-10-10", tz="UTC")

CONTENT = pd.DataFrame(
    {
        "content_id": ["k1", "k2", "k3", "k4", "k5", "k6", "k7"],
        "creator_id": ["c1"] * 7,
        "market": ["DE", "DE", "DE", "DE", "DE", "FR", "DE"],
        "published_at": [
            OCT,
            OCT,
            OCT,
            OCT,
            pd.Timestamp("2026-09-30 22:30", tz="UTC"),
            OCT,
            pd.Timestamp("2026-10-31 23:30", tz="UTC"),
        ],  # k5 is Oct in Berlin, k7 Nov
        "product_category": ["beauty", "beauty", "beauty", "electronics", None, "beauty", "beauty"],
        "views": [100, 0, 300, 50, 10, 5, 7],
        "gmv_eur": [10.0, 0.0, 30.0, 60.0, 0.0, 1.0, 1.0],
    }
)
ACTIONS = pd.DataFrame(
    {
        "action_id": ["a1", "a2", "a3", "a4", "a5"],
        "content_id": ["k1", "k1", "k4", None, "k7"],  # k1 actioned twice: one actioned item
        "market": "DE",
        "action_type": [
            "content_removed",
            "warning",
            "content_removed",
            "account_suspended",
            "content_removed",
        ],
        "actioned_at": [OCT, OCT, OCT, OCT, pd.Timestamp("2026-10-31 23:30", tz="UTC")],
        "views_before_action": [0, None, 20, None, 0],
    }
)


def test_compare_actioned_content_by_category():
    out = compare_actioned_content(CONTENT, ACTIONS, market="DE", month="2026-10", tz=TZ).set_index("group")
    assert list(out.index) == ["(none)", "beauty", "electronics"]
    b = out.loc["beauty"]
    assert b["items"] == 3 and b["actioned_items"] == 1
    assert b["views_actioned"] == 100 and b["views_compliant"] == 300
    assert (
        b["median_views_compliant"] == 150
        and b["gmv_compliant_eur"] == 30
        and b["mean_gmv_actioned_eur"] == 10
    )
    lo, hi = proportion_confint(1, 3, method="wilson")
    assert math.isclose(b["ci_low"], lo, rel_tol=1e-12) and math.isclose(b["ci_high"], hi, rel_tol=1e-12)
    assert out.loc["electronics", "actioned_share"] == 1.0
    assert math.isnan(out.loc["electronics", "median_views_compliant"])
    assert out.loc["(none)", "actioned_items"] == 0


def test_gmv_exposed_share_and_interval():
    out = estimate_exposure_to_violations(CONTENT, ACTIONS, market="DE", month="2026-10", tz=TZ).iloc[0]
    # Oct DE items: k1..k5; GMV 10+0+30+60+0 = 100; actioned k1, k4 -> 70
    assert out["numerator"] == 70 and out["denominator"] == 100 and out["value"] == 0.7
    assert out["ci_low"] <= 0.7 <= out["ci_high"]
    views = estimate_exposure_to_violations(
        CONTENT, ACTIONS, market="DE", month="2026-10", tz=TZ, measure="views"
    ).iloc[0]
    assert math.isclose(views["value"], 150 / 460)
    none = estimate_exposure_to_violations(CONTENT, ACTIONS, market="DE", month="2025-01", tz=TZ)
    assert len(none) == 1 and math.isnan(none["value"].iloc[0]) and none["denominator"].iloc[0] == 0


def test_gmv_exposed_interval_covers_truth_by_simulation():
    # heavy-tailed GMV; a fixed population share actioned; the 95% interval of the ratio
    # estimator should cover the superpopulation share sum(E[w y])/sum(E[w]) = 0.2 most of the time
    rng = np.random.default_rng(0)
    cover = 0
    for _rep in range(200):
        n = 400
        gmv = rng.lognormal(2, 1.2, n)
        y = rng.random(n) < 0.2
        c = pd.DataFrame(
            {
                "content_id": [f"k{i}" for i in range(n)],
                "market": "DE",
                "published_at": OCT,
                "views": 1,
                "gmv_eur": gmv,
            }
        )
        a = pd.DataFrame({"content_id": c["content_id"][y]})
        r = estimate_exposure_to_violations(c, a, market="DE", month="2026-10", tz=TZ).iloc[0]
        cover += r["ci_low"] <= 0.2 <= r["ci_high"]
    assert 0.90 <= cover / 200 <= 0.99


def test_views_before_action():
    out = summarise_views_before_action(ACTIONS, market="DE", month="2026-10", tz=TZ).set_index("group")
    # October (Berlin) content_removed with known views: a1 (0), a3 (20); a5 is November locally
    r = out.loc["content_removed"]
    assert r["actions"] == 2 and r["zero_views"] == 1 and r["zero_views_share"] == 0.5
    assert r["p50"] == 10 and r["views_total"] == 20
    assert "warning" not in out.index  # null views_before_action is excluded
    nov = summarise_views_before_action(ACTIONS, market="DE", month="2026-11", tz=TZ, by=None).iloc[0]
    assert nov["actions"] == 1 and nov["zero_views_share"] == 1.0
