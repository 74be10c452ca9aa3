"""Creator risk scores from the engine's per-creator inputs equal today's pandas scores (issue 15).

:func:`govlib.metrics.risk.creator_risk_inputs_expr` counts each active creator's actions,
severity and reach in the engine; :func:`govlib.metrics.risk.score_creator_risk_inputs` scores
them. Compared with :func:`govlib.metrics.risk.score_creator_risk` on the same window loaded into
pandas: the same creators in the same rank order, counts exact, scores to 1e-12 (GMV sums are
added in another order by the engine: differences of a few ulps). Scales: ``small`` and those
of ``GOVLIB_TEST_SCALES``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import DEMO_END_MONTH, demo_dataset

from govlib.data.load import open_dataset
from govlib.metrics.risk import (
    RiskError,
    creator_risk_inputs_expr,
    score_creator_risk,
    score_creator_risk_inputs,
)
from govlib.params import load_market
from govlib.timeutil import month_bounds, shift_month

SCALES = sorted(set(os.environ.get("GOVLIB_TEST_SCALES", "small").split(",")) | {"small"})


def _both(ds, market: str, month: str = DEMO_END_MONTH):
    p = load_market(market)
    lo, hi = month_bounds(shift_month(month, -2), p.timezone)[0], month_bounds(month, p.timezone)[1]
    acts = ds.load("enforcement_actions", market=market, start=lo, end=hi)
    content = ds.load("content", market=market, start=lo, end=hi)
    ref = score_creator_risk(acts, content, market, month, p.timezone, severity_weights=p.severity_weights)
    inputs = creator_risk_inputs_expr(
        ds.table("enforcement_actions"),
        ds.table("content"),
        market,
        month,
        p.timezone,
        severity_weights=p.severity_weights,
    ).execute()
    return ref, score_creator_risk_inputs(inputs, market, month, severity_weights=p.severity_weights), inputs


@pytest.mark.parametrize("scale", SCALES)
def test_engine_risk_scores_equal_pandas(scale):
    ds = open_dataset(demo_dataset(scale=scale))
    for market in ("DE", "GB"):
        ref, got, inputs = _both(ds, market)
        assert len(ref) > 100 and len(inputs) == len(ref)
        assert got["creator_id"].tolist() == ref["creator_id"].tolist()  # the same ranking
        for col in ("rank", "actions", "published", "views"):
            assert got[col].tolist() == ref[col].tolist(), col
        floats = ref.select_dtypes("float").columns
        assert {"risk", "likelihood", "reach", "credibility"} <= set(floats)
        np.testing.assert_allclose(got[floats].to_numpy(), ref[floats].to_numpy(), rtol=1e-12, atol=0)
        assert got.attrs == ref.attrs  # shrinkage hyper-parameters and mean severity


def test_engine_risk_inputs_name_unweighted_severities(demo_dir):
    ds = open_dataset(demo_dir)
    p = load_market("DE")
    weights = {k: v for k, v in p.severity_weights.items() if k != "critical"}
    with pytest.raises(RiskError, match=r"row\(s\) with a severity without a weight.*critical"):
        creator_risk_inputs_expr(
            ds.table("enforcement_actions"),
            ds.table("content"),
            "DE",
            DEMO_END_MONTH,
            p.timezone,
            severity_weights=weights,
        )
