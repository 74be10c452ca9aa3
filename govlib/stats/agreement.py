"""Agreement between raters and sample sizes for proportions.

Cohen's kappa of two raters from their cross-table, with its large-sample standard error;
Fleiss' kappa of a fixed number of raters per item from the item-by-category count table,
with a seeded bootstrap interval; the sample size that estimates a proportion within a
margin, with the finite-population correction. Inputs are counts (what an engine
aggregation returns), never one row per rating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["KappaEstimate", "cohens_kappa", "fleiss_kappa", "sample_size_proportion"]

BOOTSTRAP_REPLICATES = 2000


@dataclass(frozen=True)
class KappaEstimate:
    """A kappa with its interval: ``method`` says how the interval was made."""

    kappa: float
    ci_low: float
    ci_high: float
    n_items: int
    observed_agreement: float
    method: str
    se: float = math.nan


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def cohens_kappa(table, alpha: float = 0.05) -> KappaEstimate:
    """Cohen's kappa of two raters from their k x k cross-table, with a Wald interval.

    Parameters
    ----------
    table : array_like, shape (k, k)
        Counts: ``table[i, j]`` items rated ``i`` by rater A and ``j`` by rater B.
    alpha : float, default 0.05
        The interval has coverage ``1 - alpha``.

    Returns
    -------
    KappaEstimate
        ``method = "analytic"``; NaN everywhere for an empty table, and NaN kappa when
        both raters used a single and the same category (chance agreement 1).

    Notes
    -----
    kappa = (p_o - p_e) / (1 - p_e), p_o the share of items on the diagonal, p_e the
    agreement expected from the two raters' marginal shares. The standard error is the
    large-sample one of Fleiss, Cohen and Everitt (1969), the ``var_kappa`` of
    ``statsmodels.stats.inter_rater.cohens_kappa`` (the test checks both to 1e-9); the
    interval is kappa ± z SE, clipped to [-1, 1].

    References
    ----------
    .. [1] Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
       Psychological Measurement 20(1), 37-46.
    .. [2] Fleiss, J. L., Cohen, J., Everitt, B. S. (1969). Large sample standard errors of
       kappa and weighted kappa. Psychological Bulletin 72(5), 323-327.
    """
    t = np.asarray(table, dtype=float)
    n = t.sum()
    if n == 0:
        return KappaEstimate(math.nan, math.nan, math.nan, 0, math.nan, "analytic")
    p = t / n
    row, col = p.sum(1), p.sum(0)
    p_o, p_e = float(np.trace(p)), float(row @ col)
    if p_e >= 1.0:
        return KappaEstimate(math.nan, math.nan, math.nan, int(n), p_o, "analytic")
    kappa = (p_o - p_e) / (1 - p_e)
    a = (np.diag(p) * (1 - (row + col) * (1 - kappa)) ** 2).sum()
    off = p * (col[:, None] + row[None, :]) ** 2
    np.fill_diagonal(off, 0.0)
    b = (1 - kappa) ** 2 * off.sum()
    c = (kappa - p_e * (1 - kappa)) ** 2
    se = math.sqrt(max(a + b - c, 0.0) / (1 - p_e) ** 2 / n)
    z = _z(alpha)
    lo, hi = max(-1.0, kappa - z * se), min(1.0, kappa + z * se)
    return KappaEstimate(float(kappa), lo, hi, int(n), p_o, "analytic", se)


def _fleiss(rows: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Fleiss' kappa of distinct item rows ``rows`` (r, k) for each frequency vector in ``freq`` (B, r)."""
    m = rows.sum(1)[0]
    total = freq.sum(1)
    p_cat = (freq @ rows) / (total * m)[:, None]
    p_item = ((rows**2).sum(1) - m) / (m * (m - 1.0))
    p_bar = (freq @ p_item) / total
    p_exp = (p_cat**2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p_exp < 1.0, (p_bar - p_exp) / (1.0 - p_exp), np.nan)


def fleiss_kappa(
    table, freq=None, alpha: float = 0.05, seed: int = 0, replicates: int = BOOTSTRAP_REPLICATES
) -> KappaEstimate:
    """Fleiss' kappa of ``m`` raters per item, with a percentile bootstrap interval over items.

    Parameters
    ----------
    table : array_like, shape (r, k)
        Per item (or per distinct item pattern), how many of its ``m`` ratings fell in each of
        the ``k`` categories; every row sums to the same ``m >= 2``.
    freq : array_like of int, shape (r,), optional
        How many items have each row (default 1 each): aggregated patterns count like the items.
    alpha : float, default 0.05
    seed, replicates : int
        The bootstrap resamples items (multinomially over the patterns) ``replicates`` times
        from ``numpy.random.default_rng(seed)``: the same inputs give the same interval.

    Returns
    -------
    KappaEstimate
        ``method = "bootstrap"``; NaN for no items.

    Raises
    ------
    ValueError
        If the rows do not all have the same number (>= 2) of ratings.

    Notes
    -----
    kappa = (P̄ - P̄_e) / (1 - P̄_e), P̄ the mean over items of the share of agreeing rater
    pairs and P̄_e the sum of squared category shares (Fleiss 1971); equal to
    ``statsmodels.stats.inter_rater.fleiss_kappa`` on the expanded item table (tested to
    1e-9). Fleiss' analytic variance holds only under no agreement, hence the bootstrap.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
       Psychological Bulletin 76(5), 378-382.
    .. [2] Efron, B., Tibshirani, R. J. (1993). An Introduction to the Bootstrap, ch. 13.
    """
    rows = np.atleast_2d(np.asarray(table, dtype=float))
    f = np.ones(len(rows)) if freq is None else np.asarray(freq, dtype=float)
    keep = f > 0
    rows, f = rows[keep], f[keep]
    n = int(f.sum())
    if n == 0:
        return KappaEstimate(math.nan, math.nan, math.nan, 0, math.nan, "bootstrap")
    m = rows.sum(1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise ValueError(f"every item needs the same number (>= 2) of ratings; got {sorted(set(m.tolist()))}")
    kappa = float(_fleiss(rows, f[None, :])[0])
    p_o = float(f @ (((rows**2).sum(1) - m) / (m * (m - 1.0))) / n)
    draws = np.random.default_rng(seed).multinomial(n, f / n, size=replicates).astype(float)
    boot = _fleiss(rows, draws)
    boot = boot[np.isfinite(boot)]
    if math.isnan(kappa) or len(boot) == 0:
        return KappaEstimate(kappa, math.nan, math.nan, n, p_o, "bootstrap")
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return KappaEstimate(kappa, float(lo), float(hi), n, p_o, "bootstrap", float(boot.std(ddof=1)))


def sample_size_proportion(margin: float, population=None, p: float = 0.5, confidence: float = 0.95):
    """Sample size that estimates a proportion within ± ``margin`` at ``confidence``.

    Parameters
    ----------
    margin : float
        Half-width of the interval wanted, in (0, 1).
    population : int or array_like of int, optional
        Stratum sizes N; with them the finite-population correction applies and n <= N.
    p : float, default 0.5
        Expected proportion (0.5, the default, is the worst case).
    confidence : float, default 0.95

    Returns
    -------
    int or ndarray of int
        n0 = z² p (1 - p) / e², rounded up; with N: ceil(n0 / (1 + (n0 - 1) / N)), at most N.

    Notes
    -----
    The normal-approximation (Wald) sample size with Cochran's finite-population correction
    for sampling without replacement (Cochran 1977, eqs. 4.2 and 4.3).

    References
    ----------
    .. [1] Cochran, W. G. (1977). Sampling Techniques, 3rd ed., Wiley, section 4.4.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    if not 0 <= p <= 1 or not 0 < confidence < 1:
        raise ValueError(f"need 0 <= p <= 1 and 0 < confidence < 1, got p={p}, confidence={confidence}")
    n0 = _z(1 - confidence) ** 2 * p * (1 - p) / margin**2
    if population is None:
        return int(math.ceil(n0))
    big_n = np.asarray(population, dtype=float)
    n = np.ceil(n0 / (1 + (n0 - 1) / np.maximum(big_n, 1)))
    n = np.minimum(n, big_n).astype(np.int64)
    return int(n) if n.ndim == 0 else n
