"""Intervals and change tests of proportions and rates.

Flat, verb-named functions on numbers (no DataFrames, no I/O). ``statsmodels`` and
``scipy`` do the mathematics; this module fixes the conventions of govlib on top of
them: an empty denominator gives NaN (never 0), and the degenerate cases the libraries
reject (no events at all, zero exposure) get a documented answer instead of an
exception.

Functions
---------
proportion_interval
    Confidence interval of a binomial proportion (Wilson score by default).
test_proportions_2indep
    Two-sample test of proportions (score test), for rates month over month.
test_poisson_rates
    Exact conditional test of two Poisson rates, for counts month over month.
flag_change
    Significant *and* material change.
adjust_pvalues_bh
    Benjamini-Hochberg q-values of a family of tests (false discovery rate).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd


# scipy.stats and statsmodels cost about a second of CPU to import: loaded on first use, so that a
# report kernel importing govlib.metrics pays for them only when it computes a test or interval.
def _sps():
    from scipy import stats

    return stats


def _smprop():
    from statsmodels.stats import proportion

    return proportion


def _smrates():
    from statsmodels.stats import rates

    return rates


__all__ = [
    "proportion_interval",
    "test_proportions_2indep",
    "test_poisson_rates",
    "flag_change",
    "adjust_pvalues_bh",
    "TestResult",
    "PROPORTION_INTERVAL_METHODS",
]

PROPORTION_INTERVAL_METHODS = ("wilson", "beta", "agresti_coull", "jeffreys", "normal")


class TestResult(NamedTuple):
    """Result of a two-sample test: ``statistic`` (NaN for exact tests), ``pvalue``,
    ``estimate1`` and ``estimate2`` (the two proportions or rates compared)."""

    __test__ = False  # not a pytest test class despite its name

    statistic: float
    pvalue: float
    estimate1: float
    estimate2: float


def proportion_interval(count, nobs, alpha: float = 0.05, method: str = "wilson") -> tuple[float, float]:
    """Two-sided confidence interval of a binomial proportion ``count / nobs``.

    Parameters
    ----------
    count : int
        Number of successes (the numerator).
    nobs : int
        Number of trials (the denominator). ``nobs == 0`` gives ``(nan, nan)``.
    alpha : float, default 0.05
        Significance level; the interval has coverage ``1 - alpha``.
    method : {"wilson", "beta", "agresti_coull", "jeffreys", "normal"}
        ``"wilson"`` is the Wilson score interval without continuity correction
        (govlib's default for every rate); ``"beta"`` is Clopper-Pearson.

    Returns
    -------
    (low, high) : tuple of float

    Raises
    ------
    ValueError
        If ``method`` is unknown, or ``count`` is negative or exceeds ``nobs``.

    Notes
    -----
    Computed by ``statsmodels.stats.proportion.proportion_confint``. The Wilson
    interval stays inside [0, 1] and keeps close to nominal coverage for small
    counts and proportions near 0 or 1, where the normal (Wald) interval fails
    (Brown, Cai and DasGupta 2001). It equals R's
    ``prop.test(count, nobs, correct = FALSE)$conf.int``.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA 22(158), 209-212.
    .. [2] Newcombe, R. G. (1998). Two-sided confidence intervals for the single
       proportion: comparison of seven methods. Statistics in Medicine 17, 857-872.
    .. [3] Brown, L. D., Cai, T. T., DasGupta, A. (2001). Interval estimation for a
       binomial proportion. Statistical Science 16(2), 101-133.
    """
    if method not in PROPORTION_INTERVAL_METHODS:
        raise ValueError(f"method must be one of {PROPORTION_INTERVAL_METHODS}, got {method!r}")
    if count is None or nobs is None or _isnan(count) or _isnan(nobs) or nobs == 0:
        return (math.nan, math.nan)
    if count < 0 or nobs < 0 or count > nobs:
        raise ValueError(f"need 0 <= count <= nobs, got count={count}, nobs={nobs}")
    low, high = _smprop().proportion_confint(count, nobs, alpha=alpha, method=method)
    return (float(low), float(high))


def test_proportions_2indep(count1, nobs1, count2, nobs2, alternative: str = "two-sided") -> TestResult:
    """Test that two independent proportions are equal (score test).

    Compares ``p1 = count1 / nobs1`` (e.g. this month) with ``p2 = count2 / nobs2``
    (e.g. last month or the same month last year).

    Parameters
    ----------
    count1, nobs1, count2, nobs2 : int
        Successes and trials of each sample.
    alternative : {"two-sided", "larger", "smaller"}
        ``"larger"`` tests ``p1 > p2``.

    Returns
    -------
    TestResult
        ``statistic`` (z), ``pvalue``, ``estimate1 = p1``, ``estimate2 = p2``. An empty
        sample gives NaN everywhere it is undefined. When both samples have no
        variation and equal proportions (e.g. 0 of 40 and 0 of 55) the test is
        degenerate; the observed difference is 0 and the p-value is 1.

    Notes
    -----
    ``statsmodels.stats.proportion.test_proportions_2indep(method="score",
    compare="diff", correction=False)``: the score test of Miettinen and Nurminen
    without their ``n / (n - 1)`` variance factor, which for a zero null difference is
    the pooled two-proportion z test (``z**2`` is Pearson's chi-square without
    continuity correction, R ``prop.test(c(count1, count2), c(nobs1, nobs2),
    correct = FALSE)``).

    References
    ----------
    .. [1] Miettinen, O., Nurminen, M. (1985). Comparative analysis of two rates.
       Statistics in Medicine 4, 213-226.
    .. [2] Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.1.
    """
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    p1 = count1 / nobs1 if nobs1 else math.nan
    p2 = count2 / nobs2 if nobs2 else math.nan
    if not nobs1 or not nobs2:
        return TestResult(math.nan, math.nan, p1, p2)
    pooled = (count1 + count2) / (nobs1 + nobs2)
    if pooled in (0.0, 1.0):
        return TestResult(0.0, 1.0, p1, p2)
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels also computes ratio and odds ratio
        res = _smprop().test_proportions_2indep(
            count1,
            nobs1,
            count2,
            nobs2,
            method="score",
            compare="diff",
            alternative=alternative,
            correction=False,
        )
    return TestResult(float(res.statistic), float(res.pvalue), p1, p2)


def test_poisson_rates(
    count1, exposure1=1.0, count2=0, exposure2=1.0, alternative: str = "two-sided"
) -> TestResult:
    """Exact conditional test that two Poisson rates are equal.

    Compares ``r1 = count1 / exposure1`` (e.g. actions this month, exposure = days in
    the month) with ``r2 = count2 / exposure2``.

    Parameters
    ----------
    count1, count2 : int
        Event counts.
    exposure1, exposure2 : float, default 1.0
        Exposure of each count (days, views, creators). Equal exposures compare the
        counts themselves.
    alternative : {"two-sided", "larger", "smaller"}
        ``"larger"`` tests ``r1 > r2``.

    Returns
    -------
    TestResult
        ``statistic`` is NaN (exact test), ``pvalue``, ``estimate1 = r1``,
        ``estimate2 = r2``. When both counts are 0 there is no evidence of a
        change: p-value 1. A zero exposure gives NaN.

    Notes
    -----
    ``statsmodels.stats.rates.test_poisson_2indep(method="exact-cond")``: given the
    total ``count1 + count2``, ``count1`` is binomial with
    ``p = exposure1 / (exposure1 + exposure2)`` under the null, and the test is the
    exact binomial test (Przyborowski and Wilenski 1940), R
    ``poisson.test(c(count1, count2), c(exposure1, exposure2))``.

    References
    ----------
    .. [1] Przyborowski, J., Wilenski, H. (1940). Homogeneity of results in testing
       samples from Poisson series. Biometrika 31, 313-323.
    .. [2] Gu, K., Ng, H. K. T., Tang, M. L., Schucany, W. R. (2008). Testing the
       ratio of two Poisson rates. Biometrical Journal 50(2), 283-298.
    """
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    if not exposure1 or not exposure2 or exposure1 < 0 or exposure2 < 0:
        return TestResult(math.nan, math.nan, math.nan, math.nan)
    r1, r2 = count1 / exposure1, count2 / exposure2
    if count1 + count2 == 0:
        return TestResult(math.nan, 1.0, r1, r2)
    res = _smrates().test_poisson_2indep(
        int(count1), exposure1, int(count2), exposure2, method="exact-cond", alternative=alternative
    )
    return TestResult(math.nan, float(res.pvalue), r1, r2)


# not pytest tests, even when imported into a test module
test_proportions_2indep.__test__ = False  # type: ignore[attr-defined]
test_poisson_rates.__test__ = False  # type: ignore[attr-defined]


def flag_change(new, old, pvalue, alpha: float = 0.05, min_relative: float = 0.10, min_absolute: float = 0.0):
    """Flag a change that is both statistically significant and material.

    Parameters
    ----------
    new, old : float or array-like
        The value this period and in the comparison period (a rate or a count).
    pvalue : float or array-like
        p-value of the test of no change (:func:`test_proportions_2indep` for rates,
        :func:`test_poisson_rates` for counts).
    alpha : float, default 0.05
        Significance level: significant when ``pvalue < alpha``.
    min_relative : float, default 0.10
        Material when ``|new - old| / |old| >= min_relative`` (a change from 0 to
        anything non-zero is infinitely large, hence material).
    min_absolute : float, default 0.0
        ... and ``|new - old| >= min_absolute`` (e.g. 0.01 = one percentage point
        for rates, or 5 actions for counts).

    Returns
    -------
    bool or numpy.ndarray of bool
        False wherever an input is NaN (an unknown change is never flagged).

    Notes
    -----
    With many cells (policies x months) a significant-only rule flags trivial
    changes in large cells and a material-only rule flags noise in small ones;
    requiring both is the usual reporting rule of monitoring dashboards. Both
    thresholds are parameters so a report states the rule it used.

    References
    ----------
    .. [1] Wasserstein, R. L., Lazar, N. A. (2016). The ASA statement on p-values:
       context, process, and purpose. The American Statistician 70(2), 129-133.
    """
    new_a, old_a, p_a = (np.asarray(x, dtype=float) for x in (new, old, pvalue))
    diff = np.abs(new_a - old_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(old_a == 0, np.where(diff > 0, np.inf, 0.0), diff / np.abs(old_a))
    known = ~(np.isnan(new_a) | np.isnan(old_a) | np.isnan(p_a))
    out = known & (p_a < alpha) & (rel >= min_relative) & (diff >= min_absolute)
    return bool(out) if out.ndim == 0 else out


def adjust_pvalues_bh(pvalues) -> np.ndarray:
    """Benjamini-Hochberg q-values of a family of p-values; NaN (untested) stays NaN.

    Parameters
    ----------
    pvalues : array-like of float
        One p-value per tested cell of a table; NaN where a cell was not tested.

    Returns
    -------
    numpy.ndarray of float
        ``q`` with the shape of ``pvalues``: a cell is a discovery at false discovery
        rate ``alpha`` when ``q < alpha``. Untested cells do not count in the family.

    Notes
    -----
    A table of hundreds of cells tested at 5% flags about one in twenty by chance alone;
    comparing the q-value instead of the p-value with ``alpha`` keeps the expected share
    of false flags among the flagged cells at most ``alpha`` (under independence or
    positive dependence). Computed by ``statsmodels.stats.multitest.multipletests``
    (``method="fdr_bh"``).

    References
    ----------
    .. [1] Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate: a
       practical and powerful approach to multiple testing. JRSS B 57(1), 289-300.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    return q


def _isnan(x) -> bool:
    return bool(pd.isna(x))
