"""The policy replay (govlib.analyses.simulate): identity, monotonicity, planted truth, hand-computed rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from datasets import valid_tables
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics.pandas_reference_effectiveness import (
    build_recidivism_table,  # the population, computed independently
)

from govlib import config
from govlib.analyses import simulate as sim
from govlib.params import Proposal, load_market, load_proposal
from govlib.timeutil import to_utc

PROPOSALS = config.PARAMS_DIR / "proposals"


@pytest.fixture(scope="module")
def de_inputs(demo_dir):
    return sim.load_inputs(demo_dir, load_market("DE"), "2026-10")


# ------------------------------------------------------------------------------------- identity


@pytest.mark.parametrize("proposal", ["de_current.yaml", None])
def test_identity_proposal_gives_every_delta_exactly_zero(de_inputs, proposal):
    prop = load_proposal(PROPOSALS / proposal, de_inputs.market) if proposal else Proposal(name="nothing")
    out = sim.simulate(de_inputs, prop)
    delta = out[out["scenario"] == "delta"]
    assert len(delta) >= 40 and delta["available"].all()
    assert (delta["value"] == 0.0).all(), delta.loc[delta["value"] != 0, ["metric", "value"]]
    # the projection's delta is exactly 0 with a zero-width interval (nothing moved)
    proj = delta[delta["metric"] == "reoffence_rate_90d"].iloc[0]
    assert (proj["ci_low"], proj["ci_high"]) == (0.0, 0.0)
    cur = out[out["scenario"] == "current"].set_index("metric")["value"]
    assert cur["creators_restricted:any"] > 0 and cur["actions:warning"] > 0  # not an empty replay


def test_a_changed_proposal_moves_the_metrics_it_touches(de_inputs):
    prop = load_proposal(PROPOSALS / "de_stricter_milestones.yaml", de_inputs.market)
    out = sim.simulate(de_inputs, prop)
    d = out[out["scenario"] == "delta"].set_index("metric")["value"]
    cur = out[out["scenario"] == "current"].set_index("metric")["value"]
    assert d["creators_restricted:any"] > 0
    assert d["actions:warning"] == -cur["actions:warning"]  # the ladder's floor lifts every warning
    assert d["actions:content_removed"] == cur["actions:warning"]
    assert d["rewards_granted"] == 0  # no reward rule in this proposal


# ------------------------------------------------------------------------------ hand-computed rules


def _actions(rows):
    cols = [
        "action_id",
        "creator_id",
        "market",
        "policy",
        "severity",
        "action_type",
        "health_points",
        "actioned_at",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["actioned_at"] = pd.to_datetime(df["actioned_at"], utc=True)
    return df


def test_apply_rules_points_and_ladder_by_hand():
    a = _actions(
        [
            ("a1", "c1", "DE", "scam_fraud", "high", "warning", 30, "2026-01-01T10:00Z"),
            (
                "a2",
                "c1",
                "DE",
                "scam_fraud",
                "high",
                "content_removed",
                30,
                "2026-01-01T10:00Z",
            ),  # same decision
            ("a3", "c1", "DE", "other", "low", "warning", 4, "2026-02-01T10:00Z"),
            ("a4", "c1", "DE", "other", "low", "account_banned", 4, "2026-03-01T10:00Z"),
            ("a5", "c2", "DE", "other", "medium", "warning", 12, "2026-01-05T10:00Z"),
        ]
    )
    market = load_market("DE")
    prop = Proposal(
        name="p",
        health={"deductions": {"default": {"low": 5}, "scam_fraud": {"high": 50}}},
        penalty_ladder={2: "account_suspended"},
    )
    out = sim.apply_rules(a, sim.proposed_rules(market, prop)).set_index("action_id")
    assert out["health_points"].tolist() == [50, 50, 5, 5, 12]  # medium has no override: as recorded
    # offence 1 of c1 (a1+a2) and of c2 stay; offence 2 (a3) is raised; offence 3 keeps the harsher ban
    assert out["action_type"].tolist() == [
        "warning",
        "content_removed",
        "account_suspended",
        "account_banned",
        "warning",
    ]
    same = sim.apply_rules(a, sim.current_rules(market))
    pd.testing.assert_frame_equal(same, a.assign(creator_id=a["creator_id"].astype(str)))


def test_a_ladder_raises_only_the_primary_action_of_a_decision():
    a = _actions(
        [
            ("a1", "c1", "DE", "other", "high", "content_removed", 30, "2026-01-01T10:00Z"),
            ("a2", "c1", "DE", "other", "high", "warning", 30, "2026-01-01T10:00Z"),
        ]
    )
    out = sim.apply_rules(
        a, sim.proposed_rules(load_market("DE"), Proposal(name="p", penalty_ladder={1: "feature_restricted"}))
    )
    assert out["action_type"].tolist() == ["feature_restricted", "warning"]


# ---------------------------------------------------------------------------------- monotonicity


def _toy_inputs(points: list[int], days: list[int]) -> sim.SimulationInputs:
    """The hand-made DE dataset with one action per (points, day) spread over its creators."""
    t = valid_tables()
    creators = t["creators"]
    ids = creators.loc[creators["market"] == "DE", "creator_id"].tolist()[:2]
    rows = [
        (
            f"x{i}",
            ids[i % 2],
            "DE",
            "other",
            "medium",
            "warning",
            p,
            pd.Timestamp("2026-10-31T12:00Z") - pd.Timedelta(days=d),
        )
        for i, (p, d) in enumerate(zip(points, days))
    ]
    acts = _actions(rows)
    acts = acts.assign(detected_at=acts["actioned_at"], content_id=None)
    t["enforcement_actions"] = acts
    tables = {k: v for k, v in t.items() if k in ("creators", "content", "enforcement_actions")}
    return sim.SimulationInputs(tables=tables, market=load_market("DE"), month="2026-10")


@settings(max_examples=40)
@given(
    points=st.lists(st.integers(0, 80), min_size=1, max_size=12),
    days=st.lists(st.integers(0, 400), min_size=12, max_size=12),
    lift=st.lists(st.integers(0, 120), min_size=4, max_size=4),
    window=st.integers(1, 400),
)
def test_a_stricter_milestone_never_restricts_fewer_creators(points, days, lift, window):
    inp = _toy_inputs(points, days[: len(points)])
    base = inp.market.health.milestones
    stricter = {min(m + d, 1000): r for (m, r), d in zip(sorted(base.items()), lift)}
    if len(stricter) < len(base):  # two thresholds met at the cap: not a ladder
        return
    health = {"deduction_window_days": window}
    rules_b = sim.proposed_rules(inp.market, Proposal(name="b", health=health))
    rules_s = sim.proposed_rules(inp.market, Proposal(name="s", health={**health, "milestones": stricter}))
    assert sim.restricted_creators(inp, rules_b) <= sim.restricted_creators(inp, rules_s)


def test_stricter_milestones_restrict_more_on_the_demo(de_inputs):
    market = de_inputs.market
    stricter = {m + 30: r for m, r in market.health.milestones.items()}
    rules_s = sim.proposed_rules(market, Proposal(name="s", health={"milestones": stricter}))
    base, strict = (
        sim.restricted_creators(de_inputs, sim.current_rules(market)),
        sim.restricted_creators(de_inputs, rules_s),
    )
    assert base < strict  # a strict superset: some creators sit between the old and new thresholds


def test_missing_optional_tables_are_not_available_and_the_rest_runs():
    inp = _toy_inputs([60, 60, 60], [1, 2, 3])
    out = sim.replay(inp, sim.current_rules(inp.market), [150, 100, 50, 0]).set_index("metric")
    for m in ("rewards_granted", "items_auto_actioned", "expected_wrongly_actioned", "notices_breaching_sla"):
        assert not out.loc[m, "available"] and math.isnan(out.loc[m, "value"])
    # 180 points within 90 days: cr_de_1 gets 60+60 (score 80 <= 100), cr_de_2 gets 60 (140 <= 150)
    assert out.loc["creators_restricted:commission_withheld", "value"] == 1
    assert out.loc["creators_restricted:traffic_limited", "value"] == 1


# ---------------------------------------------------------------------------------- planted truth


def test_projected_reoffence_change_covers_the_planted_deterrence(de_inputs, ground_truth):
    """Harsher first action: the projected change's interval holds the generator's true change.

    Truth: after an action of type a the next violation comes after an exponential wait with
    weekly hazard h * HR[a] (ground_truth.json), so the 90-day re-offence probability is
    1 - exp(-h HR[a] 90/7); the true change averages the move of each creator's first action.
    """
    prop = load_proposal(PROPOSALS / "de_harsher_ladder.yaml", de_inputs.market)
    proj = sim.project_reoffence(de_inputs, sim.proposed_rules(de_inputs.market, prop)).set_index("scenario")
    det = ground_truth["deterrence"]
    lam, hr = det["baseline_weekly_hazard"] * 90 / 7, det["hazard_ratio_by_action_type"]
    t = build_recidivism_table(
        de_inputs.tables["enforcement_actions"], data_end=de_inputs.window[1], market="DE"
    )
    first = t.loc[to_utc(t["t0"]) >= de_inputs.window[0], "first_action_type"]
    floor = prop.penalty_ladder[1]
    truth = np.mean(
        [
            np.exp(-lam * hr[a]) - np.exp(-lam * hr[floor])
            if hr[a] > hr[floor] and a != "account_banned"
            else 0.0
            for a in first
        ]
    )
    d = proj.loc["delta"]
    assert truth < -0.05  # a real effect to recover
    assert d["ci_low"] <= truth <= d["ci_high"], (truth, d.to_dict())
    assert d["ci_high"] < 0  # and the projection sees the direction
    assert proj.loc["proposed", "value"] == pytest.approx(proj.loc["current", "value"] + d["value"])
    assert d["unit"] == "share (model projection)"


# ---------------------------------------------------------------------------------- circulation


def test_circulated_hides_small_creator_counts_and_changes():
    r = pd.DataFrame(
        {
            "scenario": [
                "current",
                "proposed",
                "delta",
                "current",
                "proposed",
                "delta",
                "current",
                "proposed",
                "delta",
            ],
            "metric": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
            "value": [12.0, 15.0, 3.0, 4.0, 20.0, 16.0, 5.0, 5.0, 0.0],
            "ci_low": math.nan,
            "ci_high": math.nan,
            "unit": ["creators"] * 6 + ["actions"] * 3,
            "available": True,
        }
    )
    out = sim.circulated(r, 10)
    assert out["value"].tolist() == ["12", "15", "<10", "<10", "20", "<10", "5", "5", "0"]
    assert list(out.columns) == sim.CSV_COLUMNS


def test_signal_metrics_by_hand():
    """Hand-made DE data: scam_signal scores ct_02 0.91 (violating) and ct_03 0.12 (not), both labelled, German."""
    t = valid_tables()
    tables = {
        k: t[k] for k in ("creators", "content", "enforcement_actions", "signal_scores", "review_labels")
    }
    inp = sim.SimulationInputs(tables=tables, market=load_market("DE"), month="2026-10")
    cur = sim.replay(inp, sim.current_rules(inp.market), [150]).set_index("metric")
    assert cur.loc["items_auto_actioned:scam_signal", "value"] == 1  # 0.91 >= 0.5
    assert cur.loc["items_sent_to_review:scam_signal", "value"] == 0  # no review band today
    wrong = cur.loc["expected_wrongly_actioned:scam_signal"]
    # 1 item above the threshold x 0/1 false positives; Wilson 95% of 0/1 is (0, 0.7935)
    assert (
        wrong["value"] == 0 and wrong["ci_low"] == 0 and wrong["ci_high"] == pytest.approx(0.79345, abs=1e-4)
    )
    prop = Proposal(
        name="p", signals={"scam_signal": {"auto_action": {"de": 0.95}, "review": {"default": 0.1}}}
    )
    new = sim.replay(inp, sim.proposed_rules(inp.market, prop), [150]).set_index("metric")
    assert new.loc["items_auto_actioned:scam_signal", "value"] == 0
    assert new.loc["items_sent_to_review:scam_signal", "value"] == 2  # both in [0.1, 0.95)
    assert new.loc["expected_missed_violations:scam_signal", "value"] == 0  # nothing below 0.1


def test_a_young_market_replays_its_months_before_launch_as_unrestricted(demo_dir):
    """PL launched in 2026-08: the 13-month window starts before any PL creator existed."""
    inp = sim.load_inputs(demo_dir, load_market("PL"), "2026-10")
    out = sim.simulate(inp, Proposal(name="nothing"))
    delta = out[out["scenario"] == "delta"]
    assert (delta["value"] == 0.0).all()
    cur = out[out["scenario"] == "current"].set_index("metric")["value"]
    assert cur["creators_newly_restricted"] >= cur["creators_restricted:any"] > 0
