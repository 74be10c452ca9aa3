"""Survey estimation: a prevalence from a weighted, stratified sample.

Functions
---------
estimate_prevalence
    Weighted, stratified ratio estimator of a prevalence with a design-based interval
    and a one-sided upper bound for rare events.
estimate_prevalence_from_totals
    The same for one stratum, from the sums an engine computes over the items.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


# scipy.stats costs about a second of CPU to import: loaded on first use (see govlib.stats.intervals).
def _sps():
    from scipy import stats

    return stats


__all__ = [
    "estimate_prevalence",
    "estimate_prevalence_from_totals",
    "PrevalenceEstimate",
    "PREVALENCE_INTERVAL_METHODS",
]

PREVALENCE_INTERVAL_METHODS = ("korn-graubard", "wald")


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
    return _estimate(p, var, n, n_viol, n_strata, total, alpha, method, rare_count)


def _estimate(
    p: float,
    var: float,
    n: int,
    n_viol: int,
    n_strata: int,
    total: float,
    alpha: float,
    method: str,
    rare_count: int,
) -> PrevalenceEstimate:
    """The estimate and its interval from the ratio ``p`` and its linearised variance ``var``."""
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


def estimate_prevalence_from_totals(
    n: int,
    n_violating: int,
    weight_total: float,
    weight_violating: float,
    weight_sq_violating: float,
    weight_sq_other: float,
    alpha: float = 0.05,
    method: str = "korn-graubard",
    rare_count: int = 10,
) -> PrevalenceEstimate:
    """:func:`estimate_prevalence` of one stratum from its totals instead of its items.

    The ratio ``p = sum(w * y) / sum(w)`` and its linearised variance
    ``n / (n - 1) * sum((z_i - mean(z))**2)`` with ``z_i = w_i (y_i - p) / sum(w)`` depend
    on the items only through ``n``, ``sum(y)``, ``sum(w)``, ``sum(w * y)``,
    ``sum(w**2 * y)`` and ``sum(w**2 * (1 - y))`` for a 0/1 ``y``; an engine computes these
    sums where the items are (e.g. every content item of a month) and only they reach
    Python.

    Parameters
    ----------
    n, n_violating : int
        Items, and items with ``y = 1``.
    weight_total, weight_violating : float
        ``sum(w)`` and ``sum(w * y)``.
    weight_sq_violating, weight_sq_other : float
        ``sum(w**2)`` over the items with ``y = 1`` and over the others.
    alpha, method, rare_count
        As :func:`estimate_prevalence`.

    Returns
    -------
    PrevalenceEstimate
        Equal to :func:`estimate_prevalence` of the items (to rounding), ``n_strata`` 1.

    Notes
    -----
    ``sum(z_i**2) = ((1 - p)**2 * sum(w**2 y) + p**2 * sum(w**2 (1 - y))) / sum(w)**2``
    and ``mean(z) = (sum(w y) - p sum(w)) / (n sum(w))`` (zero up to rounding).
    """
    if method not in PREVALENCE_INTERVAL_METHODS:
        raise ValueError(f"method must be one of {PREVALENCE_INTERVAL_METHODS}, got {method!r}")
    n, n_viol, total = int(n), int(n_violating), float(weight_total)
    n_strata = 1 if n else 0
    if n == 0 or total == 0:
        nan = math.nan
        return PrevalenceEstimate(nan, nan, nan, nan, nan, n, n_viol, n_strata, total, nan, False)
    p = float(weight_violating) / total
    var = 0.0
    if n > 1 and 0.0 < p < 1.0:  # p of 0 or 1: every z_i is 0, no variance
        sum_z2 = ((1 - p) ** 2 * float(weight_sq_violating) + p**2 * float(weight_sq_other)) / total**2
        z_mean = (float(weight_violating) - p * total) / (n * total)
        var = max(n / (n - 1) * (sum_z2 - n * z_mean**2), 0.0)
    return _estimate(p, var, n, n_viol, n_strata, total, alpha, method, rare_count)
