"""Recidivism on the engine equals today's pandas computation (issue 15, "equality before speed").

The engine expressions (:func:`~govlib.metrics.effectiveness.recidivism_table_expr`,
:func:`~govlib.metrics.effectiveness.recidivism_risk_sets`) are compared with the pandas
reference (``pandas_reference_effectiveness.build_recidivism_table``, the code the report ran
before) on the demo data: the per-creator table identical, and the Kaplan-Meier curves, the
recidivism summary and the Cox hazard ratio fitted on the weighted risk sets equal to the fits
on one row per creator (counts exact, estimates to 1e-9). The demo scales compared are ``small``
and those named in ``GOVLIB_TEST_SCALES`` (e.g. ``small,medium``).
"""

from __future__ import annotations

import math
import os

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_END_MONTH, demo_dataset
from metrics.pandas_reference_effectiveness import build_recidivism_table

from govlib.data.load import open_dataset
from govlib.metrics import effectiveness as m
from govlib.params import load_market
from govlib.timeutil import month_bounds

SCALES = sorted(set(os.environ.get("GOVLIB_TEST_SCALES", "small").split(",")) | {"small"})
W = m.RISK_SET_WEIGHT


def engine_table(actions: pd.DataFrame, creators=None, content=None, **kw) -> pd.DataFrame:
    """The engine's per-creator table on in-memory frames (DuckDB), as a frame like the reference's."""
    mem = {k: ibis.memtable(v) if v is not None else None for k, v in (("c", creators), ("k", content))}
    if "data_end" not in kw:
        kw["data_end"] = pd.to_datetime(actions["actioned_at"], utc=True).max()
    expr = m.recidivism_table_expr(ibis.memtable(actions), mem["c"], content=mem["k"], **kw)
    return m.risk_sets_frame(expr).sort_values("creator_id").reset_index(drop=True)


def _hand_actions() -> tuple[pd.DataFrame, pd.Timestamp]:
    T = pd.Timestamp("2026-01-01", tz="UTC")
    acts = pd.DataFrame(
        [
            ("a1", "c1", "warning", T, T),
            ("a2", "c1", "content_removed", T + pd.Timedelta(days=10), T + pd.Timedelta(days=11)),
            ("a3", "c2", "account_suspended", T, T),
            ("a4", "c2", "warning", T, T),
            ("a5", "c2", "warning", T - pd.Timedelta(days=5), T + pd.Timedelta(days=2)),
            ("a6", "c3", "warning", T + pd.Timedelta(days=20), T + pd.Timedelta(days=20)),
            (
                "a7",
                "c4",
                "warning",
                T + pd.Timedelta(days=30),
                T + pd.Timedelta(days=30),
            ),  # at data end: dropped
        ],
        columns=["action_id", "creator_id", "action_type", "detected_at", "actioned_at"],
    )
    return acts.assign(market="DE", policy="other", severity="low"), T


def test_engine_table_hand_checked():
    acts, T = _hand_actions()
    tab = engine_table(acts, data_end=T + pd.Timedelta(days=30)).set_index("creator_id")
    assert tab.index.tolist() == ["c1", "c2", "c3"]
    assert tab.loc["c1", "event"] and tab.loc["c1", "duration_days"] == 10
    assert tab.loc["c2", "first_action_type"] == "account_suspended"  # the harsher of the two at t0
    assert tab.loc["c2", "first_action_id"] == "a3"
    assert not tab.loc["c2", "event"] and tab.loc["c2", "duration_days"] == 30  # a5 was detected before t0
    assert not tab.loc["c3", "event"] and tab.loc["c3", "duration_days"] == 10
    late = engine_table(acts, data_end=T + pd.Timedelta(days=30), event_time="actioned_at")
    assert late.set_index("creator_id").loc["c2", "event"]  # by decision time, a5 is a re-offence
    sets = m.risk_sets_frame(
        m.recidivism_risk_sets(
            m.recidivism_table_expr(ibis.memtable(acts), data_end=T + pd.Timedelta(days=30))
        )
    )
    assert sets[W].sum() == 3 and sets["event"].sum() == 1  # c1, c2, c3: one re-offence
    assert sorted(sets["duration_days"]) == [10.0, 10.0, 30.0]


def test_engine_committed_time_uses_publication():
    T = pd.Timestamp("2026-01-01", tz="UTC")
    acts = pd.DataFrame(
        [
            ("a1", "c1", "k1", "warning", T, T),
            ("a2", "c1", "k2", "warning", T + pd.Timedelta(days=3), T + pd.Timedelta(days=4)),
            ("a3", "c1", "k3", "warning", T + pd.Timedelta(days=9), T + pd.Timedelta(days=9)),
            ("a4", "c2", None, "warning", T, T),
            ("a5", "c2", None, "warning", T + pd.Timedelta(days=2), T + pd.Timedelta(days=2)),
        ],
        columns=["action_id", "creator_id", "content_id", "action_type", "detected_at", "actioned_at"],
    ).assign(market="DE", policy="other", severity="low")
    content = pd.DataFrame(
        {
            "content_id": ["k1", "k2", "k3"],
            "published_at": [T - pd.Timedelta(days=1), T - pd.Timedelta(hours=5), T + pd.Timedelta(days=5)],
        }
    )
    end = T + pd.Timedelta(days=30)
    tab = engine_table(acts, content=content, data_end=end, event_time="committed").set_index("creator_id")
    assert tab.loc["c1", "duration_days"] == 5 and tab.loc["c1", "event"]  # k2 was published before t0
    assert tab.loc["c2", "duration_days"] == 2  # account-level: dated at detection
    assert engine_table(acts, data_end=end).set_index("creator_id").loc["c1", "duration_days"] == 3
    with pytest.raises(m.EffectivenessInputError, match="content"):
        engine_table(acts, data_end=end, event_time="committed")


def test_engine_names_unknown_action_types():
    acts, T = _hand_actions()
    acts.loc[[0, 3], "action_type"] = ["caution", "nudge"]
    with pytest.raises(m.EffectivenessInputError, match=r"2 row\(s\).*caution, nudge"):
        engine_table(acts, data_end=T + pd.Timedelta(days=30))


def _freireich_ties() -> pd.DataFrame:
    # Freireich et al. (1963) remission weeks, 6-MP vs placebo: many tied times
    six_mp = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
    placebo = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"
    rows = [
        {"first_action_type": g, "duration_days": float(t.rstrip("+")), "event": not t.endswith("+")}
        for g, text in (("account_suspended", six_mp), ("warning", placebo))
        for t in text.split()
    ]
    return pd.DataFrame(rows)


def test_weighted_risk_sets_equal_one_row_per_creator_with_ties():
    rows = _freireich_ties()
    sets = rows.groupby(["first_action_type", "duration_days", "event"]).size().rename(W).reset_index()
    assert len(sets) < len(rows)  # ties were merged
    for f in (m.estimate_recidivism_curves, m.summarise_recidivism):
        pd.testing.assert_frame_equal(f(sets, weights=W), f(rows), check_dtype=False, rtol=1e-12)
    a, b = m.estimate_hazard_ratio(rows).iloc[0], m.estimate_hazard_ratio(sets, weights=W).iloc[0]
    for k in ("n_treatment", "n_reference", "events_treatment", "events_reference"):
        assert a[k] == b[k], k
    for k in ("hazard_ratio", "ci_low", "ci_high", "p_value"):
        assert math.isclose(a[k], b[k], rel_tol=1e-9), (k, a[k], b[k])
    assert math.isclose(a["hazard_ratio"], 1 / 4.8169, rel_tol=2e-4)  # R coxph on gehan (Efron)


def _compare_on(ds, market: str, event_time: str = "detected_at") -> None:
    """Engine and pandas reference on one market of a dataset: tables identical, fits equal."""
    _, end = month_bounds(DEMO_END_MONTH, load_market(market).timezone)
    acts_t, cr_t = ds.table("enforcement_actions"), ds.table("creators")
    ref = build_recidivism_table(
        ds.load("enforcement_actions"),
        ds.load("creators"),
        data_end=end,
        market=market,
        event_time=event_time,
    )
    got = m.risk_sets_frame(
        m.recidivism_table_expr(acts_t, cr_t, data_end=end, market=market, event_time=event_time)
    )
    got = got.sort_values("creator_id").reset_index(drop=True)[list(ref.columns)]
    pd.testing.assert_frame_equal(got, ref, check_dtype=False, check_exact=True)
    sets = m.risk_sets_frame(
        m.recidivism_risk_sets(
            m.recidivism_table_expr(acts_t, data_end=end, market=market, event_time=event_time)
        )
    )
    assert sets[W].sum() == len(ref) and sets["event"].mul(sets[W]).sum() == ref["event"].sum()
    for f in (m.estimate_recidivism_curves, m.summarise_recidivism):
        pd.testing.assert_frame_equal(f(sets, weights=W), f(ref), check_dtype=False, check_exact=True)
    a, b = m.estimate_hazard_ratio(ref).iloc[0], m.estimate_hazard_ratio(sets, weights=W).iloc[0]
    assert (
        a[["n_treatment", "events_treatment", "n_reference", "events_reference"]].tolist()
        == b[["n_treatment", "events_treatment", "n_reference", "events_reference"]].tolist()
    )
    for k in ("hazard_ratio", "ci_low", "ci_high", "p_value"):
        assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-300), (market, k, a[k], b[k])


@pytest.mark.parametrize("scale", SCALES)
def test_engine_recidivism_equals_pandas_reference(scale):
    ds = open_dataset(demo_dataset(scale=scale))
    for market in ("DE", "GB", "PL"):
        _compare_on(ds, market)
    _compare_on(ds, "DE", event_time="actioned_at")


def test_engine_recovers_planted_hazard_ratio(demo_dir, ground_truth):
    ds = open_dataset(demo_dir)
    end = pd.Timestamp(ds.table("enforcement_actions").actioned_at.max().execute())
    sets = m.risk_sets_frame(
        m.recidivism_risk_sets(m.recidivism_table_expr(ds.table("enforcement_actions"), data_end=end))
    )
    hr = m.estimate_hazard_ratio(sets, weights=W).iloc[0]
    truth = ground_truth["deterrence"]["hazard_ratio_suspension_vs_warning"]
    assert hr["ci_low"] <= truth <= hr["ci_high"], hr.to_dict()
    assert not np.isclose(hr["hazard_ratio"], 1.0, atol=0.05)


def test_weights_must_be_counts():
    sets = _freireich_ties().assign(creators=1.0)
    sets.loc[[0, 1], W] = [1.5, -2.0]  # both in the first group
    for f in (m.estimate_recidivism_curves, m.summarise_recidivism, m.estimate_hazard_ratio):
        with pytest.raises(
            m.EffectivenessInputError, match=r"'creators': 2 row\(s\).*1.5, -2.0.*whole numbers"
        ):
            f(sets, weights=W)
