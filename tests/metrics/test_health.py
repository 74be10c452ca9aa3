"""Creator account health: hand-computed fixtures (expiry, milestones, 6-in-90 rule)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from govlib.errors import GovlibError
from govlib.metrics.health import (
    count_early_warning,
    list_early_warning,
    score_health,
    share_at_or_below_milestones,
    summarise_health_distribution,
)
from govlib.params import HealthSettings

T0 = pd.Timestamp("2026-01-01 12:00", tz="UTC")


def _creators(*ids, market="DE", tier="new"):
    return pd.DataFrame(
        {
            "creator_id": list(ids),
            "market": market,
            "tier": tier,
            "registered_at": pd.Timestamp("2025-01-01", tz="UTC"),
            "follower_count": 10,
            "primary_category": "beauty",
        }
    )


def _actions(rows):
    """rows: (creator_id, policy, points, day offset from T0)."""
    return pd.DataFrame(
        [
            {
                "action_id": f"a{i}",
                "creator_id": c,
                "market": "DE",
                "policy": p,
                "health_points": pts,
                "actioned_at": T0 + pd.Timedelta(days=d),
            }
            for i, (c, p, pts, d) in enumerate(rows)
        ],
        columns=["action_id", "creator_id", "market", "policy", "health_points", "actioned_at"],
    )


def test_deduction_expires_exactly_after_window():
    acts = _actions([("c1", "scam_fraud", 30, 0)])
    cr = _creators("c1")
    # 200 - 30 = 170 while the deduction counts
    just_before = score_health(acts, cr, T0 + pd.Timedelta(days=90) - pd.Timedelta(seconds=1))
    assert just_before["score"].iloc[0] == 170
    assert just_before["points_active"].iloc[0] == 30
    # at exactly actioned_at + 90 days it has expired
    exact = score_health(acts, cr, T0 + pd.Timedelta(days=90))
    assert exact["score"].iloc[0] == 200
    assert exact["violations_active"].iloc[0] == 0
    # before the action nothing is deducted
    before = score_health(acts, cr, T0 - pd.Timedelta(seconds=1))
    assert before["score"].iloc[0] == 200


def test_milestone_crossing_and_restriction():
    acts = _actions(
        [
            ("c1", "scam_fraud", 40, 0),
            ("c1", "counterfeit_ip", 10, 1),
            ("c2", "other", 60, 0),
            ("c3", "other", 100, 0),
        ]
    )
    cr = _creators("c1", "c2", "c3", "c4")
    out = score_health(acts, cr, T0 + pd.Timedelta(days=2)).set_index("creator_id")
    # c1: 200-40-10 = 150 -> exactly at milestone 150
    assert out.loc["c1", "score"] == 150
    assert out.loc["c1", "milestone"] == 150
    assert out.loc["c1", "restriction"] == "traffic_limited"
    # c2: 140 -> at or below 150 but above 100
    assert out.loc["c2", "milestone"] == 150
    # c3: 100 -> commission withheld
    assert out.loc["c3", "restriction"] == "commission_withheld"
    # c4: untouched, above every milestone
    assert pd.isna(out.loc["c4", "milestone"]) and out.loc["c4", "restriction"] == "none"
    # one day earlier c1 had only the first action: 160, above 150
    early = score_health(acts, cr, T0 + pd.Timedelta(hours=1)).set_index("creator_id")
    assert early.loc["c1", "score"] == 160 and pd.isna(early.loc["c1", "milestone"])


def test_floor_is_terminal_and_score_clipped():
    acts = _actions([("c1", "scam_fraud", 150, 0), ("c1", "scam_fraud", 150, 10)])
    cr = _creators("c1")
    out = score_health(acts, cr, T0 + pd.Timedelta(days=11))
    assert out["score"].iloc[0] == 0  # 200 - 300 clipped at 0
    assert out["ecommerce_removed"].iloc[0]
    # after both deductions expire the score is back at 200 but removal stays
    later = score_health(acts, cr, T0 + pd.Timedelta(days=200))
    assert later["score"].iloc[0] == 200
    assert later["floor_reached"].iloc[0] and later["restriction"].iloc[0] == "ecommerce_permanently_removed"


def test_six_same_policy_in_90_days_rule():
    # c1: six scam_fraud actions within 89 days -> rule, score still healthy (1 point each)
    # c2: six actions but first and sixth exactly 90 days apart -> no rule
    # c3: six actions of two different policies -> no rule
    days_in = [0, 10, 20, 30, 40, 89]
    days_edge = [0, 10, 20, 30, 40, 90]
    rows = [("c1", "scam_fraud", 1, d) for d in days_in]
    rows += [("c2", "scam_fraud", 1, d) for d in days_edge]
    rows += [("c3", "scam_fraud" if i % 2 else "other", 1, d) for i, d in enumerate(days_in)]
    acts = _actions(rows)
    out = score_health(acts, _creators("c1", "c2", "c3"), T0 + pd.Timedelta(days=100)).set_index("creator_id")
    assert out.loc["c1", "repeat_policy_rule"] and out.loc["c1", "repeat_policy"] == "scam_fraud"
    assert out.loc["c1", "restriction"] == "ecommerce_permanently_removed"
    assert not out.loc["c2", "repeat_policy_rule"] and out.loc["c2", "restriction"] == "none"
    assert not out.loc["c3", "repeat_policy_rule"]
    # before the sixth action c1 is not caught
    before = score_health(acts, _creators("c1"), T0 + pd.Timedelta(days=88))
    assert not before["repeat_policy_rule"].iloc[0]


def test_settings_from_params_are_used():
    st = HealthSettings(
        start_score=100,
        deduction_window_days=30,
        milestones={80: "x", 0: "y"},
        repeat_policy_limit=2,
        repeat_policy_window_days=30,
    )
    acts = _actions([("c1", "other", 25, 0), ("c1", "other", 0, 5)])
    out = score_health(acts, _creators("c1"), T0 + pd.Timedelta(days=6), st)
    assert (
        out["score"].iloc[0] == 75 and out["repeat_policy_rule"].iloc[0] and out["restriction"].iloc[0] == "y"
    )
    out = score_health(acts, _creators("c1"), T0 + pd.Timedelta(days=31), st)  # expired after 30 days
    assert out["score"].iloc[0] == 100


def test_overturned_appeal_removes_deduction_and_unregistered_not_scored():
    acts = _actions([("c1", "other", 50, 0), ("c1", "other", 20, 1)])
    appeals = pd.DataFrame(
        {
            "action_id": ["a0", "a1"],
            "outcome": ["overturned", "partially_overturned"],
            "resolved_at": [T0 + pd.Timedelta(days=3)] * 2,
        }
    )
    cr = pd.concat([_creators("c1"), _creators("late").assign(registered_at=T0 + pd.Timedelta(days=100))])
    out = score_health(acts, cr, T0 + pd.Timedelta(days=5), appeals=appeals)
    assert list(out["creator_id"]) == ["c1"]
    assert out["score"].iloc[0] == 180  # only the partially overturned action counts
    # before the appeal was resolved both count
    out = score_health(acts, cr, T0 + pd.Timedelta(days=2), appeals=appeals)
    assert out["score"].iloc[0] == 130


def test_bad_health_points_is_clear_error():
    acts = _actions([("c1", "other", -5, 0)])
    with pytest.raises(GovlibError, match=r"enforcement_actions.*health_points.*1 row"):
        score_health(acts, _creators("c1"), T0)


def test_share_at_or_below_milestones_active_only_with_wilson():
    # five creators: scores 200, 150, 120, 40 and a dormant one at 40 (no recent content)
    acts = _actions([("c2", "o", 50, 0), ("c3", "o", 80, 0), ("c4", "o", 160, 0), ("c5", "o", 160, 0)])
    cr = _creators("c1", "c2", "c3", "c4", "c5")
    at = T0 + pd.Timedelta(days=1)
    scores = score_health(acts, cr, at)
    content = pd.DataFrame(
        {
            "creator_id": ["c1", "c2", "c3", "c4", "c5"],
            "published_at": [at - pd.Timedelta(days=d) for d in (1, 10, 89, 5, 91)],
        }
    )
    out = share_at_or_below_milestones(scores, content).set_index("milestone")
    assert (out["denominator"] == 4).all()  # c5 dormant (last content 91 days ago)
    assert out.loc[150, "numerator"] == 3 and out.loc[100, "numerator"] == 1 and out.loc[50, "numerator"] == 1
    assert out.loc[0, "numerator"] == 0
    lo, hi = proportion_confint(3, 4, method="wilson")
    assert out.loc[150, "value"] == 0.75
    assert math.isclose(out.loc[150, "ci_low"], lo, rel_tol=1e-12) and math.isclose(
        out.loc[150, "ci_high"], hi
    )
    # no active creator -> NaN, never 0
    empty = share_at_or_below_milestones(scores, content.iloc[0:0])
    assert empty["value"].isna().all() and (empty["denominator"] == 0).all()


def test_early_warning_milestone_and_repeat():
    # typical violation: 20 points (fixed). c1 at 165 -> 145 <= 150: warn. c2 at 175 -> 155: no.
    # c3 has five scam_fraud actions in 90 days (one more triggers the rule)
    rows = [("c1", "o", 35, 0), ("c2", "o", 25, 0)] + [("c3", "scam_fraud", 0, d) for d in (0, 5, 10, 15, 20)]
    acts = _actions(rows)
    scores = score_health(acts, _creators("c1", "c2", "c3", "c4"), T0 + pd.Timedelta(days=21))
    w = list_early_warning(scores, acts, typical_points=20)
    assert set(zip(w["creator_id"], w["reason"])) == {("c1", "milestone"), ("c3", "repeat_policy")}
    row = w[w["creator_id"] == "c1"].iloc[0]
    assert row["next_milestone"] == 150 and row["points_to_next"] == 15
    assert w[w["creator_id"] == "c3"]["policy_count"].iloc[0] == 5
    # default typical points: median of positive points (35, 25) = 30 -> c2 (175-30=145) warned too
    w2 = list_early_warning(scores, acts)
    assert set(w2.loc[w2["reason"] == "milestone", "creator_id"]) == {"c1", "c2"}
    counts = count_early_warning(w, scores).set_index("reason")
    assert counts.loc["any", "creators"] == 2 and counts.loc["any", "denominator"] == 4
    assert counts.loc["milestone", "share"] == 0.25


def test_distribution_summary():
    acts = _actions([("c1", "o", 100, 0), ("c2", "o", 50, 0)])
    cr = pd.concat([_creators("c1", "c2", tier="new"), _creators("c3", tier="top")])
    scores = score_health(acts, cr, T0 + pd.Timedelta(days=1))
    d = summarise_health_distribution(scores).set_index("tier")
    assert d.loc["new", "creators"] == 2 and d.loc["new", "mean"] == 125 and d.loc["new", "p50"] == 125
    assert (
        d.loc["new", "min"] == 100 and d.loc["new", "below_start"] == 2 and d.loc["top", "below_start"] == 0
    )
    overall = summarise_health_distribution(scores, by=())
    assert overall["creators"].iloc[0] == 3 and overall["mean"].iloc[0] == 150  # (100 + 150 + 200) / 3


@settings(max_examples=20, deadline=None)  # each example runs two engine queries
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from(["scam_fraud", "other"]),
            st.integers(0, 120),
            st.integers(0, 200),
        ),
        max_size=25,
    ),
    st.randoms(use_true_random=False),
)
def test_properties_bounds_and_row_order(rows, rnd):
    acts = _actions(rows)
    cr = _creators("c1", "c2", "c3")
    at = T0 + pd.Timedelta(days=150)
    a = score_health(acts, cr, at)
    shuffled = acts.sample(frac=1.0, random_state=rnd.randint(0, 10_000)) if len(acts) else acts
    b = score_health(shuffled, cr.iloc[::-1], at)
    pd.testing.assert_frame_equal(a, b)
    assert a["score"].between(0, 1000).all()
    # score is start minus live points, clipped: recompute directly
    for cid, score in zip(a["creator_id"], a["score"], strict=True):
        live = sum(p for c, _, p, d in rows if c == cid and 150 - 90 < d <= 150)
        assert score == max(0, 200 - live)


def test_demo_scores_match_direct_computation(demo_dir):
    from govlib.data.load import open_dataset
    from govlib.params import load_market
    from govlib.timeutil import month_bounds

    ds = open_dataset(demo_dir)
    de = load_market("DE")
    _, at = month_bounds("2026-10", de.timezone)
    at = at - pd.Timedelta(microseconds=1)
    acts = ds.load("enforcement_actions", market="DE")
    creators = ds.load("creators", market="DE")
    scores = score_health(acts, creators, at, de.health, market="DE")
    # direct: start minus points of actions in (at - 90 d, at], clipped at 0
    win = acts[(acts["actioned_at"] > at - pd.Timedelta(days=90)) & (acts["actioned_at"] <= at)]
    direct = (200 - win.groupby("creator_id")["health_points"].sum()).clip(lower=0)
    got = scores.set_index("creator_id")["score"]
    assert (got.reindex(direct.index) == direct).all()
    assert (got.drop(direct.index, errors="ignore") == 200).all()
    assert scores["score"].lt(200).sum() > 50  # the demo has creators with live deductions
    content = ds.load("content", market="DE", columns=["creator_id", "published_at"])
    shares = share_at_or_below_milestones(scores, content, de.health)
    assert shares["value"].is_monotonic_decreasing  # lower milestones hold fewer creators
    w = list_early_warning(scores, acts, de.health)
    assert not w.empty and (w["score"] > w["next_milestone"]).all()


def _rolling_max_reference(df, keys, value, days):
    # the definition: pandas' time-based rolling window per group (the implementation before vectorising)
    d = df.sort_values([*keys, "actioned_at", "action_id"])[[*keys, "actioned_at", value]]
    d = d.assign(actioned_at=d["actioned_at"].dt.tz_convert("UTC").dt.tz_localize(None))
    rolled = d.groupby(keys, sort=True).rolling(f"{days}D", on="actioned_at", closed="right")[value].sum()
    return rolled.groupby(level=list(range(len(keys)))).max()


def test_engine_rolling_windows_equal_pandas_rolling_windows():
    import ibis

    from govlib.metrics.expr import rolling_sum

    rng = np.random.default_rng(3)
    n = 4000
    base = pd.Timestamp("2026-01-01", tz="UTC")
    # whole days and hours so that many actions sit exactly on a window edge or share a timestamp
    t = (
        base
        + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 3, n), unit="h")
    )
    df = pd.DataFrame(
        {
            "action_id": [f"a{i:05d}" for i in range(n)],
            "creator_id": rng.choice([f"c{i}" for i in range(150)], n),
            "policy": rng.choice(["p1", "p2", "p3"], n),
            "actioned_at": t,
            "health_points": rng.choice([0, 2, 4, 10, 25], n).astype(float),
        }
    )
    df["one"] = 1.0
    edge = df["actioned_at"] - pd.Timedelta(days=90)
    assert df["actioned_at"].isin(edge).any()  # exact window edges occur
    for keys, value, days in ((["creator_id"], "health_points", 90), (["creator_id", "policy"], "one", 30)):
        tab = ibis.memtable(df)
        rolled = tab.mutate(_w=rolling_sum(tab, tab[value], keys, "actioned_at", days))
        got = rolled.group_by(keys).agg(_w=rolled._w.max()).execute().set_index(keys)["_w"].sort_index()
        want = _rolling_max_reference(df, keys, value, days)
        pd.testing.assert_series_equal(got.astype(float), want, check_names=False)
        assert got.max() > got.min()
