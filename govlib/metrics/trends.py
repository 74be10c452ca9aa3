"""Emerging-abuse detection: weekly enforcement series and outbreak alarms.

Public-health surveillance methods applied to enforcement counts, as integrity teams use
them to spot a new abuse wave before it is big:

* :func:`build_weekly_series` (:func:`weekly_series_for_month` for a report) - weekly counts of enforcement actions per market x policy
  (and x content type), with the published-content denominator and a rate per 1,000;
  weeks start on Monday in the market's own time zone.
* the baselines and control charts of :mod:`govlib.stats.surveillance`
  (:func:`~govlib.stats.surveillance.fit_quasi_poisson_baseline`, the Farrington (1996) /
  Noufaily (2013) quasi-Poisson baseline; predictive p-values; CUSUM and EWMA charts)
  applied to those series.
* :func:`detect_emerging_risks` - the ranked *emerging risks* table with Benjamini-Hochberg
  q-values; :func:`alerts_for_month` - the ``alerts.csv`` export of a market-month;
  :func:`summarise_alarms` - one row per alarmed series; :func:`plot_alarm` - a figure.

A market-month is about 1,400 baselines, fitted as stacks. See ``docs/trends.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from govlib.metrics.frames import require_columns
from govlib.stats.surveillance import (
    SurveillanceError,
    cusum_statistic,
    ewma_limit,
    ewma_statistic,
    fit_quasi_poisson_baselines,
    predictive_pvalue,
    predictive_upper,
    predictive_zscore,
)
from govlib.text import N_
from govlib.timeutil import parse_month, to_utc

__all__ = [
    "ALERT_COLUMNS",
    "SERIES_KEYS",
    "TrendsError",
    "alerts_for_month",
    "build_weekly_series",
    "detect_emerging_risks",
    "plot_alarm",
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


# one error for the series and for the statistics under them (cube.py and the tests catch TrendsError)
TrendsError = SurveillanceError


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
    counts: pd.DataFrame | None = None,
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
    counts : DataFrame, optional
        The actions counted elsewhere (e.g. by the engine,
        :func:`govlib.report.cube.weekly_action_counts_expr`), given with ``published``:
        ``policy, content_type`` (``"all"`` for every action of the policy, else the type
        of the acted-on content), ``week_start`` (local Monday), ``observed`` and
        ``creators`` over the window ``[start, end)``. Then ``actions`` and ``content`` are
        not read (pass None) and only these aggregates reach pandas.

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
    if counts is not None:
        if published is None:
            raise TrendsError("weekly series from precomputed action counts need the publication counts too")
        _require(counts, "counts", ["policy", "content_type", "week_start", "observed", "creators"])
        act_day = pub_day = pd.Series(dtype="datetime64[ns]")
    else:
        _require(
            actions, "enforcement_actions", ["market", "policy", "actioned_at", "content_id", "creator_id"]
        )
        _require(content, "content", ["content_id", "market", "content_type", "published_at"])
        acts = actions.loc[actions["market"].astype(str) == market]
        cont = content.loc[content["market"].astype(str) == market]
        act_day = _local_dates(acts["actioned_at"], tz, "enforcement_actions", "actioned_at")
        pub_day = _local_dates(cont["published_at"], tz, "content", "published_at")
    lo, hi = _observation_window(act_day, pub_day, market, tz, start, end, published is not None)
    weeks = pd.date_range(lo - pd.Timedelta(days=lo.weekday()), hi - pd.Timedelta(days=1), freq="7D")
    overlap = [(min(w + pd.Timedelta(days=7), hi) - max(w, lo)).days for w in weeks]
    frame_weeks = pd.DataFrame({"week_start": weeks, "days": np.asarray(overlap, dtype="int64")})
    wk = frame_weeks["week_start"]
    if counts is not None:
        c = None
        all_n, typed_n = _split_counts(counts, policies, wk)
    else:
        a, c = _window_rows(acts, cont, act_day, pub_day, lo, hi)
        all_n, typed_n = _action_counts(a, cont, policies, wk, by_content_type)
    if published is not None:  # counted elsewhere: weeks as the local Mondays of this frame
        _require(published, "published", ["content_type", "week_start", "published"])
        pub_counts = published.assign(
            week_start=pd.to_datetime(published["week_start"]).astype(wk.dtype),
            content_type=published["content_type"].astype(str),
        )
    else:
        pub_counts = (
            c.assign(week_start=c["week_start"].astype(wk.dtype))
            .groupby(["content_type", "week_start"])
            .size()
            .rename("published")
            .reset_index()
        )
    frames = []
    pol, pub_all = all_n.attrs["policies"], pub_counts.groupby("week_start")["published"].sum()
    if pol:
        f = _series_block(
            [(p,) for p in pol], ["policy"], all_n, pub_all.rename("published").reset_index(), [], frame_weeks
        )
        frames.append(f.assign(content_type=ALL_TYPES))
    if by_content_type and typed_n is not None and len(typed_n):
        pub_type = pub_counts[["content_type", "week_start", "published"]]
        combos = sorted(set(zip(typed_n["policy"], typed_n["content_type"])))
        frames.append(
            _series_block(
                combos, ["policy", "content_type"], typed_n, pub_type, ["content_type"], frame_weeks
            )
        )
    return _finish_series(frames, market)


def _action_counts(a: pd.DataFrame, cont: pd.DataFrame, policies, wk: pd.Series, by_content_type: bool):
    """Weekly ``observed`` and ``creators`` of the window's actions: per policy, and per policy and content type.

    The per-policy frame carries the series' policies in ``attrs["policies"]``; the typed
    frame is None without ``by_content_type`` or typed actions.
    """
    pol = sorted(set(a["policy"])) if policies is None else sorted(set(map(str, policies)))
    a = a.loc[a["policy"].isin(pol)]
    all_n = _count_weekly(a, ["policy", "week_start"], wk)
    all_n.attrs["policies"] = pol
    typed_n = None
    if by_content_type and len(a):
        typed = _typed_actions(a, cont)
        typed_n = _count_weekly(typed, ["policy", "content_type", "week_start"], wk) if len(typed) else None
    return all_n, typed_n


def _split_counts(counts: pd.DataFrame, policies, wk: pd.Series):
    """:func:`_action_counts` from precomputed counts (its ``content_type == "all"`` rows are the per-policy ones)."""
    n = counts.assign(
        policy=counts["policy"].astype(str),
        content_type=counts["content_type"].astype(str),
        week_start=pd.to_datetime(counts["week_start"]).astype(wk.dtype),
        observed=counts["observed"].astype("int64"),
        creators=counts["creators"].astype("int64"),
    )
    is_all = n["content_type"] == ALL_TYPES
    pol = sorted(set(n.loc[is_all, "policy"])) if policies is None else sorted(set(map(str, policies)))
    n = n[n["policy"].isin(pol)]
    cols = ["observed", "creators"]
    all_n = n.loc[n["content_type"] == ALL_TYPES, ["policy", "week_start", *cols]].reset_index(drop=True)
    all_n.attrs["policies"] = pol
    typed_n = n.loc[n["content_type"] != ALL_TYPES, ["policy", "content_type", "week_start", *cols]]
    return all_n, typed_n.reset_index(drop=True)


def _observation_window(act_day, pub_day, market: str, tz: str, start, end, precounted: bool):
    """Local dates ``[lo, hi)`` of the observation window: ``start``/``end``, else the market's event dates."""
    if precounted and (start is None or end is None):
        raise TrendsError("weekly series with precomputed publication counts need start and end")
    if start is None or end is None:
        days = pd.concat([act_day, pub_day])
        if days.empty:
            raise TrendsError(
                f"market {market!r}: no enforcement actions or content to build weekly series from"
            )
        lo = days.min() if start is None else _as_local_date(start, tz)
        hi = days.max() + pd.Timedelta(days=1) if end is None else _as_local_date(end, tz)
    else:
        lo, hi = _as_local_date(start, tz), _as_local_date(end, tz)
    if hi <= lo:
        raise TrendsError(f"empty observation window [{lo.date()}, {hi.date()}) for market {market!r}")
    return lo, hi


def _window_rows(acts, cont, act_day, pub_day, lo, hi) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Actions and content inside the window, with the local Monday of their week."""
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
    return a, c


def _count_weekly(df: pd.DataFrame, keys: list[str], wk: pd.Series) -> pd.DataFrame:
    """Actions (``observed``) and distinct creators per ``keys`` (which end with ``week_start``)."""
    df = df.assign(week_start=df["week_start"].astype(wk.dtype))  # merge keys of one resolution
    return (
        df.groupby(keys)
        .agg(observed=("week_start", "size"), creators=("creator_id", "nunique"))
        .reset_index()
    )


def _series_block(
    keys: list[tuple],
    names: list[str],
    counts: pd.DataFrame,
    published: pd.DataFrame,
    on: list[str],
    frame_weeks: pd.DataFrame,
) -> pd.DataFrame:
    """Every series (``keys``) x every week, its counts (missing: none that week) and denominator."""
    wk = frame_weeks["week_start"]
    f = pd.DataFrame(
        {
            n: np.repeat(np.array([k[i] for k in keys], dtype=object), len(frame_weeks))
            for i, n in enumerate(names)
        }
    )
    f["week_start"] = np.tile(wk.to_numpy(), len(keys))
    f["days"] = np.tile(frame_weeks["days"].to_numpy(), len(keys))
    f = f.merge(counts, on=names + ["week_start"], how="left")
    return f.merge(published, on=on + ["week_start"], how="left")


def _typed_actions(a: pd.DataFrame, cont: pd.DataFrame) -> pd.DataFrame:
    """Actions with the type of the acted-on content, whenever it was published (first row of a content_id)."""
    ids = cont["content_id"].astype(object)
    hit = ids.isin(a["content_id"].unique()).to_numpy()
    types = pd.DataFrame(
        {
            "content_id": ids.to_numpy()[hit],
            "content_type": cont["content_type"].astype(object).to_numpy()[hit],
        }
    )
    types["content_type"] = types["content_type"].astype(str)
    return a.merge(types.drop_duplicates("content_id"), on="content_id", how="inner")


def _finish_series(frames: list[pd.DataFrame], market: str) -> pd.DataFrame:
    """The series blocks as one sorted frame with integer counts and ``rate_per_1000``."""
    cols = [
        "market",
        "policy",
        "content_type",
        "week_start",
        "days",
        "observed",
        "creators",
        "published",
        "rate_per_1000",
    ]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = pd.concat(frames, ignore_index=True)
    out["market"] = market
    out["observed"] = out["observed"].fillna(0).astype("int64")
    out["creators"] = out["creators"].fillna(0).astype("int64")
    out["published"] = out["published"].fillna(0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_per_1000"] = np.where(
            out["published"] > 0, 1000.0 * out["observed"] / out["published"], np.nan
        )
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
        raise TrendsError(
            f"weekly series need table(s) {', '.join(missing)}; load them with load_market_window"
        )
    return build_weekly_series(
        tables["enforcement_actions"],
        tables["content"],
        market,
        tz,
        end=f"{shift_month(month, 1)}-01",
        by_content_type=by_content_type,
    )


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
            f"weekly series lacks column(s) {', '.join(missing)}; build it with govlib.metrics.trends.build_weekly_series"
        )
    neg = series["observed"] < 0
    if neg.any():
        raise TrendsError(f"weekly series: {int(neg.sum())} row(s) with a negative observed count")


def _evaluate_series(
    ys: list,
    expos: list,
    targets: list,
    settings,
    band_level: float,
    run_in_weeks: int,
    outbreak_alpha: float,
) -> list[dict]:
    """Sequential baseline fits and charts of several series; rows for the target positions.

    The weeks of a series are evaluated in order from ``run_in_weeks`` before its first
    target. A week that looks like an outbreak (p <= outbreak_alpha and ratio >=
    min_ratio) is left out of the baselines of the weeks after it. Series do not inform
    each other, so the k-th evaluated week of every series is fitted in one stack
    (:func:`~govlib.stats.surveillance.fit_quasi_poisson_baselines`). Returns, per series, a dict of arrays over its evaluated
    weeks (``pos`` = position in the series); untested weeks have ``expected`` NaN.
    """
    usable = [np.asarray(e) > 0 for e in expos]
    res = _empty_evaluations(targets, run_in_weeks)
    for j in range(max((len(r["pos"]) for r in res), default=0)):
        batch = _baseline_batch(res, j, usable, settings)
        if not batch:
            continue
        _evaluate_batch(res, j, batch, ys, expos, usable, settings, outbreak_alpha)
    _add_charts(res, ys, targets, settings, band_level)
    return res


def _empty_evaluations(targets: list, run_in_weeks: int) -> list[dict]:
    """Per series, the arrays over its evaluated weeks, not yet tested (``expected`` NaN)."""
    res = []
    for tg in targets:
        pos = np.arange(max(0, int(tg.min()) - run_in_weeks), int(tg.max()) + 1)
        k = len(pos)
        res.append(
            {
                "pos": pos,
                "expected": np.full(k, np.nan),
                "dispersion": np.full(k, np.nan),
                "var_log_expected": np.full(k, np.nan),
                "trend": np.zeros(k, dtype=bool),
                "n_baseline": np.zeros(k, dtype="int64"),
                "expected_floored": np.full(k, np.nan),
                "p_value": np.full(k, np.nan),
            }
        )
    return res


def _baseline_batch(res: list[dict], j: int, usable: list, settings) -> list[tuple]:
    """The series whose j-th evaluated week can be tested: ``(series, week, baseline weeks)``.

    A week is tested when it is usable and has at least ``MIN_BASELINE_WEEKS`` usable
    baseline weeks before its current period.
    """
    batch = []
    for s, r in enumerate(res):
        if j >= len(r["pos"]):
            continue
        i = int(r["pos"][j])
        end = i - settings.current_weeks + 1  # baseline: usable weeks before `end`
        idx = np.flatnonzero(usable[s][: max(0, end)])[-settings.baseline_weeks :]
        if len(idx) >= MIN_BASELINE_WEEKS and usable[s][i]:
            batch.append((s, i, idx))
    return batch


def _fit_batch(batch: list[tuple], ys: list, expos: list) -> dict:
    """The baselines of a batch fitted in one stack (rows padded to the longest baseline)."""
    width = max(len(idx) for _, _, idx in batch)
    yb, eb, tb = (
        np.zeros((len(batch), width)),
        np.ones((len(batch), width)),
        np.zeros((len(batch), width)),
    )
    mb = np.zeros((len(batch), width), dtype=bool)
    for b, (s, _i, idx) in enumerate(batch):
        yb[b, : len(idx)] = ys[s][idx]
        eb[b, : len(idx)] = expos[s][idx]
        tb[b, : len(idx)] = idx
        mb[b, : len(idx)] = True
    return fit_quasi_poisson_baselines(
        yb, eb, tb, mb, [float(i) for _, i, _ in batch], [float(expos[s][i]) for s, i, _ in batch]
    )


def _evaluate_batch(
    res: list[dict],
    j: int,
    batch: list[tuple],
    ys: list,
    expos: list,
    usable: list,
    settings,
    outbreak_alpha: float,
) -> None:
    """Fit and test the j-th evaluated week of the batch's series; outbreaks leave ``usable``."""
    fit = _fit_batch(batch, ys, expos)
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


def _add_charts(res: list[dict], ys: list, targets: list, settings, band_level: float) -> None:
    """Add the observed counts, upper band, CUSUM and EWMA charts of the tested weeks to ``res``."""
    # the charts start at the first target week (a fresh chart per report period)
    tested = [np.isfinite(r["expected"]) & (r["pos"] >= int(tg.min())) for r, tg in zip(res, targets)]
    obs = [np.asarray(y, dtype=float)[r["pos"]] for y, r in zip(ys, res)]
    cat = [
        np.concatenate([r[c][t] for r, t in zip(res, tested)]) if res else np.zeros(0)
        for c in ("expected", "expected_floored", "dispersion", "var_log_expected")
    ]
    obs_t = np.concatenate([o[t] for o, t in zip(obs, tested)]) if res else np.zeros(0)
    upper = z = np.zeros(0)
    if len(obs_t):
        upper = np.atleast_1d(predictive_upper(cat[0], cat[2], cat[3], band_level))
        z = np.atleast_1d(predictive_zscore(obs_t, cat[1], cat[2], cat[3]))
    ucl = ewma_limit(settings.ewma_lambda, settings.ewma_limit)
    at = 0
    for r, t, o in zip(res, tested, obs):
        k = int(t.sum())
        r["observed"] = o
        for col in ("upper", "cusum", "ewma", "ewma_limit"):
            r[col] = np.full(len(t), np.nan)
        r["cusum_alarm"] = np.zeros(len(t), dtype=bool)
        r["ewma_alarm"] = np.zeros(len(t), dtype=bool)
        if k:
            zs = z[at : at + k]
            cu = cusum_statistic(zs, settings.cusum_k)
            ew = ewma_statistic(zs, settings.ewma_lambda)
            r["upper"][t] = upper[at : at + k]
            r["cusum"][t], r["cusum_alarm"][t] = cu, cu > settings.cusum_h
            r["ewma"][t], r["ewma_limit"][t], r["ewma_alarm"][t] = ew, ucl, ew > ucl
        at += k


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
    (:func:`~govlib.stats.surveillance.fit_quasi_poisson_baseline`) fitted on the ``settings.baseline_weeks`` weeks
    that end ``settings.current_weeks`` weeks before it: weeks ``t - current_weeks + 1 ..
    t`` (the current weeks) never inform their own expectation. Three alarm rules then
    apply, each also requiring ``ratio >= settings.min_ratio``:

    * ``"farrington"``: Benjamini-Hochberg ``q_value <= settings.fdr_q``; the p-value is
      :func:`~govlib.stats.surveillance.predictive_pvalue` of the observed count, and q-values are computed over
      every tested series-week of the call (statsmodels ``multipletests(method="fdr_bh")``);
    * ``"cusum"``: :func:`~govlib.stats.surveillance.cusum_poisson` with ``cusum_k``, ``cusum_h``;
    * ``"ewma"``: :func:`~govlib.stats.surveillance.ewma_poisson` with ``ewma_lambda``, ``ewma_limit``;

    the charts run over the tested weeks of a series, in week order, on the normal
    scores of the counts under their baselines (:func:`~govlib.stats.surveillance.predictive_zscore`).

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
    _check_series(series)
    if count not in ("observed", "creators") or count not in series.columns:
        raise TrendsError(f"count must be a series column 'observed' or 'creators', got {count!r}")
    if offset not in ("days", "published"):
        raise TrendsError(f"offset must be 'days' or 'published', got {offset!r}")
    s = series.copy()
    s["observed"] = s[count]
    s["week_start"] = pd.to_datetime(s["week_start"])
    s = s.sort_values(SERIES_KEYS + ["week_start"], kind="mergesort").reset_index(drop=True)
    s["_target"] = _target_weeks(s["week_start"], weeks, month, settings).to_numpy()
    rows, ys, expos, targets = _series_arrays(s, offset)
    res = _evaluate_series(ys, expos, targets, settings, band_level, run_in_weeks, outbreak_alpha)
    keep = [np.isin(e["pos"], tg) & np.isfinite(e["expected"]) for e, tg in zip(res, targets)]
    cols = SERIES_KEYS + [
        "week_start",
        "observed",
        "expected",
        "ratio",
        "score",
        "p_value",
        "q_value",
        "method",
        "upper",
        "cusum",
        "ewma",
        "dispersion",
        "trend",
        "n_baseline",
        "alarm",
    ]
    if not any(k.any() for k in keep):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    at = np.concatenate([r[e["pos"][k]] for r, e, k in zip(rows, res, keep)])
    data = {c: s[c].to_numpy(dtype=object)[at] for c in SERIES_KEYS}
    data["week_start"] = s["week_start"].to_numpy()[at]
    for c in (
        "observed",
        "expected",
        "expected_floored",
        "p_value",
        "upper",
        "cusum",
        "ewma",
        "dispersion",
        "trend",
        "n_baseline",
        "cusum_alarm",
        "ewma_alarm",
    ):
        data[c] = np.concatenate([e[c][k] for e, k in zip(res, keep)])
    out = _apply_alarm_rules(pd.DataFrame(data), settings)
    if not all_weeks:
        out = out.loc[out["alarm"]]
    return out[cols].reset_index(drop=True)


def _target_weeks(week_start: pd.Series, weeks, month: str | None, settings) -> pd.Series:
    """Which rows are tested: the given ``weeks``, the weeks starting in ``month``, or the last current weeks."""
    if weeks is not None:
        wanted = set(pd.to_datetime(list(weeks)))
        return week_start.isin(wanted)
    if month is not None:
        return _month_weeks(week_start, month)
    last = sorted(week_start.unique())[-settings.current_weeks :]
    return week_start.isin(last)


def _series_arrays(s: pd.DataFrame, offset: str):
    """Per series with a tested week (in groupby order): its row positions in ``s``, counts,
    exposure and the positions of its tested weeks."""
    gb = s.groupby(SERIES_KEYS, sort=True)
    code = gb.ngroup().to_numpy()
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(gb.ngroups + 1))
    y_all = s["observed"].to_numpy(dtype=float)
    expo_all = (s["published"] if offset == "published" else s["days"] / 7.0).to_numpy(dtype=float)
    target_all = s["_target"].to_numpy(dtype=bool)
    rows, ys, expos, targets = [], [], [], []
    for gi in range(gb.ngroups):
        r = order[bounds[gi] : bounds[gi + 1]]
        tg = np.flatnonzero(target_all[r])
        if len(tg):
            rows.append(r)
            ys.append(y_all[r])
            expos.append(expo_all[r])
            targets.append(tg)
    return rows, ys, expos, targets


def _apply_alarm_rules(out: pd.DataFrame, settings) -> pd.DataFrame:
    """Ratio, BH q-values, score, the three alarm rules and ``method`` of the tested weeks, ranked."""
    from statsmodels.stats.multitest import multipletests

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
    return out.sort_values(
        ["score", "ratio", "policy", "content_type", "week_start"],
        ascending=[False, False, True, True, True],
        kind="mergesort",
    )


def alerts_for_month(
    series: pd.DataFrame, market: str, month: str, settings, *, offset: str = "days", count: str = "observed"
) -> pd.DataFrame:
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
    s = s.loc[
        (_month_number(pd.to_datetime(s["week_start"])) <= int(month[:4]) * 100 + int(month[5:])).to_numpy()
    ]
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
        return pd.DataFrame(
            columns=SERIES_KEYS
            + ["first_week", "last_week", "weeks", "observed", "expected", "ratio", "min_q_value", "methods"]
        )
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
    cols = SERIES_KEYS + [
        "first_week",
        "last_week",
        "weeks",
        "observed",
        "expected",
        "ratio",
        "min_q_value",
        "methods",
    ]
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
    label: Callable[[str], str] | None = None,
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
    label : callable, optional
        Display name of a policy or content type in the title (the report passes its
        translated names, e.g. "Scam or fraud" for ``scam_fraud``); default the translator
        applied to the value itself.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from govlib.params import AlertSettings

    tr = _ or _identity
    name = label or (lambda value: tr(str(value)))
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
    fitted = detect_emerging_risks(
        s, settings, weeks=band_targets, offset=offset, band_level=band_level, all_weeks=True
    ).sort_values("week_start")
    s = s.tail(history_weeks)
    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(s["week_start"], s["observed"], width=5, color="0.6", label=tr(N_("Observed actions")))
    if not fitted.empty:
        wk = pd.to_datetime(fitted["week_start"])
        ax.fill_between(
            wk,
            0,
            fitted["upper"].astype(float),
            step="mid",
            alpha=0.25,
            label=tr(N_("Expected range ({level:.0%} bound)")).format(level=band_level),
        )
        ax.plot(wk, fitted["expected"].astype(float), drawstyle="steps-mid", label=tr(N_("Expected")))
    hit = s.loc[s["week_start"] == week]
    ax.bar(hit["week_start"], hit["observed"], width=5, color="C3", label=tr(N_("Alarm week")))
    ax.set_title(
        tr(N_("{policy} ({content_type}), {market}: weekly enforcement actions")).format(
            policy=name(key["policy"]), content_type=name(key["content_type"]), market=key["market"]
        )
    )
    ax.set_xlabel(tr(N_("Week starting")))
    ax.set_ylabel(tr(N_("Actions per week")))
    ax.legend(loc="upper left", fontsize="small")
    return ax
