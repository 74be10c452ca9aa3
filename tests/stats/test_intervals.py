"""Tests of govlib.stats.intervals against published values and reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from govlib import stats

# ---------------------------------------------------------------- proportion_interval


@pytest.mark.parametrize(
    "count, nobs, low, high",
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score,
        # no continuity correction), four decimals as published.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998(count, nobs, low, high):
    got = stats.proportion_interval(count, nobs)
    assert got[0] == pytest.approx(low, abs=5e-5)
    assert got[1] == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize("count, nobs", [(0, 1), (1, 1), (3, 7), (81, 263), (999, 1000), (5, 100000)])
@pytest.mark.parametrize("method", ["wilson", "beta", "jeffreys"])
def test_proportion_interval_matches_statsmodels(count, nobs, method):
    ref = proportion_confint(count, nobs, alpha=0.05, method=method)
    got = stats.proportion_interval(count, nobs, method=method)
    assert got == pytest.approx(ref, abs=1e-9)


def test_wilson_closed_form():
    # Wilson (1927): centre (x + z^2/2)/(n + z^2), half-width z/(n+z^2)*sqrt(x(n-x)/n + z^2/4)
    x, n, z = 7, 30, sps.norm.ppf(0.975)
    centre = (x + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(x * (n - x) / n + z * z / 4)
    assert stats.proportion_interval(x, n) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_proportion_interval_empty_and_bad():
    low, high = stats.proportion_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="count <= nobs"):
        stats.proportion_interval(5, 3)
    with pytest.raises(ValueError, match="method"):
        stats.proportion_interval(1, 3, method="wald-ish")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 5000)
    .flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
    .filter(lambda t: t[1] > 0)
)
def test_wilson_contains_estimate_and_in_unit_interval(t):
    x, n = t
    low, high = stats.proportion_interval(x, n)
    assert 0.0 <= low <= x / n + 1e-12
    assert x / n - 1e-12 <= high <= 1.0


# ---------------------------------------------------------------- change tests


def test_two_proportion_z_matches_prop_test():
    # R: prop.test(c(10, 20), c(100, 100), correct = FALSE)
    #   X-squared = 3.9216, df = 1, p-value = 0.04767
    # by hand: pooled p = 0.15, se = sqrt(0.15*0.85*(1/100+1/100)) = 0.0504975, z = -0.1/se = -1.98030
    res = stats.test_proportions_2indep(10, 100, 20, 100)
    assert res.statistic == pytest.approx(-0.1 / math.sqrt(0.15 * 0.85 * 0.02), abs=1e-9)
    assert res.statistic**2 == pytest.approx(3.9216, abs=5e-5)
    assert res.pvalue == pytest.approx(0.04767, abs=5e-6)
    chi2 = sps.chi2_contingency(np.array([[10, 90], [20, 80]]), correction=False)
    assert res.pvalue == pytest.approx(chi2.pvalue, abs=1e-9)
    assert (res.estimate1, res.estimate2) == (0.1, 0.2)


def test_two_proportion_degenerate_cases():
    res = stats.test_proportions_2indep(0, 40, 0, 55)
    assert res.pvalue == 1.0
    res = stats.test_proportions_2indep(3, 0, 2, 10)
    assert math.isnan(res.pvalue) and math.isnan(res.estimate1)


def test_poisson_exact_matches_binomial():
    # R: poisson.test(c(10, 20), c(1, 1))  p-value = 0.09874 (binomial 10 of 30, p = 0.5)
    res = stats.test_poisson_rates(10, 1.0, 20, 1.0)
    assert res.pvalue == pytest.approx(0.09874, abs=5e-6)
    assert res.pvalue == pytest.approx(sps.binomtest(10, 30, 0.5).pvalue, abs=1e-12)
    # unequal exposure: 31-day vs 30-day month -> p = 31/61 under the null
    res = stats.test_poisson_rates(40, 31, 20, 30)
    assert res.pvalue == pytest.approx(sps.binomtest(40, 60, 31 / 61).pvalue, abs=1e-12)
    assert res.estimate1 == pytest.approx(40 / 31)


def test_poisson_no_events_and_no_exposure():
    assert stats.test_poisson_rates(0, 30, 0, 31).pvalue == 1.0
    assert math.isnan(stats.test_poisson_rates(4, 0, 3, 31).pvalue)


def test_flag_change_requires_both():
    # significant and material
    assert stats.flag_change(0.30, 0.20, 0.001) is True
    # significant but not material (2% relative change < 10%)
    assert stats.flag_change(0.204, 0.20, 0.001) is False
    # material but not significant
    assert stats.flag_change(0.30, 0.20, 0.2) is False
    # absolute threshold: 1 point change of a rate with min_absolute 0.02
    assert stats.flag_change(0.03, 0.02, 0.001, min_absolute=0.02) is False
    # from zero: infinitely large relative change
    assert stats.flag_change(5, 0, 0.01) is True
    # NaN never flagged
    assert stats.flag_change(math.nan, 0.2, 0.001) is False
    got = stats.flag_change([0.3, 0.3, 0.204], [0.2, 0.2, 0.2], [0.001, 0.5, 0.001])
    assert got.tolist() == [True, False, False]


def test_adjust_pvalues_bh_hand_computed_and_nan_untested():
    # m = 4 tested: sorted 0.005, 0.01, 0.03, 0.04 -> p * m / rank = 0.02, 0.02, 0.04, 0.04,
    # then the running minimum from the largest rank down (Benjamini & Hochberg 1995)
    q = stats.adjust_pvalues_bh([0.01, 0.04, 0.03, math.nan, 0.005])
    assert q[:3].tolist() == pytest.approx([0.02, 0.04, 0.04], abs=1e-15)
    assert math.isnan(q[3]) and q[4] == pytest.approx(0.02, abs=1e-15)
    # a large p early in the order is pulled down by a smaller q of a higher rank
    assert stats.adjust_pvalues_bh([0.02, 0.03]).tolist() == pytest.approx([0.03, 0.03])
    assert stats.adjust_pvalues_bh([math.nan]).tolist()[0] != stats.adjust_pvalues_bh([math.nan]).tolist()[0]
