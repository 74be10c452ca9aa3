"""Agreement statistics against statsmodels, and the sample size against its closed form by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from govlib.stats.agreement import cohens_kappa, fleiss_kappa, sample_size_proportion

TABLES = [
    [[40, 9], [6, 45]],
    [[88, 14], [10, 2]],  # low prevalence of the second category: kappa near 0
    [[20, 5, 0], [3, 30, 4], [1, 2, 15]],  # three categories
    [[5, 0], [0, 7]],  # perfect agreement
]


@pytest.mark.parametrize("table", TABLES)
def test_cohens_kappa_and_its_standard_error_equal_statsmodels(table):
    ref = sm_cohens_kappa(np.asarray(table), return_results=True)
    got = cohens_kappa(table, alpha=0.05)
    assert got.kappa == pytest.approx(ref.kappa, abs=1e-9)
    assert got.se == pytest.approx(math.sqrt(ref.var_kappa), abs=1e-9)
    z = 1.959963984540054
    assert got.ci_low == pytest.approx(max(-1, ref.kappa - z * math.sqrt(ref.var_kappa)), abs=1e-9)
    assert got.n_items == int(np.sum(table))


def test_cohens_kappa_by_hand():
    # p_o = 0.85, p_e = 0.49*0.46 + 0.51*0.54 = 0.5008 -> kappa = 0.3492/0.4992
    got = cohens_kappa([[40, 9], [6, 45]])
    assert got.kappa == pytest.approx((0.85 - 0.5008) / (1 - 0.5008), abs=1e-12)
    assert got.observed_agreement == pytest.approx(0.85)


def test_cohens_kappa_degenerate_tables():
    assert math.isnan(cohens_kappa([[0, 0], [0, 0]]).kappa)
    assert math.isnan(cohens_kappa([[9, 0], [0, 0]]).kappa)  # one category only: chance agreement 1


def _items(rng, n, m, p):
    yes = rng.binomial(m, p, n)
    return np.column_stack([yes, m - yes])


@pytest.mark.parametrize("m,n,p", [(3, 60, 0.4), (3, 25, 0.1), (4, 80, 0.5), (2, 50, 0.3)])
def test_fleiss_kappa_equals_statsmodels(m, n, p):
    table = _items(np.random.default_rng(m * 100 + n), n, m, p)
    got = fleiss_kappa(table)
    assert got.kappa == pytest.approx(sm_fleiss_kappa(table, method="fleiss"), abs=1e-9)
    assert got.ci_low <= got.kappa <= got.ci_high


def test_fleiss_kappa_of_aggregated_patterns_equals_the_expanded_items():
    rows = np.array([[3, 0], [2, 1], [1, 2], [0, 3]])
    freq = np.array([11, 4, 3, 17])
    expanded = np.repeat(rows, freq, axis=0)
    got = fleiss_kappa(rows, freq, seed=5)
    assert got.kappa == pytest.approx(sm_fleiss_kappa(expanded), abs=1e-9)
    assert got.n_items == 35
    # the interval is seeded: same inputs, same bytes
    assert fleiss_kappa(rows, freq, seed=5) == got
    # and its width shrinks with ten times the items
    wide, narrow = got.ci_high - got.ci_low, fleiss_kappa(rows, freq * 10, seed=5)
    assert narrow.ci_high - narrow.ci_low < wide


def test_fleiss_kappa_rejects_unequal_rating_counts():
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[2, 1], [1, 0]])


@pytest.mark.parametrize(
    "margin,N,p,conf", [(0.02, 5000, 0.5, 0.95), (0.05, 120, 0.2, 0.9), (0.01, 10**6, 0.5, 0.99)]
)
def test_sample_size_matches_the_closed_form_computed_by_hand(margin, N, p, conf):
    z = {0.95: 1.959963984540054, 0.9: 1.6448536269514722, 0.99: 2.5758293035489004}[conf]
    n0 = z * z * p * (1 - p) / margin**2
    assert sample_size_proportion(margin, p=p, confidence=conf) == math.ceil(n0)
    assert sample_size_proportion(margin, N, p=p, confidence=conf) == min(
        N, math.ceil(n0 / (1 + (n0 - 1) / N))
    )


def test_sample_size_known_values_and_small_strata():
    assert sample_size_proportion(0.05) == 385  # the textbook 95 % / ±5 % figure
    got = sample_size_proportion(0.02, [0, 3, 50, 100000])
    assert got.tolist()[:2] == [0, 3]  # a stratum smaller than n0 is taken whole
    assert got[2] <= 50 and got[3] < 2401
    with pytest.raises(ValueError):
        sample_size_proportion(0)
