"""Statistics shared by every metric: intervals, change tests, survey prevalence.

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
estimate_prevalence
    Weighted, stratified ratio estimator of a prevalence with a design-based interval
    and a one-sided upper bound for rare events.
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
    "estimate_prevalence",
    "TestResult",
    "PrevalenceEstimate",
    "PROPORTION_INTERVAL_METHODS",
    "PREVALENCE_INTERVAL_METHODS",
]

PROPORTION_INTERVAL_METHODS = ("wilson", "beta", "agresti_coull", "jeffreys", "normal")
PREVALENCE_INTERVAL_METHODS = ("korn-graubard", "wald")


class TestResult(NamedTuple):
    """Result of a two-sample test: ``statistic`` (NaN for exact tests), ``pvalue``,
    ``estimate1`` and ``estimate2`` (the two proportions or rates compared)."""

    __test__ = False  # not a pytest test class despite its name

    statistic: float
    pvalue: float
    estimate1: float
    estimate2: float


class PrevalenceEstimate(NamedTuple):
    """Result of :func:`estimate_prevalence` (see its docstring for each field)."""

    value: float
    se: float
    ci_low: float
    ci_high: float
    upper_bound: float
    n_samples: int
    n_violating: int
    n_strata: int
    weight_total: float
    effective_n: float
    is_rare: bool


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


_ROUNDING = 64 * np.finfo(float).eps  # relative spread below which values count as equal


def estimate_prevalence(
    is_violating,
    weight=None,
    stratum=None,
    alpha: float = 0.05,
    method: str = "korn-graubard",
    rare_count: int = 10,
) -> PrevalenceEstimate:
    """Weighted (stratified) prevalence of violating views from a view sample.

    Definition: ``p = sum(w_i * y_i) / sum(w_i)`` over the sampled items, with
    ``y_i = 1`` when item *i* violates policy and ``w_i`` the number of views it
    represents (1 / inclusion probability). Denominator: the estimated total views
    ``sum(w_i)``.

    Parameters
    ----------
    is_violating : array-like of bool or 0/1
        Label of each sample.
    weight : array-like of float, optional
        Sampling weights (>= 0). None means equal weights.
    stratum : array-like, optional
        Sampling stratum of each sample. None (or all null) means one stratum.
    alpha : float, default 0.05
        The interval is two-sided with coverage ``1 - alpha``; ``upper_bound`` is the
        one-sided ``1 - alpha/2`` upper bound (97.5% by default).
    method : {"korn-graubard", "wald"}
        ``"korn-graubard"`` (default): Clopper-Pearson interval on the effective
        sample size, with the degrees-of-freedom correction of Korn and Graubard
        (1998) (R ``survey::svyciprop(method = "beta")``); it stays in [0, 1] and
        keeps coverage for rare events. ``"wald"``: ``p +/- z * se``, clipped to [0, 1].
    rare_count : int, default 10
        ``is_rare`` is True when fewer than ``rare_count`` sampled items violate;
        a report should then state "no more than ``upper_bound * 10,000`` per
        10,000 views" rather than the point estimate (Meta CSER practice).

    Returns
    -------
    PrevalenceEstimate
        ``value``, ``se`` (design-based standard error), ``ci_low``, ``ci_high``,
        ``upper_bound``, ``n_samples``, ``n_violating``, ``n_strata``,
        ``weight_total``, ``effective_n`` (``p(1-p)/se**2``, or ``n_samples``
        when ``p`` is 0 or 1), ``is_rare``. No samples (or zero total weight) gives
        NaN for every estimate.

    Raises
    ------
    ValueError
        Negative or missing weights, lengths that differ, an unknown ``method``.

    Notes
    -----
    The estimator is the combined ratio estimator of a stratified sample (Cochran
    1977, section 6.11; Lohr 2022, sections 3.2 and 4.3): the weights already expand
    each stratum, so stratification only changes the variance. Its variance is
    estimated by linearisation, treating strata as independent and sampling within a
    stratum as with replacement (no finite-population correction; conservative when
    sampling fractions are small, as for views)::

        z_i = w_i * (y_i - p) / sum(w)
        var(p) = sum_h  n_h / (n_h - 1) * sum_{i in h} (z_i - mean_h(z))**2

    which is R ``survey::svymean`` on ``svydesign(ids = ~1, strata = ~stratum,
    weights = ~weight)``. A stratum with a single sample contributes no variance
    (R's ``options(survey.lonely.psu = "certainty")``), and so does a stratum whose
    ``z_i`` are equal within rounding (relative spread below ``64 * eps``): the
    ``1e-38`` that floating point leaves there is not a variance.

    Korn-Graubard: ``n_eff = p(1-p)/var(p) * (t_{n-1} / t_{n-H})**2`` where ``H`` is the
    number of strata; the interval is the Clopper-Pearson interval with
    ``x = n_eff * p`` successes of ``n_eff`` trials (beta quantiles). With no
    violating sample the design effect cannot be estimated and ``n_eff = n``; the
    upper bound is then ``1 - (alpha/2)**(1/n)`` (about 3.7 / n for 97.5%).

    Limitation: when the stratum carrying most of the weight expects fewer than
    about one violating sample, its variance is usually estimated as 0 and no
    design-based interval reaches nominal coverage (simulated: 75% for a stratum
    with 76% of the weight and 0.4 expected violations). Allocate samples so every
    heavy stratum expects a few violating items.

    References
    ----------
    .. [1] Cochran, W. G. (1977). Sampling Techniques, 3rd ed. Wiley. Sections 5A and 6.11.
    .. [2] Lohr, S. L. (2022). Sampling: Design and Analysis, 3rd ed. CRC. Chapters 3-4, 9.
    .. [3] Korn, E. L., Graubard, B. I. (1998). Confidence intervals for proportions
       with small expected number of positive counts estimated from survey data.
       Survey Methodology 24(2), 193-201.
    .. [4] Meta, Community Standards Enforcement Report: prevalence
       ("no more than X views of every 10,000"). https://transparency.meta.com/
    .. [5] YouTube, Violative View Rate. https://transparencyreport.google.com/youtube-policy/
    """
    if method not in PREVALENCE_INTERVAL_METHODS:
        raise ValueError(f"method must be one of {PREVALENCE_INTERVAL_METHODS}, got {method!r}")
    y = np.asarray(is_violating, dtype=float)
    n = y.size
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != y.shape:
        raise ValueError(f"weight has {w.size} values but is_violating has {n}")
    if np.isnan(y).any():
        raise ValueError(f"is_violating has {int(np.isnan(y).sum())} missing values")
    if np.isnan(w).any() or (w < 0).any():
        bad = int((np.isnan(w) | (w < 0)).sum())
        raise ValueError(f"weight has {bad} missing or negative values; weights must be >= 0")
    if stratum is None:
        codes = np.zeros(n, dtype=int)
    else:
        s = np.asarray(stratum, dtype=object)
        if s.shape != y.shape:
            raise ValueError(f"stratum has {s.size} values but is_violating has {n}")
        # missing strata form one stratum of their own
        s = np.array(
            ["\0missing" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in s]
        )
        _, codes = np.unique(s, return_inverse=True)
    n_viol = int((y > 0).sum())
    n_strata = int(np.unique(codes).size) if n else 0
    total = float(w.sum())
    if n == 0 or total == 0:
        nan = math.nan
        return PrevalenceEstimate(nan, nan, nan, nan, nan, n, n_viol, n_strata, total, nan, False)

    p = float((w * y).sum() / total)
    z = w * (y - p) / total
    var = 0.0
    for h in np.unique(codes):
        zh = z[codes == h]
        nh = zh.size
        # values equal within rounding carry no variance: their deviations from a rounded mean
        # (~1e-20) would otherwise give an astronomic effective n and a NaN interval
        if nh > 1 and np.ptp(zh) > _ROUNDING * np.abs(zh).max():
            var += nh / (nh - 1) * float(((zh - zh.mean()) ** 2).sum())
    se = math.sqrt(var)

    if 0.0 < p < 1.0 and var > 0:
        n_eff = p * (1 - p) / var
    else:
        n_eff = float(n)
    df = n - n_strata
    if method == "korn-graubard":
        if df >= 1 and n > 1:
            n_eff_adj = n_eff * (_sps().t.ppf(alpha / 2, n - 1) / _sps().t.ppf(alpha / 2, df)) ** 2
        else:
            n_eff_adj = n_eff
        x = n_eff_adj * p
        low = 0.0 if x <= 0 else float(_sps().beta.ppf(alpha / 2, x, n_eff_adj - x + 1))
        high = 1.0 if x >= n_eff_adj else float(_sps().beta.ppf(1 - alpha / 2, x + 1, n_eff_adj - x))
    else:
        zq = float(_sps().norm.ppf(1 - alpha / 2))
        low, high = max(0.0, p - zq * se), min(1.0, p + zq * se)
    return PrevalenceEstimate(
        value=p,
        se=se,
        ci_low=low,
        ci_high=high,
        upper_bound=high,
        n_samples=int(n),
        n_violating=n_viol,
        n_strata=n_strata,
        weight_total=total,
        effective_n=float(n_eff),
        is_rare=n_viol < rare_count,
    )


def _isnan(x) -> bool:
    return bool(pd.isna(x))
