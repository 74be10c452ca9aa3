"""Helpers of the engine-side metrics: quantiles from a frequency table, typing of empty pandas input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from govlib.metrics.expr import as_table, quantile_from_counts


@pytest.mark.parametrize("seed", range(5))
def test_quantile_from_counts_equals_numpy_on_the_expanded_sample(seed):
    rng = np.random.default_rng(seed)
    sample = rng.integers(0, 40, size=int(rng.integers(1, 300))).astype(float)
    values, counts = np.unique(sample, return_counts=True)
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0):
        assert quantile_from_counts(values, counts, q) == np.quantile(sample, q)


def test_quantile_of_an_empty_table_is_nan():
    assert np.isnan(quantile_from_counts(np.array([]), np.array([], dtype=int), 0.5))


def test_empty_frame_takes_the_contract_types():
    empty = pd.DataFrame(columns=["action_id", "health_points", "actioned_at", "not_in_contract"])
    schema = as_table(empty, "enforcement_actions").schema()
    assert schema["health_points"].is_int64() and schema["actioned_at"].is_timestamp()
    assert schema["action_id"].is_string() and schema["not_in_contract"].is_string()
