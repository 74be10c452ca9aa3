"""The deterrence (DiD) design on the engine equals today's pandas estimate (issue 15).

:func:`~govlib.metrics.effectiveness.estimate_deterrence_did_expr` computes the cohorts as
per-(replicate, cohort, cell, group) sums on the engine; its point estimate, rate ratio, means
and counts must equal :func:`~govlib.metrics.effectiveness.estimate_deterrence_did` (1e-9) on
the demo data (``small``, and the scales named in ``GOVLIB_TEST_SCALES``). Its interval is a
Poisson bootstrap of creators instead of the multinomial one: both estimate the same sampling
distribution, and each interval end must lie within the documented tolerance (0.35 of the
multinomial interval's width) of the multinomial one. The Poisson weights are checked against
an independent pure-Python implementation of the hash and against the Poisson(1) law.
"""

from __future__ import annotations

import hashlib
import math
import os
from functools import cache

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_END_MONTH, demo_dataset

from govlib import config
from govlib.data.load import open_dataset
from govlib.metrics import effectiveness as m
from govlib.params import load_market

SCALES = sorted(set(os.environ.get("GOVLIB_TEST_SCALES", "small").split(",")) | {"small"})
TOLERANCE = (
    0.35  # interval end moves, as a share of the multinomial interval's width (docstring, performance.md)
)
KW = {"window": 2, "outcome": "allegations", "n_boot": 199}
EXACT = [
    "estimate",
    "rate_ratio",
    "treated_pre",
    "treated_post",
    "control_change",
    "relative_change",
    "control_outcome_total",
]
COUNTS = ["n_treated", "n_unmatched", "n_controls", "n_cohorts", "n_left_truncated"]


@cache
def demo_panel(scale: str, market: str) -> pd.DataFrame:
    ds = open_dataset(demo_dataset(scale=scale))
    return m.build_violation_panel(
        ds.load("content", columns=["content_id", "creator_id", "published_at"]),
        ds.load("enforcement_actions"),
        ds.load("creators"),
        tz=load_market(market).timezone,
        market=market,
        notices=ds.load("notices"),
    )


def _fmix32(x: int) -> int:
    m32 = (1 << 32) - 1
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & m32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & m32
    return x ^ (x >> 16)


def python_weight(creator_id: str, replicate: int, seed: int) -> int:
    """The documented hash, written independently: MD5 -> 28-bit key -> SplitMix step -> Poisson(1) by inversion."""
    key = _fmix32(int(hashlib.md5(creator_id.encode()).hexdigest()[:7], 16) ^ (seed % (1 << 32)))
    u = _fmix32((key + replicate * 0x9E3779B9) % (1 << 32)) / 2**32
    k, cdf = 0, math.exp(-1)
    while u >= cdf and k < 12:
        k += 1
        cdf += math.exp(-1) / math.factorial(k)
    return k


def engine_weights(ids: list[str], reps: int, seed: int) -> pd.DataFrame:
    keys = m._creator_keys(ibis.memtable(pd.DataFrame({"creator_id": ids})), seed)
    reps_t = ibis.memtable(pd.DataFrame({"replicate": np.arange(1, reps + 1, dtype="int64")}))
    out = m.poisson_weights(keys.cross_join(reps_t)).select("creator_id", "replicate", "_w").execute()
    return out.sort_values(["creator_id", "replicate"]).reset_index(drop=True)


def test_poisson_weights_equal_independent_python_hash():
    ids = [f"cr_{i:06d}" for i in range(40)] + ["ä-ünïcode", "x"]
    got = engine_weights(ids, 5, seed=7)
    want = [python_weight(c, r, 7) for c, r in zip(got["creator_id"], got["replicate"], strict=True)]
    assert got["_w"].tolist() == want
    assert engine_weights(ids, 5, seed=8)["_w"].tolist() != want  # the seed changes the draws


def test_poisson_weights_follow_poisson_one():
    w = engine_weights([f"c{i}" for i in range(4000)], 25, seed=3)["_w"].to_numpy()  # 100k draws
    assert abs(w.mean() - 1) < 0.015 and abs(w.var() - 1) < 0.03  # sd of the mean ~0.003
    for k in range(4):
        assert abs((w == k).mean() - math.exp(-1) / math.factorial(k)) < 0.01, k
    # replicates of one creator are independent: lag-1 correlation near 0
    by = w.reshape(4000, 25)
    assert abs(np.corrcoef(by[:, :-1].ravel(), by[:, 1:].ravel())[0, 1]) < 0.02


def test_cell_sums_hand_checked():
    # 2 creators treated in 2026-03 (index 2), 2 never-actioned controls, window 1; one cell
    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    y = {"t1": [1, 2, 9, 0, 0], "t2": [0, 1, 9, 1, 0], "c1": [1, 1, 1, 3, 0], "c2": [2, 2, 0, 2, 0]}
    rows = [
        (c, mo, y[c][i], 1, 1.0, "2026-03" if c.startswith("t") else None, "2026-01", "DE", "gold")
        for c in y
        for i, mo in enumerate(months)
    ]
    cols = ["creator_id", "month", "allegations", "activity", "exposure", "first_action_month"]
    panel = pd.DataFrame(rows, columns=cols + ["registered_month", "market", "tier"])
    got = m.estimate_deterrence_did_expr(ibis.memtable(panel), window=1, n_boot=0).iloc[0]
    # d: t1 0-2=-2, t2 1-1=0, c1 3-1=2, c2 2-2=0; cbar 1; ATT = mean(-3, -1) = -2
    assert got["estimate"] == -2.0 and got["n_treated"] == 2 and got["n_controls"] == 2
    assert got["treated_pre"] == 1.5 and got["treated_post"] == 0.5 and got["control_change"] == 1.0
    assert got["rate_ratio"] == 0.5 / (0.5 + 2.0)  # post / (post - ATT)
    ref = m.estimate_deterrence_did(panel, window=1, n_boot=0).iloc[0]
    assert ref[EXACT + COUNTS].tolist() == got[EXACT + COUNTS].tolist()


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("market", ["DE", "GB"])
def test_engine_did_equals_pandas_estimate(scale, market):
    panel = demo_panel(scale, market)
    ref = m.estimate_deterrence_did(panel, seed=7, **KW).iloc[0]
    got = m.estimate_deterrence_did_expr(ibis.memtable(panel), seed=7, **KW).iloc[0]
    for k in EXACT:
        assert math.isclose(got[k], ref[k], rel_tol=1e-9, abs_tol=1e-12), (k, got[k], ref[k])
    assert got[COUNTS].tolist() == ref[COUNTS].tolist()
    for lo, hi in (("ci_low", "ci_high"), ("rate_ratio_ci_low", "rate_ratio_ci_high")):
        width = ref[hi] - ref[lo]
        assert abs(got[lo] - ref[lo]) <= TOLERANCE * width, (lo, got[lo], ref[lo], width)
        assert abs(got[hi] - ref[hi]) <= TOLERANCE * width, (hi, got[hi], ref[hi], width)
        assert got[lo] < got["estimate" if lo == "ci_low" else "rate_ratio"] < got[hi]


def test_engine_did_is_deterministic():
    panel = ibis.memtable(demo_panel("small", "DE"))
    a = m.estimate_deterrence_did_expr(panel, seed=7, **KW)
    pd.testing.assert_frame_equal(a, m.estimate_deterrence_did_expr(panel, seed=7, **KW), check_exact=True)
    b = m.estimate_deterrence_did_expr(panel, seed=8, **KW)
    assert a["ci_low"].iloc[0] != b["ci_low"].iloc[0] and a["estimate"].iloc[0] == b["estimate"].iloc[0]


def test_engine_did_names_missing_columns():
    panel = ibis.memtable(demo_panel("small", "DE").drop(columns=["tier"]))
    with pytest.raises(m.EffectivenessInputError, match="tier"):
        m.estimate_deterrence_did_expr(panel, **KW)


@cache
def demo_cube(scale: str, market: str):
    from govlib.report.cube import build_cube, load_cube

    return load_cube(
        build_cube(demo_dataset(scale=scale), market, DEMO_END_MONTH, cache_dir=config.CACHE_DIR)
    )


def engine_panel(cube, market: str):
    return m.violation_panel_expr(
        cube.expr("enforcement_actions"),
        cube.expr("creators"),
        cube.expr("notices"),
        cube.expr("content"),
        cube.expr("content_activity"),
        market=market,
        tz=load_market(market).timezone,
    )


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("market", ["DE", "GB"])
def test_engine_panel_equals_pandas_panel(scale, market):
    """The report's path: the cube's tables, the panel and the DiD on the engine, against the pandas panel."""
    cube = demo_cube(scale, market)
    ref = m.build_violation_panel(
        cube.table("content", columns=["content_id", "creator_id", "published_at"]),
        cube.table("enforcement_actions"),
        cube.table("creators"),
        tz=load_market(market).timezone,
        market=market,
        notices=cube.table("notices"),
        activity=cube.activity,
    )
    expr = engine_panel(cube, market)
    got = expr.execute().sort_values(["creator_id", "month"]).reset_index(drop=True)
    ref = ref.sort_values(["creator_id", "month"]).reset_index(drop=True)
    assert len(got) == len(ref) > 1000
    for c in ("creator_id", "month", "market", "tier", "activity", "allegations"):
        assert got[c].astype(str).tolist() == ref[c].astype(str).tolist(), c
    np.testing.assert_allclose(got["exposure"], ref["exposure"], rtol=0, atol=1e-12)
    months = set(ref["month"])  # outside the panel, months are labelled before/after
    for c in ("first_action_month", "registered_month"):
        r = ref[c].astype(object).where(ref[c].notna(), None)
        inside = r.isin(months)
        assert got.loc[inside, c].tolist() == r[inside].tolist(), c
        assert (got.loc[~inside & r.notna(), c].isin([m.BEFORE_PANEL, m.AFTER_PANEL])).all(), c
        assert got.loc[r.isna(), c].isna().all(), c
    a = m.estimate_deterrence_did(ref, seed=7, **KW).iloc[0]
    b = m.estimate_deterrence_did_expr(expr, seed=7, **KW).iloc[0]
    for k in EXACT:
        assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12), (k, a[k], b[k])
    assert a[COUNTS].tolist() == b[COUNTS].tolist()


def test_engine_did_without_treated_creators_is_a_clear_error():
    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    rows = [(c, mo, 1, 1, 1.0, None, "2026-01", "DE", "gold") for c in ("a", "b") for mo in months]
    cols = ["creator_id", "month", "allegations", "activity", "exposure", "first_action_month"]
    panel = pd.DataFrame(rows, columns=cols + ["registered_month", "market", "tier"])
    for f, x in ((m.estimate_deterrence_did, panel), (m.estimate_deterrence_did_expr, ibis.memtable(panel))):
        with pytest.raises(m.EffectivenessInputError, match="no cohort of first actions"):
            f(x, window=1, n_boot=3)


def test_engine_did_with_too_few_months_for_a_cohort_is_the_pandas_error():
    # window 2 needs 5 months around a cohort month: a young market (PL in the demo) has fewer
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    rows = [
        (c, mo, 1, 1, 1.0, "2026-02" if c == "t" else None, "2026-01", "PL", "gold")
        for c in ("t", "c")
        for mo in months
    ]
    cols = ["creator_id", "month", "allegations", "activity", "exposure", "first_action_month"]
    panel = pd.DataFrame(rows, columns=cols + ["registered_month", "market", "tier"])
    errors = []
    for f, x in ((m.estimate_deterrence_did, panel), (m.estimate_deterrence_did_expr, ibis.memtable(panel))):
        with pytest.raises(m.EffectivenessInputError) as info:
            f(x, window=2, n_boot=3)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
