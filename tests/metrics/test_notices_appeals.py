"""Notice handling by reporter type and overturn rates by decision mode."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from kpi_tables import TZ  # the hand-computed fixture; `tables` is in conftest.py
from scipy import stats as sps

from govlib import stats
from govlib.metrics.appeals import compare_overturn_rates, summarize_overturns
from govlib.metrics.kpis import compute_kpis
from govlib.metrics.notices import compare_notice_handling_times, summarize_notice_handling


def _row(df, group):
    return df.set_index("group").loc[group]


def test_notice_handling_hand_computed(tables):  # noqa: F811
    out = summarize_notice_handling(tables["notices"], "DE", "2026-10", TZ)
    assert out["group"].tolist() == ["authority", "trusted_flagger", "user", "(all)"]
    # user: received in Oct local n1 n3 n4 n6 (n5 received Sep 29); handled in Oct n1 n3 n5 (n4 handled Nov
    # local, n6 pending); actioned n1 (10 h) n5 (46.5 h) -> median 28.25; handling 10, 1, 46.5 -> median 10
    u = _row(out, "user")
    assert (u.received, u.handled, u.actioned) == (4, 3, 2)
    assert u.actioned_rate == pytest.approx(2 / 3)
    assert (u.ci_low, u.ci_high) == pytest.approx(stats.proportion_interval(2, 3), abs=1e-12)
    assert (u.median_hours_to_action, u.median_hours_to_handle) == (28.25, 10.0)
    tf = _row(out, "trusted_flagger")
    assert (tf.received, tf.handled, tf.actioned, tf.median_hours_to_action) == (1, 1, 1, 30.0)
    a = _row(out, "(all)")
    assert (a.received, a.handled, a.actioned) == (6, 5, 4)
    # the "(all)" row is the KPI
    k = compute_kpis(tables, "DE", "2026-10", TZ).set_index("kpi_id")
    assert a.median_hours_to_action == k.at["notice_median_hours_to_action", "value"] == 20.0


def test_notice_handling_empty_month(tables):  # noqa: F811
    out = summarize_notice_handling(tables["notices"], "DE", "2025-01", TZ)
    assert out["group"].tolist() == ["(all)"]
    assert out.iloc[0]["handled"] == 0 and math.isnan(out.iloc[0]["actioned_rate"])
    assert math.isnan(out.iloc[0]["median_hours_to_action"])


def _notices(tf_hours, user_hours):
    rows = []
    for kind, hours in (("trusted_flagger", tf_hours), ("user", user_hours)):
        for i, h in enumerate(hours):
            rec = pd.Timestamp("2026-10-05T00:00Z") + pd.Timedelta(hours=i)
            rows.append(
                (f"{kind}{i}", "DE", kind, "scam_fraud", "actioned", rec, rec + pd.Timedelta(hours=h))
            )
    return pd.DataFrame(
        rows,
        columns=["notice_id", "market", "reporter_type", "policy", "outcome", "received_at", "handled_at"],
    )


def test_trusted_flaggers_faster():
    # TF 1..5 h, users 10..50 h: every TF notice is faster, U = 0, exact one-sided p = 1/C(10,5) = 1/252
    out = compare_notice_handling_times(_notices([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]), "DE", "2026-10", TZ)
    r = out.iloc[0]
    assert (r.n_group, r.n_reference, r.median_hours_group, r.median_hours_reference) == (5, 5, 3.0, 30.0)
    assert r.statistic == 0.0
    assert r.pvalue == pytest.approx(1 / 252, abs=1e-12)
    # no trusted-flagger notice -> NaN, no error
    out = compare_notice_handling_times(_notices([], [10, 20]), "DE", "2026-10", TZ)
    assert math.isnan(out.iloc[0]["pvalue"]) and out.iloc[0]["n_group"] == 0


def test_trusted_flaggers_matches_scipy_on_ties():
    rng = np.random.default_rng(2)
    tf = np.round(rng.exponential(5, 30))
    us = np.round(rng.exponential(9, 60))
    r = compare_notice_handling_times(_notices(tf, us), "DE", "2026-10", TZ).iloc[0]
    ref = sps.mannwhitneyu(tf, us, alternative="less")
    assert r.pvalue == pytest.approx(ref.pvalue, abs=1e-9)


def test_overturns_hand_computed(tables):  # noqa: F811
    out = summarize_overturns(tables["appeals"], tables["enforcement_actions"], "DE", "2026-10", TZ)
    # decided in Oct local: p1 (a1 automated, overturned, 48 h), p2 (a2 human, upheld, 12 h),
    # p4 (a0 not among the actions -> unknown, partially overturned, 288 h)
    assert out["group"].tolist() == ["(unknown)", "automated", "human", "(all)"]
    assert _row(out, "automated")[["decided", "overturned", "overturn_rate"]].tolist() == [1, 1, 1.0]
    assert _row(out, "human")[["decided", "overturned", "overturn_rate"]].tolist() == [1, 0, 0.0]
    a = _row(out, "(all)")
    assert (a.decided, a.overturned, a.median_hours_to_resolve) == (3, 2, 48.0)
    k = compute_kpis(tables, "DE", "2026-10", TZ).set_index("kpi_id")
    assert a.overturn_rate == k.at["overturn_rate", "value"]
    assert (a.ci_low, a.ci_high) == (k.at["overturn_rate", "ci_low"], k.at["overturn_rate", "ci_high"])
    by_channel = summarize_overturns(
        tables["appeals"].assign(channel="internal_complaint"), None, "DE", "2026-10", TZ, by="channel"
    )
    assert by_channel["group"].tolist() == ["internal_complaint", "(all)"]
    with pytest.raises(ValueError, match="needs the enforcement_actions"):
        summarize_overturns(tables["appeals"], None, "DE", "2026-10", TZ)


def _appeal_data(auto, human):
    """auto/human = (decided, overturned) for appeals resolved in October 2026."""
    acts, apps = [], []
    for mode, (n, k) in (("automated", auto), ("human", human)):
        for i in range(n):
            aid = f"{mode}{i}"
            acts.append((aid, "DE", mode))
            sub = pd.Timestamp("2026-10-02T00:00Z") + pd.Timedelta(hours=i)
            apps.append(
                (
                    f"p{aid}",
                    aid,
                    "DE",
                    "internal_complaint",
                    sub,
                    sub + pd.Timedelta(hours=30),
                    "overturned" if i < k else "upheld",
                )
            )
    actions = pd.DataFrame(acts, columns=["action_id", "market", "decision_mode"])
    appeals = pd.DataFrame(
        apps,
        columns=["appeal_id", "action_id", "market", "channel", "submitted_at", "resolved_at", "outcome"],
    )
    return appeals, actions


def test_automation_overturned_more_often():
    appeals, actions = _appeal_data(auto=(30, 12), human=(40, 4))
    r = compare_overturn_rates(appeals, actions, "DE", "2026-10", TZ).iloc[0]
    assert (r.overturn_rate_mode, r.overturn_rate_reference) == (0.4, 0.1)
    # R: prop.test(c(12, 4), c(30, 40), correct = FALSE)
    chi2 = sps.chi2_contingency(np.array([[12, 18], [4, 36]]), correction=False)
    assert r.pvalue == pytest.approx(chi2.pvalue, abs=1e-12)
    assert r.recalibrate
    # the other way round: automation better -> no recalibration flag even if significant
    appeals, actions = _appeal_data(auto=(40, 4), human=(30, 12))
    r = compare_overturn_rates(appeals, actions, "DE", "2026-10", TZ).iloc[0]
    assert r.pvalue < 0.05 and not r.recalibrate
    # no human decisions appealed -> NaN, not flagged
    appeals, actions = _appeal_data(auto=(10, 5), human=(0, 0))
    r = compare_overturn_rates(appeals, actions, "DE", "2026-10", TZ).iloc[0]
    assert math.isnan(r.pvalue) and not r.recalibrate
