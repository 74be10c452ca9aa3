"""Outbreak-surveillance statistics on weekly counts: quasi-Poisson baselines, predictive
p-values, CUSUM and EWMA charts.

Flat functions on arrays (no governance tables); :mod:`govlib.metrics.trends` builds the weekly
enforcement series and the alarms on top of them.

Functions
---------
fit_quasi_poisson_baseline
    The Farrington (1996) / Noufaily (2013) baseline of one target week: a log-link
    quasi-Poisson GLM with trend (and, on long baselines, seasonality) fitted on past
    weeks, past outbreaks down-weighted.
fit_quasi_poisson_baselines
    The same for many baselines at once (one stacked IRLS per design).
predictive_pvalue, predictive_upper, predictive_zscore
    How surprising an observed count is under the baseline's predictive distribution.
cusum_poisson, ewma_poisson
    Count control charts (Lucas 1985; Borror, Champ & Rigdon 1998) on the
    baseline-standardised counts; ``cusum_statistic``, ``ewma_statistic`` and
    ``ewma_limit`` are their recursions and limit.

No maintained Python package implements the Farrington family (``epysurv`` wraps R's
``surveillance`` and is unmaintained), so the baseline is a small implementation,
following ``surveillance::farringtonFlexible`` (Salmon, Schumacher & Hoehle 2016) where
the papers leave a choice open. Its Poisson GLMs are fitted by an IRLS that runs many
fits as one stack (checked against statsmodels' GLM in the tests). See ``docs/trends.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlib.errors import GovlibError

__all__ = [
    "BaselineFit",
    "SurveillanceError",
    "cusum_poisson",
    "cusum_statistic",
    "ewma_limit",
    "ewma_poisson",
    "ewma_statistic",
    "fit_quasi_poisson_baseline",
    "fit_quasi_poisson_baselines",
    "predictive_pvalue",
    "predictive_upper",
    "predictive_zscore",
]

WEEKS_PER_YEAR = 365.2425 / 7


class SurveillanceError(GovlibError):
    """Input to the surveillance statistics or the trend detection is missing columns or holds unusable values."""


@dataclass(frozen=True)
class BaselineFit:
    """Result of :func:`fit_quasi_poisson_baseline` for one target week.

    ``expected`` is the predicted count of the target week, ``dispersion`` the
    quasi-Poisson scale phi (>= 1), ``var_log_expected`` the variance of the linear
    predictor at the target (parameter uncertainty), ``trend`` whether the trend term
    was kept, ``harmonics`` the number of seasonal harmonic pairs and ``n_baseline`` the
    number of past weeks fitted.
    """

    expected: float
    dispersion: float
    var_log_expected: float
    trend: bool
    harmonics: int
    n_baseline: int


def _design(t: np.ndarray, trend: bool, harmonics: int) -> np.ndarray:
    """Design matrix (weeks x columns: intercept, trend, harmonic pairs) of time vector ``t``."""
    return _design_batch(t, trend, harmonics)


def _design_batch(t: np.ndarray, trend: bool, harmonics: int) -> np.ndarray:
    """:func:`_design` of a time vector (weeks x columns) or a stack of them (fits x weeks x columns)."""
    cols = [np.ones_like(t, dtype=float)]
    if trend:
        cols.append(t.astype(float))
    for j in range(1, harmonics + 1):
        ang = 2 * np.pi * j * t / WEEKS_PER_YEAR
        cols += [np.sin(ang), np.cos(ang)]
    return np.stack(cols, axis=-1)


def _anscombe_standardised(y, mu, phi, X, w):
    """Standardised Anscombe residuals of Poisson GLMs (Farrington 1996, eq. 2).

    Stacked: ``y, mu, w`` are fits x weeks, ``X`` fits x weeks x columns, ``phi`` one per
    fit; rows with ``w == 0`` (padding) have hat value 0.
    """
    ra = 1.5 * (np.power(y, 2 / 3) - np.power(mu, 2 / 3)) / np.power(mu, 1 / 6)
    wx = X * np.sqrt(w * mu)[:, :, None]
    hat = np.einsum("mij,mjk,mik->mi", wx, np.linalg.pinv(wx.transpose(0, 2, 1) @ wx), wx)
    return ra / np.sqrt(phi[:, None] * np.clip(1 - hat, 1e-8, None))


@dataclass(frozen=True)
class _GlmFit:
    params: np.ndarray  # fits x columns
    mu: np.ndarray  # fits x weeks
    scale: np.ndarray  # Pearson chi2 / residual df, per fit
    cov: np.ndarray  # covariance of params at that scale, fits x columns x columns
    pvalues: np.ndarray  # Wald, normal reference, fits x columns


def _solve_stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a singular system somewhere in the stack: one by one
        out = np.empty_like(b)
        for i in range(len(a)):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.linalg.pinv(a[i]) @ b[i]
        return out


def _glm_stack(y, X, offset, w, n, maxiter: int = 100, tol: float = 1e-10) -> _GlmFit:
    """Stacked Poisson log-link GLMs with variance weights by IRLS, quasi-Poisson scale.

    Each fit ``m`` is ``statsmodels.api.GLM(y[m], X[m], family=Poisson(), offset=offset[m],
    var_weights=w[m]).fit(scale="X2")`` on its ``n[m]`` real rows; padding rows carry
    ``w == 0`` (and finite ``y, offset``) and do not change the fit. Every fit iterates
    and stops on its own, with statsmodels' start values and deviance criterion.
    Written out because the detector fits thousands of 26-row models and statsmodels'
    per-fit overhead (~4 ms) dominated the monthly run; stacking the fits of all series
    that share a design removes numpy's per-call overhead too. Checked against
    statsmodels to 1e-8 (``tests/test_trends.py::test_stacked_baseline_fits_match_statsmodels``).
    """
    from scipy.special import ndtr

    m, _, k = X.shape
    n = np.asarray(n, dtype=float)
    mu = (y + (y.sum(axis=1) / n)[:, None]) / 2.0  # statsmodels' starting values
    eta = np.log(mu)
    beta = np.zeros((m, k))
    dev_old = np.full(m, np.inf)
    active = np.arange(m)
    for _ in range(maxiter):
        ya, Xa, oa, wa, mua = y[active], X[active], offset[active], w[active], mu[active]
        z = eta[active] - oa + (ya - mua) / mua
        xtw = Xa.transpose(0, 2, 1) * (wa * mua)[:, None, :]
        b = _solve_stack(xtw @ Xa, (xtw @ z[:, :, None])[:, :, 0])
        e = np.clip((Xa @ b[:, :, None])[:, :, 0] + oa, -700, 700)
        mua = np.exp(e)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2 * np.sum(wa * (np.where(ya > 0, ya * np.log(ya / mua), 0.0) - (ya - mua)), axis=1)
        beta[active], eta[active], mu[active] = b, e, mua
        done = np.abs(dev - dev_old[active]) <= tol * (np.abs(dev) + 0.1)
        dev_old[active] = dev
        active = active[~done]
        if not len(active):
            break
    df = np.maximum(n - k, 1)
    scale = np.sum(w * (y - mu) ** 2 / mu, axis=1) / df
    cov = np.linalg.pinv((X.transpose(0, 2, 1) * (w * mu)[:, None, :]) @ X) * scale[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        zstat = beta / np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return _GlmFit(beta, mu, scale, cov, 2 * ndtr(-np.abs(zstat)))


def _glm(y, X, offset, w, maxiter: int = 100, tol: float = 1e-10) -> _GlmFit:
    """One fit of :func:`_glm_stack` (``statsmodels GLM(..., Poisson(), var_weights=w).fit(scale="X2")``)."""
    f = _glm_stack(y[None], X[None], offset[None], w[None], [len(y)], maxiter, tol)
    return _GlmFit(f.params[0], f.mu[0], float(f.scale[0]), f.cov[0], f.pvalues[0])


def fit_quasi_poisson_baselines(
    y,
    exposure,
    time,
    mask,
    target_time,
    target_exposure,
    *,
    trend=True,
    trend_alpha=0.05,
    cap_at_max=False,
    reweight=True,
    reweight_threshold=2.58,
    harmonics="auto",
) -> dict:
    """:func:`fit_quasi_poisson_baseline` of many baselines at once (one per row).

    ``y, exposure, time, mask`` are fits x weeks; ``mask`` marks each fit's baseline weeks
    (the others are padding: any finite values, exposure > 0). ``target_time`` and
    ``target_exposure`` have one value per fit. Returns a dict of arrays named as the
    fields of :class:`BaselineFit`. Fits that share a design (trend kept or not, number of
    harmonics) run as one :func:`_glm_stack`.
    """
    mask = np.asarray(mask, dtype=bool)
    y = np.where(mask, y, 0.0)
    e = np.where(mask, exposure, 1.0)
    t = np.where(mask, time, 0.0)
    target_time = np.asarray(target_time, dtype=float)
    target_exposure = np.asarray(target_exposure, dtype=float)
    m = len(y)
    n = mask.sum(axis=1)
    hh = _stack_harmonics(mask, t, n, harmonics)
    out = {
        "expected": np.zeros(m),
        "dispersion": np.ones(m),
        "var_log_expected": np.zeros(m),
        "trend": np.zeros(m, dtype=bool),
        "harmonics": np.zeros(m, dtype="int64"),
        "n_baseline": n.astype("int64"),
    }
    # a baseline without any count: expected 0, dispersion 1 (no model can be fitted to all zeros)
    todo = (n > 0) & (y.sum(axis=1) > 0)
    use_trend = trend & (n >= 3) & todo
    offset = np.log(e)
    max_rate = np.max(np.where(mask, y / e, -np.inf), axis=1, initial=-np.inf)
    while todo.any():
        retry = np.zeros(m, dtype=bool)
        for tr, h in sorted(set(zip(use_trend[todo].tolist(), hh[todo].tolist()))):
            idx = np.flatnonzero(todo & (use_trend == tr) & (hh == h))
            # centre time on the target: the intercept is then the target's log rate
            X = _design_batch(t[idx] - target_time[idx, None], tr, h)
            yi, oi, ni = y[idx], offset[idx], n[idx]
            fit, phi = _fit_stack(yi, X, oi, mask[idx], ni, reweight, reweight_threshold)
            x0 = _design(np.array([0.0]), tr, h)[0]
            mu0 = np.exp(fit.params @ x0 + np.log(target_exposure[idx]))
            keep = np.ones(len(idx), dtype=bool)
            if tr:
                pval = fit.pvalues[:, 1]
                too_high = cap_at_max & (mu0 > max_rate[idx] * target_exposure[idx])
                keep = np.isfinite(pval) & (pval < trend_alpha) & ~too_high
                retry[idx[~keep]] = True
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(fit.scale > 0, phi / fit.scale, 1.0)
            cov = fit.cov * ratio[:, None, None]
            var_eta = np.einsum("k,mkj,j->m", x0, cov, x0)
            sel = idx[keep]
            out["expected"][sel] = mu0[keep]
            out["dispersion"][sel] = phi[keep]
            out["var_log_expected"][sel] = np.maximum(var_eta[keep], 0.0)
            out["trend"][sel] = tr
            out["harmonics"][sel] = h
        # Farrington: a trend that is not significant (or extrapolates too far) is dropped, and refitted
        use_trend = use_trend & ~retry
        todo = retry
    return out


def _stack_harmonics(mask, t, n, harmonics) -> np.ndarray:
    """Number of seasonal harmonics per fit: with ``"auto"``, one if the baseline spans two years.

    A fit keeps its harmonics only if it has more weeks than parameters + 2.
    """
    if harmonics == "auto":
        span = (
            np.max(np.where(mask, t, -np.inf), axis=1, initial=-np.inf)
            - np.min(np.where(mask, t, np.inf), axis=1, initial=np.inf)
            + 1
        )
        hh = np.where((n > 0) & (span >= 2 * WEEKS_PER_YEAR), 1, 0)
    else:
        hh = np.full(len(n), int(harmonics))
    return np.where(n > 2 + 2 * hh + 2, hh, 0)


def _fit_stack(yi, X, oi, mask, ni, reweight: bool, reweight_threshold: float):
    """One :func:`_glm_stack` fit of a design group, refitted with outlier weights if ``reweight``.

    Weeks with an Anscombe residual above ``reweight_threshold`` get weight ``r**-2``
    (weights rescaled to sum to the number of baseline weeks). Returns the fit and the
    dispersion (at least 1).
    """
    w = mask.astype(float)
    fit = _glm_stack(yi, X, oi, w, ni)
    phi = np.maximum(1.0, fit.scale)
    if reweight:
        r = _anscombe_standardised(yi, fit.mu, phi, X, w)
        w = np.where(
            mask,
            np.where(r > reweight_threshold, np.power(np.maximum(r, 1e-12), -2.0), 1.0),
            0.0,
        )
        w = w * ni[:, None] / w.sum(axis=1)[:, None]
        fit = _glm_stack(yi, X, oi, w, ni)
        phi = np.maximum(1.0, fit.scale)
    return fit, phi


def fit_quasi_poisson_baseline(
    observed: Sequence[float],
    exposure: Sequence[float],
    time: Sequence[float],
    *,
    target_time: float,
    target_exposure: float,
    trend: bool = True,
    trend_alpha: float = 0.05,
    cap_at_max: bool = False,
    reweight: bool = True,
    reweight_threshold: float = 2.58,
    harmonics: int | str = "auto",
) -> BaselineFit:
    """Expected count of a target week from a quasi-Poisson GLM on past weeks.

    Fits ``log E[y_i] = log(exposure_i) + a + b t_i (+ seasonal harmonics)`` with a
    Poisson log-link GLM whose scale phi is the Pearson chi2 / residual df (statsmodels
    ``scale="X2"``), floored at 1, and predicts the target week.

    Parameters
    ----------
    observed, exposure, time : sequences
        Baseline weeks only (the caller leaves the current weeks out): counts, exposure
        (days/7 or published content; must be > 0) and week index.
    target_time, target_exposure : float
        Week index and exposure of the week to predict.
    trend : bool
        Try a linear trend. As in Farrington (1996) it is dropped when not significant
        at ``trend_alpha`` (Wald test with the quasi-Poisson standard error).
    cap_at_max : bool
        Also drop the trend when the prediction exceeds the largest baseline rate times
        the target exposure (Farrington's rule against extrapolation). Off by default:
        Farrington extrapolates a year ahead, here the target is a few weeks past a
        26-week baseline, and in a growing market the rule would drop every trend and
        turn growth into false alarms.
    reweight : bool
        Down-weight past outbreaks: weeks with standardised Anscombe residual above
        ``reweight_threshold`` get weight proportional to ``r**-2``, the weights are
        rescaled to sum to the number of weeks, and the model is refitted (Farrington
        1996 with Noufaily et al. 2013's threshold 2.58).
    harmonics : int or "auto"
        Pairs of annual sine/cosine terms. ``"auto"``: 1 when the baseline spans at least
        two years, else 0 (a shorter baseline cannot separate season from trend).

    Returns
    -------
    BaselineFit

    Notes
    -----
    A baseline without any count gives ``expected = 0`` and ``dispersion = 1`` (no model
    can be fitted to all zeros). ``var_log_expected = x0' Cov x0`` with the quasi-Poisson
    covariance; :func:`predictive_pvalue` uses it to widen the prediction.

    References
    ----------
    Farrington C.P., Andrews N.J., Beale A.D., Catchpole M.A. (1996). A statistical
    algorithm for the early detection of outbreaks of infectious disease. JRSS A 159, 547-563.
    Noufaily A. et al. (2013). An improved algorithm for outbreak detection in multiple
    surveillance systems. Statistics in Medicine 32, 1206-1222.
    """
    y = np.asarray(observed, dtype=float)
    e = np.asarray(exposure, dtype=float)
    t = np.asarray(time, dtype=float)
    if not (len(y) == len(e) == len(t)):
        raise SurveillanceError("observed, exposure and time must have the same length")
    if np.any(e <= 0) or target_exposure <= 0:
        raise SurveillanceError(
            "exposure must be positive (weeks without exposure cannot be fitted or tested)"
        )
    res = fit_quasi_poisson_baselines(
        y[None],
        e[None],
        t[None],
        np.ones((1, len(y)), dtype=bool),
        [float(target_time)],
        [float(target_exposure)],
        trend=trend,
        trend_alpha=trend_alpha,
        cap_at_max=cap_at_max,
        reweight=reweight,
        reweight_threshold=reweight_threshold,
        harmonics=harmonics,
    )
    return BaselineFit(
        float(res["expected"][0]),
        float(res["dispersion"][0]),
        float(res["var_log_expected"][0]),
        bool(res["trend"][0]),
        int(res["harmonics"][0]),
        int(res["n_baseline"][0]),
    )


def _nbinom_params(expected, dispersion, var_log_expected):
    """Moment-matched negative binomial of the predictive distribution (n, p); n=inf: Poisson."""
    mu = np.asarray(expected, dtype=float)
    var = np.asarray(dispersion, dtype=float) * mu + mu**2 * np.asarray(var_log_expected, dtype=float)
    extra = var - mu
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(extra > 1e-12 * np.maximum(mu, 1), mu**2 / extra, np.inf)
        p = np.where(np.isfinite(n), mu / var, 1.0)
    return n, p, var


def predictive_pvalue(observed, expected, dispersion=1.0, var_log_expected=0.0):
    """One-sided p-value ``P(Y >= observed)`` under the baseline's predictive distribution.

    ``Y`` has mean ``expected`` and variance ``dispersion * expected + expected**2 *
    var_log_expected`` (quasi-Poisson noise plus the uncertainty of the fitted mean,
    Farrington 1996, section 3.3); it is taken as the negative binomial with these two
    moments (Noufaily et al. 2013 use the negative binomial with the quasi-Poisson
    moments), or Poisson when the variance equals the mean.

    Returns NaN where ``expected`` is not positive.
    """
    from scipy.special import betainc, gammainc

    y = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    n, p, _ = _nbinom_params(mu, dispersion, var_log_expected)
    # P(Y >= y) through the regularised incomplete functions (scipy.stats' poisson.sf and
    # nbinom.sf at y - 1, without their per-call overhead; tests compare the two)
    with np.errstate(invalid="ignore", divide="ignore"):
        pois = gammainc(np.maximum(y, 1e-300), np.maximum(mu, 1e-300))
        nb = betainc(np.maximum(y, 1e-300), np.where(np.isfinite(n), n, 1.0), 1 - p)
    out = np.where(np.isfinite(n), nb, pois)
    out = np.where(y <= 0, 1.0, out)
    out = np.where(mu > 0, np.clip(out, 0.0, 1.0), np.nan)
    return out if out.ndim else float(out)


def predictive_upper(expected, dispersion=1.0, var_log_expected=0.0, level: float = 0.99):
    """Upper prediction bound: the ``level`` quantile of the predictive distribution of
    :func:`predictive_pvalue` (the top of the expected band in plots)."""
    from scipy import stats

    mu = np.asarray(expected, dtype=float)
    n, p, _ = _nbinom_params(mu, dispersion, var_log_expected)
    with np.errstate(invalid="ignore", divide="ignore"):
        pois = stats.poisson.ppf(level, np.maximum(mu, 1e-300))
        nb = stats.nbinom.ppf(level, np.where(np.isfinite(n), n, 1.0), p)
    out = np.where(np.isfinite(n), nb, pois)
    out = np.where(mu > 0, out, 0.0)
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------- control charts


def predictive_zscore(observed, expected, dispersion=1.0, var_log_expected=0.0):
    """Normal scores of observed counts under the baseline's predictive distribution.

    ``z = Phi^-1(1 - p_mid)`` with the mid-p-value ``p_mid = P(Y > y) + P(Y = y) / 2`` of
    the distribution of :func:`predictive_pvalue`. Under the baseline ``z`` is close to
    standard normal even for small expected counts, where ``(y - mu) / sqrt(mu)`` is
    strongly right-skewed and makes CUSUM and EWMA charts alarm far more often than their
    nominal run lengths (measured in ``docs/trends.md``).

    References
    ----------
    Lancaster H.O. (1961). Significance tests in discrete distributions. JASA 56, 223-234 (mid-p).
    """
    from scipy.special import ndtri

    y = np.asarray(observed, dtype=float)
    upper = predictive_pvalue(y, expected, dispersion, var_log_expected)  # P(Y >= y)
    above = predictive_pvalue(y + 1, expected, dispersion, var_log_expected)  # P(Y > y)
    p_mid = np.clip(0.5 * (np.asarray(upper) + np.asarray(above)), 1e-300, 1.0)
    out = -ndtri(p_mid)
    return out if np.ndim(out) else float(out)


def _standardise(observed, expected, sd, z=None):
    if z is not None:
        return np.asarray(z, dtype=float)
    y = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    s = np.sqrt(mu) if sd is None else np.asarray(sd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, (y - mu) / s, 0.0)


def cusum_poisson(observed, expected, k: float = 0.5, h: float = 5.0, sd=None, z=None) -> pd.DataFrame:
    """Upper CUSUM of baseline-standardised counts.

    ``z_t = (y_t - mu_t) / sd_t`` with ``sd_t = sqrt(mu_t)`` (Poisson) unless ``sd`` is
    given; ``S_0 = 0``, ``S_t = max(0, S_{t-1} + z_t - k)``; alarm when ``S_t > h``.
    ``k`` and ``h`` are in standard deviations (``k = 0.5`` is tuned to a one-SD
    shift); this is the ``trans = "standard"`` form of R's ``surveillance::cusum``, the
    normal-approximation version of Lucas's (1985) Poisson CUSUM that allows a
    week-varying in-control mean. ``z`` given: chart these standardised values instead
    (:func:`detect_emerging_risks` passes :func:`predictive_zscore`).

    Returns
    -------
    DataFrame with columns ``z``, ``statistic`` (S_t) and ``alarm`` (bool).

    References
    ----------
    Lucas J.M. (1985). Counted data CUSUMs. Technometrics 27, 129-144.
    Rossi G., Lampugnani L., Marchi M. (1999). An approximate CUSUM procedure for
    surveillance of health events. Statistics in Medicine 18, 2111-2122.
    """
    z = _standardise(observed, expected, sd, z)
    s = cusum_statistic(z, k)
    return pd.DataFrame({"z": z, "statistic": s, "alarm": s > h})


def cusum_statistic(z: np.ndarray, k: float) -> np.ndarray:
    """Upper CUSUM recursion ``S_t = max(0, S_{t-1} + z_t - k)`` from ``S_0 = 0``."""
    s = np.zeros(len(z))
    prev = 0.0
    for i, zi in enumerate(z):
        prev = max(0.0, prev + zi - k)
        s[i] = prev
    return s


def ewma_statistic(z: np.ndarray, lam: float) -> np.ndarray:
    """EWMA recursion ``Z_t = lam * z_t + (1 - lam) * Z_{t-1}`` from ``Z_0 = 0``."""
    stat = np.zeros(len(z))
    prev = 0.0
    for i, zi in enumerate(z):
        prev = lam * zi + (1 - lam) * prev
        stat[i] = prev
    return stat


def ewma_limit(lam: float, limit: float) -> float:
    """Asymptotic upper control limit ``limit * sqrt(lam / (2 - lam))`` of :func:`ewma_statistic`."""
    return limit * math.sqrt(lam / (2 - lam))


def ewma_poisson(observed, expected, lam: float = 0.2, limit: float = 3.0, sd=None, z=None) -> pd.DataFrame:
    """EWMA chart of baseline-standardised counts (Borror, Champ & Rigdon 1998).

    ``Z_0 = 0``, ``Z_t = lam * z_t + (1 - lam) * Z_{t-1}`` with ``z_t`` as in
    :func:`cusum_poisson` (or the given ``z``); alarm when ``Z_t`` exceeds the asymptotic upper control
    limit ``UCL = limit * sqrt(lam / (2 - lam))``. With a constant in-control mean this
    is Borror et al.'s Poisson EWMA (asymptotic limits) divided by ``sqrt(mu)``.

    Returns
    -------
    DataFrame with columns ``z``, ``statistic`` (Z_t), ``limit`` (UCL), ``alarm``.

    Notes
    -----
    The exact time-varying limits ``limit * sqrt(lam / (2 - lam) * (1 - (1 - lam)**(2 t)))``
    are tighter in the first weeks; charts here restart every report period, so the
    asymptotic limit keeps a single large week from alarming on ``limit``-sigma noise
    (measured: false alarms per 100 quiet series-months, ``docs/trends.md``).

    References
    ----------
    Borror C.M., Champ C.W., Rigdon S.E. (1998). Poisson EWMA control charts. Journal of
    Quality Technology 30, 352-361.
    """
    z = _standardise(observed, expected, sd, z)
    stat = ewma_statistic(z, lam)
    ucl = np.full(len(z), ewma_limit(lam, limit))
    return pd.DataFrame({"z": z, "statistic": stat, "limit": ucl, "alarm": stat > ucl})
