"""Emerging-abuse detection: weekly enforcement series and outbreak alarms.

Public-health surveillance methods applied to enforcement counts, as integrity teams use
them to spot a new abuse wave before it is big:

* :func:`build_weekly_series` (:func:`weekly_series_for_month` for a report) - weekly counts of enforcement actions per market x policy
  (and x content type), with the published-content denominator and a rate per 1,000;
  weeks start on Monday in the market's own time zone.
* :func:`fit_quasi_poisson_baseline` - the Farrington (1996) / Noufaily (2013) baseline:
  a log-link quasi-Poisson GLM with trend (and, on long baselines, seasonality) fitted on
  past weeks, the current weeks excluded, past outbreaks down-weighted.
* :func:`predictive_pvalue`, :func:`predictive_upper` - how surprising an observed count is.
* :func:`cusum_poisson`, :func:`ewma_poisson` - count control charts (Lucas 1985;
  Borror, Champ & Rigdon 1998) on the baseline-standardised counts.
* :func:`detect_emerging_risks` - the ranked *emerging risks* table with Benjamini-Hochberg
  q-values; :func:`alerts_for_month` - the ``alerts.csv`` export of a market-month;
  :func:`summarise_alarms` - one row per alarmed series; :func:`plot_alarm` - a figure.

No maintained Python package implements the Farrington family (``epysurv`` wraps R's
``surveillance`` and is unmaintained), so the baseline is a small implementation,
following ``surveillance::farringtonFlexible`` (Salmon, Schumacher & Hoehle 2016) where
the papers leave a choice open. Its Poisson GLMs are fitted by an IRLS that runs the
fits of all series of a week as one stack (checked against statsmodels' GLM in the
tests); a market-month is about 1,400 baselines. See ``docs/trends.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlib.errors import GovlibError
from govlib.text import N_
from govlib.metrics.frames import require_columns
from govlib.timeutil import parse_month, to_utc

__all__ = [
    "ALERT_COLUMNS",
    "SERIES_KEYS",
    "BaselineFit",
    "TrendsError",
    "alerts_for_month",
    "build_weekly_series",
    "cusum_poisson",
    "detect_emerging_risks",
    "ewma_poisson",
    "fit_quasi_poisson_baseline",
    "plot_alarm",
    "predictive_pvalue",
    "predictive_upper",
    "predictive_zscore",
    "summarise_alarms",
    "weekly_series_for_month",
]

SERIES_KEYS = ["market", "policy", "content_type"]
ALL_TYPES = "all"  # content_type of the series that counts every action of a policy
ALERT_COLUMNS = [
    "market",
    "month",
    "policy",
    "content_type",
    "week_start",
    "observed",
    "expected",
    "ratio",
    "p_value",
    "q_value",
    "method",
]
MIN_BASELINE_WEEKS = 8  # fewer past weeks than this: the week is not tested
WEEKS_PER_YEAR = 365.2425 / 7


class TrendsError(GovlibError):
    """Input to the trend detection is missing columns or holds unusable values."""


def _identity(text: str) -> str:
    return text


# --------------------------------------------------------------------------- series


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, error=TrendsError)


def _local_dates(values: pd.Series, tz: str, table: str, column: str) -> pd.Series:
    try:
        # already tz-aware (as loaded): convert directly; pd.to_datetime would re-parse it
        utc = values.dt.tz_convert("UTC") if isinstance(values.dtype, pd.DatetimeTZDtype) else to_utc(values)
    except (ValueError, TypeError) as exc:
        raise TrendsError(f"table {table!r} column {column!r}: not parseable as timestamps ({exc})") from None
    bad = utc.isna()
    if bad.any():
        examples = ", ".join(map(str, values.index[bad][:5]))
        raise TrendsError(
            f"table {table!r} column {column!r}: {int(bad.sum())} row(s) without a timestamp "
            f"(row labels {examples}); every row needs one (run `govlib validate`)."
        )
    return utc.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()


def _monday(dates: pd.Series | pd.DatetimeIndex) -> pd.Series:
    d = pd.Series(dates)
    return d - pd.to_timedelta(d.dt.day_of_week, unit="D")


def _as_local_date(value, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz).tz_localize(None)
    return ts.normalize()


def build_weekly_series(
    actions: pd.DataFrame,
    content: pd.DataFrame,
    market: str,
    tz: str,
    *,
    start=None,
    end=None,
    by_content_type: bool = True,
    policies: Iterable[str] | None = None,
    published: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Weekly enforcement counts and rates per 1,000 published content of one market.

    A week runs Monday 00:00 to Sunday 24:00 in the market's local time zone ``tz``; an
    action belongs to the week of its ``actioned_at``, a content to the week of its
    ``published_at``. Only rows with ``market == market`` count.

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions`` (``market, policy, actioned_at, content_id``).
    content : DataFrame
        ``content`` (``content_id, market, content_type, published_at``). Used for the
        denominator and to give an action the type of the content it acted on.
    market : str
        Market code, e.g. ``"DE"``.
    tz : str
        The market's time zone (``MarketParams.timezone``).
    start, end : date-like, optional
        Local dates of the half-open observation window ``[start, end)``. Default: the
        first and the day after the last event date of the market. Weeks cut by the
        window are kept with their number of ``days`` observed, which the detectors use
        as exposure; build with ``end`` = first day of the next month for a month report.
    by_content_type : bool
        Also build one series per (policy, content type). Actions without content
        (account-level) or whose content is not in ``content`` only count in the
        ``content_type == "all"`` series.
    policies : iterable of str, optional
        Policies to build series for (default: every policy acted on in the window).
    published : DataFrame, optional
        Content published per local week, counted elsewhere (e.g. by the engine over a
        window too large for pandas): ``content_type, week_start`` (the local Monday, as
        ``YYYY-MM-DD`` or a date) and ``published``. Then these are the denominators and
        ``content`` only gives the acted-on content its type (it need hold only that
        content), and ``start`` and ``end`` are required.

    Returns
    -------
    DataFrame
        One row per series x week, sorted: ``market, policy, content_type, week_start``
        (naive local Monday), ``days`` (days of the week inside the window, 1-7),
        ``observed`` (actions), ``creators`` (distinct creators acted on),
        ``published`` (content published in the market, of the
        same type for a type series) and ``rate_per_1000`` = 1000 x observed / published
        (NaN when nothing was published). Every series has every week (zeros filled).

    Notes
    -----
    The rate's denominator is content *published* in the same week; actions on older
    content count in their action week (a flow ratio, as in the DSA templates).
    """
    _require(actions, "enforcement_actions", ["market", "policy", "actioned_at", "content_id", "creator_id"])
    _require(content, "content", ["content_id", "market", "content_type", "published_at"])
    acts = actions.loc[actions["market"].astype(str) == market]
    cont = content.loc[content["market"].astype(str) == market]
    act_day = _local_dates(acts["actioned_at"], tz, "enforcement_actions", "actioned_at")
    pub_day = _local_dates(cont["published_at"], tz, "content", "published_at")

    if published is not None and (start is None or end is None):
        raise TrendsError("weekly series with precomputed publication counts need start and end")
    if start is None or end is None:
        days = pd.concat([act_day, pub_day])
        if days.empty:
            raise TrendsError(f"market {market!r}: no enforcement actions or content to build weekly series from")
        lo = days.min() if start is None else _as_local_date(start, tz)
        hi = days.max() + pd.Timedelta(days=1) if end is None else _as_local_date(end, tz)
    else:
        lo, hi = _as_local_date(start, tz), _as_local_date(end, tz)
    if hi <= lo:
        raise TrendsError(f"empty observation window [{lo.date()}, {hi.date()}) for market {market!r}")

    keep_a = (act_day >= lo) & (act_day < hi)
    keep_c = (pub_day >= lo) & (pub_day < hi)
    a = pd.DataFrame(
        {
            "policy": acts["policy"].astype(str).to_numpy()[keep_a.to_numpy()],
            "content_id": acts["content_id"].astype(object).to_numpy()[keep_a.to_numpy()],
            "creator_id": acts["creator_id"].astype(object).to_numpy()[keep_a.to_numpy()],
            "week_start": _monday(act_day[keep_a]).to_numpy(),
        }
    )
    c = pd.DataFrame(
        {
            "content_id": cont["content_id"].astype(object).to_numpy()[keep_c.to_numpy()],
            "content_type": cont["content_type"].astype(str).to_numpy()[keep_c.to_numpy()],
            "week_start": _monday(pub_day[keep_c]).to_numpy(),
        }
    )
    weeks = pd.date_range(lo - pd.Timedelta(days=lo.weekday()), hi - pd.Timedelta(days=1), freq="7D")
    overlap = [(min(w + pd.Timedelta(days=7), hi) - max(w, lo)).days for w in weeks]
    frame_weeks = pd.DataFrame({"week_start": weeks, "days": np.asarray(overlap, dtype="int64")})

    pol = sorted(set(a["policy"])) if policies is None else sorted(set(map(str, policies)))
    a = a.loc[a["policy"].isin(pol)]
    wk = frame_weeks["week_start"]

    def _count(df, keys):
        df = df.assign(week_start=df["week_start"].astype(wk.dtype))  # merge keys of one resolution
        return (df.groupby(keys).agg(observed=("week_start", "size"), creators=("creator_id", "nunique"))
                .reset_index())

    def _block(keys: list[tuple], names: list[str], counts: pd.DataFrame, published: pd.DataFrame, on: list[str]):
        # every series (keys) x every week, its counts (missing: none that week) and denominator
        f = pd.DataFrame({n: np.repeat(np.array([k[i] for k in keys], dtype=object), len(frame_weeks))
                          for i, n in enumerate(names)})
        f["week_start"] = np.tile(wk.to_numpy(), len(keys))
        f["days"] = np.tile(frame_weeks["days"].to_numpy(), len(keys))
        f = f.merge(counts, on=names + ["week_start"], how="left")
        return f.merge(published, on=on + ["week_start"], how="left")

    if published is not None:  # counted elsewhere: weeks as the local Mondays of this frame
        _require(published, "published", ["content_type", "week_start", "published"])
        pub_counts = published.assign(week_start=pd.to_datetime(published["week_start"]).astype(wk.dtype),
                                      content_type=published["content_type"].astype(str))
    else:
        pub_counts = (c.assign(week_start=c["week_start"].astype(wk.dtype))
                      .groupby(["content_type", "week_start"]).size().rename("published").reset_index())
    frames = []
    if pol:
        pub_all = pub_counts.groupby("week_start")["published"].sum()
        f = _block([(p,) for p in pol], ["policy"], _count(a, ["policy", "week_start"]),
                   pub_all.rename("published").reset_index(), [])
        frames.append(f.assign(content_type=ALL_TYPES))
    if by_content_type and len(a):
        # the type of the acted-on content, whenever it was published (first row of a content_id)
        ids = cont["content_id"].astype(object)
        hit = ids.isin(a["content_id"].unique()).to_numpy()
        types = pd.DataFrame({"content_id": ids.to_numpy()[hit],
                              "content_type": cont["content_type"].astype(object).to_numpy()[hit]})
        types["content_type"] = types["content_type"].astype(str)
        typed = a.merge(types.drop_duplicates("content_id"), on="content_id", how="inner")
        if len(typed):
            pub_type = pub_counts[["content_type", "week_start", "published"]]
            combos = sorted(set(zip(typed["policy"], typed["content_type"])))
            frames.append(_block(combos, ["policy", "content_type"],
                                 _count(typed, ["policy", "content_type", "week_start"]), pub_type,
                                 ["content_type"]))
    cols = ["market", "policy", "content_type", "week_start", "days", "observed", "creators", "published",
            "rate_per_1000"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = pd.concat(frames, ignore_index=True)
    out["market"] = market
    out["observed"] = out["observed"].fillna(0).astype("int64")
    out["creators"] = out["creators"].fillna(0).astype("int64")
    out["published"] = out["published"].fillna(0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_per_1000"] = np.where(out["published"] > 0, 1000.0 * out["observed"] / out["published"], np.nan)
    for k in ("policy", "content_type"):
        out[k] = out[k].astype(object)
    out = out[cols].sort_values(["policy", "content_type", "week_start"], kind="mergesort")
    return out.reset_index(drop=True)


def weekly_series_for_month(
    tables: Mapping[str, pd.DataFrame], market: str, month: str, tz: str, *, by_content_type: bool = True
) -> pd.DataFrame:
    """:func:`build_weekly_series` of a market-month window, cut at the end of ``month``.

    ``tables`` is the output of ``govlib.data.load.load_market_window`` (needs
    ``enforcement_actions`` and ``content``); the window ends on the first local day of the
    next month, so the month's last week counts only its days in the month.
    """
    from govlib.timeutil import shift_month

    parse_month(month)
    missing = [t for t in ("enforcement_actions", "content") if t not in tables]
    if missing:
        raise TrendsError(f"weekly series need table(s) {', '.join(missing)}; load them with load_market_window")
    return build_weekly_series(tables["enforcement_actions"], tables["content"], market, tz,
                               end=f"{shift_month(month, 1)}-01", by_content_type=by_content_type)


# --------------------------------------------------------------------------- baseline


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


def _fit_baselines(y, exposure, time, mask, target_time, target_exposure, *, trend=True, trend_alpha=0.05,
                   cap_at_max=False, reweight=True, reweight_threshold=2.58, harmonics="auto") -> dict:
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
    if harmonics == "auto":
        span = (np.max(np.where(mask, t, -np.inf), axis=1, initial=-np.inf)
                - np.min(np.where(mask, t, np.inf), axis=1, initial=np.inf) + 1)
        hh = np.where((n > 0) & (span >= 2 * WEEKS_PER_YEAR), 1, 0)
    else:
        hh = np.full(m, int(harmonics))
    hh = np.where(n > 2 + 2 * hh + 2, hh, 0)
    out = {
        "expected": np.zeros(m), "dispersion": np.ones(m), "var_log_expected": np.zeros(m),
        "trend": np.zeros(m, dtype=bool), "harmonics": np.zeros(m, dtype="int64"), "n_baseline": n.astype("int64"),
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
            w = mask[idx].astype(float)
            fit = _glm_stack(yi, X, oi, w, ni)
            phi = np.maximum(1.0, fit.scale)
            if reweight:
                r = _anscombe_standardised(yi, fit.mu, phi, X, w)
                w = np.where(mask[idx], np.where(r > reweight_threshold, np.power(np.maximum(r, 1e-12), -2.0), 1.0),
                             0.0)
                w = w * ni[:, None] / w.sum(axis=1)[:, None]
                fit = _glm_stack(yi, X, oi, w, ni)
                phi = np.maximum(1.0, fit.scale)
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
        raise TrendsError("observed, exposure and time must have the same length")
    if np.any(e <= 0) or target_exposure <= 0:
        raise TrendsError("exposure must be positive (weeks without exposure cannot be fitted or tested)")
    res = _fit_baselines(y[None], e[None], t[None], np.ones((1, len(y)), dtype=bool), [float(target_time)],
                         [float(target_exposure)], trend=trend, trend_alpha=trend_alpha, cap_at_max=cap_at_max,
                         reweight=reweight, reweight_threshold=reweight_threshold, harmonics=harmonics)
    return BaselineFit(float(res["expected"][0]), float(res["dispersion"][0]), float(res["var_log_expected"][0]),
                       bool(res["trend"][0]), int(res["harmonics"][0]), int(res["n_baseline"][0]))


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
    s = _cusum_statistic(z, k)
    return pd.DataFrame({"z": z, "statistic": s, "alarm": s > h})


def _cusum_statistic(z: np.ndarray, k: float) -> np.ndarray:
    s = np.zeros(len(z))
    prev = 0.0
    for i, zi in enumerate(z):
        prev = max(0.0, prev + zi - k)
        s[i] = prev
    return s


def _ewma_statistic(z: np.ndarray, lam: float) -> np.ndarray:
    stat = np.zeros(len(z))
    prev = 0.0
    for i, zi in enumerate(z):
        prev = lam * zi + (1 - lam) * prev
        stat[i] = prev
    return stat


def _ewma_limit(lam: float, limit: float) -> float:
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
    stat = _ewma_statistic(z, lam)
    ucl = np.full(len(z), _ewma_limit(lam, limit))
    return pd.DataFrame({"z": z, "statistic": stat, "limit": ucl, "alarm": stat > ucl})


# --------------------------------------------------------------------------- detection


def _month_number(weeks: pd.Series) -> pd.Series:
    """``year * 100 + month`` of each date (NaN for NaT): the order of ``strftime("%Y-%m")``, without formatting."""
    return weeks.dt.year * 100 + weeks.dt.month


def _month_weeks(weeks: pd.Series, month: str) -> pd.Series:
    parse_month(month)
    return _month_number(weeks) == int(month[:4]) * 100 + int(month[5:])


def _check_series(series: pd.DataFrame) -> None:
    need = SERIES_KEYS + ["week_start", "days", "observed", "published"]
    missing = [c for c in need if c not in series.columns]
    if missing:
        raise TrendsError(
            f"weekly series lacks column(s) {', '.join(missing)}; build it with govlib.trends.build_weekly_series"
        )
    neg = series["observed"] < 0
    if neg.any():
        raise TrendsError(f"weekly series: {int(neg.sum())} row(s) with a negative observed count")


def _evaluate_series(ys: list, expos: list, targets: list, settings, band_level: float, run_in_weeks: int,
                     outbreak_alpha: float) -> list[dict]:
    """Sequential baseline fits and charts of several series; rows for the target positions.

    The weeks of a series are evaluated in order from ``run_in_weeks`` before its first
    target. A week that looks like an outbreak (p <= outbreak_alpha and ratio >=
    min_ratio) is left out of the baselines of the weeks after it. Series do not inform
    each other, so the k-th evaluated week of every series is fitted in one stack
    (:func:`_fit_baselines`). Returns, per series, a dict of arrays over its evaluated
    weeks (``pos`` = position in the series); untested weeks have ``expected`` NaN.
    """
    usable = [np.asarray(e) > 0 for e in expos]
    res = []
    for tg in targets:
        pos = np.arange(max(0, int(tg.min()) - run_in_weeks), int(tg.max()) + 1)
        k = len(pos)
        res.append({"pos": pos, "expected": np.full(k, np.nan), "dispersion": np.full(k, np.nan),
                    "var_log_expected": np.full(k, np.nan), "trend": np.zeros(k, dtype=bool),
                    "n_baseline": np.zeros(k, dtype="int64"), "expected_floored": np.full(k, np.nan),
                    "p_value": np.full(k, np.nan)})
    for j in range(max((len(r["pos"]) for r in res), default=0)):
        batch = []
        for s, r in enumerate(res):
            if j >= len(r["pos"]):
                continue
            i = int(r["pos"][j])
            end = i - settings.current_weeks + 1  # baseline: usable weeks before `end`
            idx = np.flatnonzero(usable[s][: max(0, end)])[-settings.baseline_weeks:]
            if len(idx) >= MIN_BASELINE_WEEKS and usable[s][i]:
                batch.append((s, i, idx))
        if not batch:
            continue
        width = max(len(idx) for _, _, idx in batch)
        yb, eb, tb = np.zeros((len(batch), width)), np.ones((len(batch), width)), np.zeros((len(batch), width))
        mb = np.zeros((len(batch), width), dtype=bool)
        for b, (s, i, idx) in enumerate(batch):
            yb[b, : len(idx)] = ys[s][idx]
            eb[b, : len(idx)] = expos[s][idx]
            tb[b, : len(idx)] = idx
            mb[b, : len(idx)] = True
        fit = _fit_baselines(yb, eb, tb, mb, [float(i) for _, i, _ in batch],
                             [float(expos[s][i]) for s, i, _ in batch])
        yi = np.array([ys[s][i] for s, i, _ in batch])
        mu = np.maximum(fit["expected"], settings.min_expected)
        p = np.atleast_1d(predictive_pvalue(yi, mu, fit["dispersion"], fit["var_log_expected"]))
        with np.errstate(divide="ignore", invalid="ignore"):
            outbreak = (p <= outbreak_alpha) & (yi / mu >= settings.min_ratio)
        for b, (s, i, _) in enumerate(batch):
            r = res[s]
            for col in ("expected", "dispersion", "var_log_expected", "trend", "n_baseline"):
                r[col][j] = fit[col][b]
            r["expected_floored"][j], r["p_value"][j] = mu[b], p[b]
            if outbreak[b]:
                usable[s][i] = False  # a past outbreak does not inform later baselines
    # the charts start at the first target week (a fresh chart per report period)
    tested = [np.isfinite(r["expected"]) & (r["pos"] >= int(tg.min())) for r, tg in zip(res, targets)]
    obs = [np.asarray(y, dtype=float)[r["pos"]] for y, r in zip(ys, res)]
    cat = [np.concatenate([r[c][t] for r, t in zip(res, tested)]) if res else np.zeros(0)
           for c in ("expected", "expected_floored", "dispersion", "var_log_expected")]
    obs_t = np.concatenate([o[t] for o, t in zip(obs, tested)]) if res else np.zeros(0)
    upper = z = np.zeros(0)
    if len(obs_t):
        upper = np.atleast_1d(predictive_upper(cat[0], cat[2], cat[3], band_level))
        z = np.atleast_1d(predictive_zscore(obs_t, cat[1], cat[2], cat[3]))
    ucl = _ewma_limit(settings.ewma_lambda, settings.ewma_limit)
    at = 0
    for r, t, o in zip(res, tested, obs):
        k = int(t.sum())
        r["observed"] = o
        for col in ("upper", "cusum", "ewma", "ewma_limit"):
            r[col] = np.full(len(t), np.nan)
        r["cusum_alarm"] = np.zeros(len(t), dtype=bool)
        r["ewma_alarm"] = np.zeros(len(t), dtype=bool)
        if k:
            zs = z[at: at + k]
            cu = _cusum_statistic(zs, settings.cusum_k)
            ew = _ewma_statistic(zs, settings.ewma_lambda)
            r["upper"][t] = upper[at: at + k]
            r["cusum"][t], r["cusum_alarm"][t] = cu, cu > settings.cusum_h
            r["ewma"][t], r["ewma_limit"][t], r["ewma_alarm"][t] = ew, ucl, ew > ucl
        at += k
    return res


def detect_emerging_risks(
    series: pd.DataFrame,
    settings,
    *,
    weeks: Iterable | None = None,
    month: str | None = None,
    offset: str = "days",
    band_level: float = 0.99,
    all_weeks: bool = False,
    run_in_weeks: int = 13,
    outbreak_alpha: float = 0.01,
    count: str = "observed",
) -> pd.DataFrame:
    """Ranked table of emerging risks: series-weeks whose count is above its baseline.

    Each tested week ``t`` of each series gets its own baseline
    (:func:`fit_quasi_poisson_baseline`) fitted on the ``settings.baseline_weeks`` weeks
    that end ``settings.current_weeks`` weeks before it: weeks ``t - current_weeks + 1 ..
    t`` (the current weeks) never inform their own expectation. Three alarm rules then
    apply, each also requiring ``ratio >= settings.min_ratio``:

    * ``"farrington"``: Benjamini-Hochberg ``q_value <= settings.fdr_q``; the p-value is
      :func:`predictive_pvalue` of the observed count, and q-values are computed over
      every tested series-week of the call (statsmodels ``multipletests(method="fdr_bh")``);
    * ``"cusum"``: :func:`cusum_poisson` with ``cusum_k``, ``cusum_h``;
    * ``"ewma"``: :func:`ewma_poisson` with ``ewma_lambda``, ``ewma_limit``;

    the charts run over the tested weeks of a series, in week order, on the normal
    scores of the counts under their baselines (:func:`predictive_zscore`).

    Parameters
    ----------
    series : DataFrame
        Output of :func:`build_weekly_series` (one or several markets).
    settings : govlib.params.AlertSettings
        Sensitivity (``MarketParams.alerts``).
    weeks : iterable of dates, optional
        Week starts (local Mondays) to test.
    month : str, optional
        ``YYYY-MM``: test the weeks starting in that month. Default (neither given): the
        last ``settings.current_weeks`` weeks of the series.
    offset : {"days", "published"}
        Exposure of a week: ``"days"`` (days observed / 7, models counts with a trend) or
        ``"published"`` (content published that week: models the rate per content).
    band_level : float
        Level of the ``upper`` prediction bound column.
    all_weeks : bool
        Return every tested series-week (with ``alarm`` False/True) instead of alarms only.
    run_in_weeks : int
        Weeks evaluated before the first tested week so that outbreaks there (p-value <=
        ``outbreak_alpha`` and ratio >= ``min_ratio``) are left out of later baselines: a
        wave that began last month does not become this month's baseline.
    outbreak_alpha : float
        Nominal p-value below which a run-in or tested week counts as an outbreak.
    count : {"observed", "creators"}
        Series column tested: enforcement actions (default) or distinct creators acted on
        (insensitive to one creator collecting many actions in a week). The output's
        ``observed`` is that count.

    Returns
    -------
    DataFrame
        ``market, policy, content_type, week_start, observed, expected, ratio, score,
        p_value, q_value, method, upper, cusum, ewma, dispersion, trend, n_baseline,
        alarm``, ranked by ``score`` descending (then ratio, then keys), rank 1 first.
        ``expected`` is the model's prediction; ``ratio = observed / max(expected,
        min_expected)`` and the p-value also use the floored expectation, so sparse
        series do not alarm on a handful of cases; ``score = -log10(p_value)``;
        ``method`` lists the rules that fired, joined with ``+``.

    Notes
    -----
    Weeks with fewer than 8 usable baseline weeks are not tested (no row). A week whose
    exposure is 0 is not tested.

    References
    ----------
    Benjamini Y., Hochberg Y. (1995). Controlling the false discovery rate. JRSS B 57, 289-300.
    """
    from statsmodels.stats.multitest import multipletests

    _check_series(series)
    if count not in ("observed", "creators") or count not in series.columns:
        raise TrendsError(f"count must be a series column 'observed' or 'creators', got {count!r}")
    if offset not in ("days", "published"):
        raise TrendsError(f"offset must be 'days' or 'published', got {offset!r}")
    s = series.copy()
    s["observed"] = s[count]
    s["week_start"] = pd.to_datetime(s["week_start"])
    s = s.sort_values(SERIES_KEYS + ["week_start"], kind="mergesort").reset_index(drop=True)
    if weeks is not None:
        wanted = set(pd.to_datetime(list(weeks)))
        is_target = s["week_start"].isin(wanted)
    elif month is not None:
        is_target = _month_weeks(s["week_start"], month)
    else:
        last = sorted(s["week_start"].unique())[-settings.current_weeks:]
        is_target = s["week_start"].isin(last)

    s["_target"] = is_target.to_numpy()
    # series in groupby order (as `for key, g in s.groupby(SERIES_KEYS)`), as row positions of `s`
    gb = s.groupby(SERIES_KEYS, sort=True)
    code = gb.ngroup().to_numpy()
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(gb.ngroups + 1))
    y_all = s["observed"].to_numpy(dtype=float)
    expo_all = (s["published"] if offset == "published" else s["days"] / 7.0).to_numpy(dtype=float)
    target_all = s["_target"].to_numpy(dtype=bool)
    rows, ys, expos, targets = [], [], [], []
    for gi in range(gb.ngroups):
        r = order[bounds[gi]: bounds[gi + 1]]
        tg = np.flatnonzero(target_all[r])
        if len(tg):
            rows.append(r)
            ys.append(y_all[r])
            expos.append(expo_all[r])
            targets.append(tg)
    res = _evaluate_series(ys, expos, targets, settings, band_level, run_in_weeks, outbreak_alpha)
    keep = [np.isin(e["pos"], tg) & np.isfinite(e["expected"]) for e, tg in zip(res, targets)]
    cols = SERIES_KEYS + ["week_start", "observed", "expected", "ratio", "score", "p_value", "q_value",
                          "method", "upper", "cusum", "ewma", "dispersion", "trend", "n_baseline", "alarm"]
    if not any(k.any() for k in keep):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    at = np.concatenate([r[e["pos"][k]] for r, e, k in zip(rows, res, keep)])
    data = {c: s[c].to_numpy(dtype=object)[at] for c in SERIES_KEYS}
    data["week_start"] = s["week_start"].to_numpy()[at]
    for c in ("observed", "expected", "expected_floored", "p_value", "upper", "cusum", "ewma", "dispersion",
              "trend", "n_baseline", "cusum_alarm", "ewma_alarm"):
        data[c] = np.concatenate([e[c][k] for e, k in zip(res, keep)])
    out = pd.DataFrame(data)
    out["observed"] = out["observed"].astype("int64")
    out["ratio"] = out["observed"] / out["expected_floored"]
    out["q_value"] = multipletests(out["p_value"].to_numpy(dtype=float), method="fdr_bh")[1]
    out["score"] = -np.log10(np.maximum(out["p_value"].to_numpy(dtype=float), 1e-300))
    big = out["ratio"] >= settings.min_ratio
    rules = pd.DataFrame(
        {
            "farrington": big & (out["q_value"] <= settings.fdr_q),
            "cusum": big & out["cusum_alarm"].astype(bool),
            "ewma": big & out["ewma_alarm"].astype(bool),
        }
    )
    out["alarm"] = rules.any(axis=1)
    names = list(rules.columns)
    out["method"] = ["+".join(c for c, v in zip(names, row) if v) for row in rules.to_numpy(dtype=bool)]
    out["trend"] = out["trend"].astype(bool)
    out["n_baseline"] = out["n_baseline"].astype("int64")
    out = out.sort_values(
        ["score", "ratio", "policy", "content_type", "week_start"],
        ascending=[False, False, True, True, True],
        kind="mergesort",
    )
    if not all_weeks:
        out = out.loc[out["alarm"]]
    return out[cols].reset_index(drop=True)


def alerts_for_month(series: pd.DataFrame, market: str, month: str, settings, *, offset: str = "days",
                     count: str = "observed") -> pd.DataFrame:
    """The ``alerts.csv`` of a market-month: alarms of the weeks starting in ``month``.

    Runs :func:`detect_emerging_risks` on ``market``'s series for the weeks whose local
    Monday falls in ``month`` (so every week belongs to exactly one month report) and
    keeps exactly the export columns ``market, month, policy, content_type, week_start,
    observed, expected, ratio, p_value, q_value, method``, ranked (rank 1 first).
    ``week_start`` is ``YYYY-MM-DD``. Weeks after the month are ignored; build the
    series with ``end`` = first day of the next month so the month's last week counts
    only its days in the month (see :func:`build_weekly_series`).

    Examples
    --------
    >>> s = build_weekly_series(tables["enforcement_actions"], tables["content"], "DE",
    ...                         "Europe/Berlin", end="2026-11-01")            # doctest: +SKIP
    >>> alerts_for_month(s, "DE", "2026-10", load_market("DE").alerts)      # doctest: +SKIP
    """
    parse_month(month)
    s = series.loc[series["market"] == market]
    s = s.loc[(_month_number(pd.to_datetime(s["week_start"])) <= int(month[:4]) * 100 + int(month[5:])).to_numpy()]
    found = detect_emerging_risks(s, settings, month=month, offset=offset, count=count)
    out = found.assign(month=month)
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.strftime("%Y-%m-%d")
    for c in ("expected", "ratio"):
        out[c] = out[c].astype(float).round(4)
    return out[ALERT_COLUMNS].reset_index(drop=True)


def summarise_alarms(alarms: pd.DataFrame) -> pd.DataFrame:
    """One row per alarmed series: ``first_week, last_week, weeks, observed, expected,
    ratio`` (sum observed / sum expected over its alarm weeks), ``min_q_value`` and
    ``methods``; ranked by the series' best (smallest) p-value, as in the input."""
    if alarms.empty:
        return pd.DataFrame(columns=SERIES_KEYS + ["first_week", "last_week", "weeks", "observed", "expected",
                                                   "ratio", "min_q_value", "methods"])
    a = alarms.assign(_order=np.arange(len(alarms)))
    g = a.groupby(SERIES_KEYS, sort=False)
    out = g.agg(
        first_week=("week_start", "min"),
        last_week=("week_start", "max"),
        weeks=("week_start", "size"),
        observed=("observed", "sum"),
        expected=("expected", "sum"),
        min_q_value=("q_value", "min"),
        _order=("_order", "min"),
        methods=("method", lambda m: "+".join(sorted({x for v in m for x in str(v).split("+") if x}))),
    ).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["observed"] / out["expected"]
    out = out.sort_values("_order", kind="mergesort").drop(columns="_order")
    cols = SERIES_KEYS + ["first_week", "last_week", "weeks", "observed", "expected", "ratio", "min_q_value",
                          "methods"]
    return out[cols].reset_index(drop=True)


def plot_alarm(
    series: pd.DataFrame,
    alarm_row,
    settings=None,
    *,
    ax=None,
    history_weeks: int = 26,
    band_weeks: int = 12,
    offset: str = "days",
    band_level: float = 0.99,
    _: Callable[[str], str] | None = None,
):
    """Observed weekly counts of an alarmed series against its expected band.

    Draws the last ``history_weeks`` weeks up to the alarm week (observed as bars), the
    expected count and the ``band_level`` upper prediction bound of the last
    ``band_weeks`` weeks (each week's baseline fitted as in :func:`detect_emerging_risks`),
    and marks the alarm week.

    Parameters
    ----------
    series : DataFrame
        Output of :func:`build_weekly_series`.
    alarm_row : Mapping or Series
        A row of :func:`detect_emerging_risks` / :func:`alerts_for_month` (needs
        ``market, policy, content_type, week_start``).
    settings : AlertSettings, optional
        Default: ``govlib.params.AlertSettings()``.
    _ : callable, optional
        Translator for the title and labels (gettext ``_``); default identity.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from govlib.params import AlertSettings

    tr = _ or _identity
    settings = settings or AlertSettings()
    key = {k: alarm_row[k] for k in SERIES_KEYS}
    week = pd.Timestamp(alarm_row["week_start"])
    s = series
    for k, v in key.items():
        s = s.loc[s[k] == v]
    if s.empty:
        raise TrendsError(f"no weekly series for {key}; pass the series the alarm was computed from")
    s = s.assign(week_start=pd.to_datetime(s["week_start"])).sort_values("week_start")
    s = s.loc[s["week_start"] <= week].reset_index(drop=True)
    band_targets = s["week_start"].tail(band_weeks)
    # baselines need the full history; only the last `history_weeks` are drawn
    fitted = detect_emerging_risks(s, settings, weeks=band_targets, offset=offset, band_level=band_level,
                                   all_weeks=True).sort_values("week_start")
    s = s.tail(history_weeks)
    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(s["week_start"], s["observed"], width=5, color="0.6", label=tr(N_("Observed actions")))
    if not fitted.empty:
        wk = pd.to_datetime(fitted["week_start"])
        ax.fill_between(wk, 0, fitted["upper"].astype(float), step="mid", alpha=0.25,
                        label=tr(N_("Expected range ({level:.0%} bound)")).format(level=band_level))
        ax.plot(wk, fitted["expected"].astype(float), drawstyle="steps-mid", label=tr(N_("Expected")))
    hit = s.loc[s["week_start"] == week]
    ax.bar(hit["week_start"], hit["observed"], width=5, color="C3", label=tr(N_("Alarm week")))
    ax.set_title(tr(N_("{policy} ({content_type}), {market}: weekly enforcement actions")).format(
        policy=key["policy"], content_type=tr(str(key["content_type"])), market=key["market"]))
    ax.set_xlabel(tr(N_("Week starting")))
    ax.set_ylabel(tr(N_("Actions per week")))
    ax.legend(loc="upper left", fontsize="small")
    return ax
