"""Tests of govlib.stats.did on a hand-computed panel (the governance use: tests/test_effectiveness.py)."""

from __future__ import annotations

import math

import numpy as np

from govlib.stats.did import bootstrap_att, build_did_cohorts, estimate_att

INF = math.inf


def _panel():
    # 3 periods, window 1: one cohort (g = 1), pre = period 0, post = period 2.
    # unit 0 treated at 1, cell 0: rate 2 -> 0 (d = -2); unit 1 never treated, cell 0: 1 -> 1 (d = 0);
    # unit 2 treated at 1 in cell 1, which has no control: unmatched; unit 3 treated at 2: not in cohort 1.
    Y = np.array([[2.0, 5.0, 0.0], [1.0, 0.0, 1.0], [3.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    A = np.zeros_like(Y)
    E = np.ones_like(Y)
    G = np.array([1.0, INF, 1.0, 2.0])
    eligible = np.ones(4, bool)
    base = np.array([0, 0, 1, 0])
    return Y, A, E, G, eligible, base


def test_att_and_rate_ratio_by_hand():
    cohorts = build_did_cohorts(*_panel(), window=1)
    assert len(cohorts) == 1
    assert cohorts[0]["t"].tolist() == [0, 2] and cohorts[0]["c"].tolist() == [1]
    est, ratio, n_treated, unmatched, pre_s, post_s, cchg = estimate_att(cohorts, np.ones(4), detail=True)
    # ATT = d_0 - mean d of its cell's controls = -2 - 0; RR = post / (post - ATT) = 0 / 2
    assert (est, ratio, n_treated, unmatched, pre_s, post_s, cchg) == (-2.0, 0.0, 1.0, 1, 2.0, 0.0, 0.0)


def test_activity_band_splits_cells():
    Y, A, E, G, eligible, base = _panel()
    A[1, 0] = 3.0  # the control's prior activity puts it in band floor(log2(4)) = 2: no longer unit 0's cell
    est, _, n_treated, unmatched, *_ = estimate_att(
        build_did_cohorts(Y, A, E, G, eligible, base, 1), np.ones(4), detail=True
    )
    assert math.isnan(est) and n_treated == 0 and unmatched == 2


def test_bootstrap_is_seeded_and_skippable():
    cohorts = build_did_cohorts(*_panel(), window=1)
    a = bootstrap_att(cohorts, 4, 50, seed=3, alpha=0.1)
    assert a == bootstrap_att(cohorts, 4, 50, seed=3, alpha=0.1)
    # every replication that draws units 0 and 1 gives ATT -2 and ratio 0; the others give NaN (left out)
    assert a == (-2.0, -2.0, 0.0, 0.0)
    assert all(math.isnan(x) for x in bootstrap_att(cohorts, 4, 0, seed=3, alpha=0.1))
