"""Enforcement effectiveness: recidivism curves, hazard ratios of first actions, deterrence.

Does enforcement stop creators from violating again, and do harsher first actions
deter more than lighter ones? Three views, from descriptive to causal:

Functions
---------
recidivism_table_expr
    One row per actioned creator: first action, time to the next violation or to the
    end of the data (censored); an engine expression (DuckDB or Spark).
recidivism_risk_sets, risk_sets_frame
    The same grouped into weighted risk sets (one row per distinct first action type,
    time and event), the input of the Kaplan-Meier and Cox fits below.
estimate_recidivism_curves
    Kaplan-Meier survival curves (share not yet re-offending) by first action type.
summarise_recidivism
    Per first action type: creators, re-offences, median time to re-offend with its
    interval, and the share re-offending within 30 / 90 / 180 days.
estimate_hazard_ratio
    Cox proportional-hazards ratio of re-offending, harsher versus lighter first
    action (e.g. ``account_suspended`` versus ``warning``), with its interval.
build_violation_panel
    Creator x month panel of violations and activity for the deterrence design.
estimate_deterrence_did
    Difference-in-differences deterrence effect of a first action against matched
    not-yet-actioned creators, with a seeded bootstrap interval.
violation_panel_expr
    :func:`build_violation_panel`'s allegations panel as an engine expression.
estimate_deterrence_did_expr, did_cell_sums_expr, poisson_weights
    The same design computed by the engine as per-(replicate, cohort, cell, group) sums,
    with a hashed Poisson bootstrap of creators (what the report uses).

Notice handling and appeal handling live in ``govlib.metrics.notices`` and
``govlib.metrics.appeals``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from govlib.contract import ACTION_TYPES
from govlib.errors import GovlibError
from govlib.metrics.frames import require_columns
from govlib.stats.did import bootstrap_att, build_did_cohorts, estimate_att
from govlib.timeutil import month_bounds, month_range, to_utc

__all__ = [
    "recidivism_table_expr",
    "recidivism_risk_sets",
    "risk_sets_frame",
    "estimate_recidivism_curves",
    "summarise_recidivism",
    "estimate_hazard_ratio",
    "build_violation_panel",
    "estimate_deterrence_did",
    "estimate_deterrence_did_expr",
    "did_cell_sums_expr",
    "poisson_weights",
    "violation_panel_expr",
]

EVENT_TIMES = ("committed", "detected_at", "actioned_at")
_HARSHNESS = {a: i for i, a in enumerate(ACTION_TYPES)}  # contract order: lightest first


class EffectivenessInputError(GovlibError):
    """Inputs of an effectiveness metric lack columns or cannot support the estimate."""


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, error=EffectivenessInputError)


# --------------------------------------------------------------------------- recidivism


# --------------------------------------------------------------------------- recidivism on the engine

RISK_SET_WEIGHT = "creators"  # the weight column of the aggregated risk sets


def recidivism_table_expr(
    actions,
    creators=None,
    *,
    data_end,
    market: str | None = None,
    event_time: str = "detected_at",
    content=None,
):
    """Time from each creator's first action to their next violation, as an Ibis expression.

    Definition: for every creator with an action, ``t0`` is the ``actioned_at`` of their
    earliest action; the first action type is the harshest action taken at ``t0``
    (contract order ``warning`` < ... < ``account_banned``; ties by ``action_id``). A
    *re-offence* is any other action of the creator whose ``event_time`` is after ``t0``;
    the duration runs from ``t0`` to the earliest re-offence (``event = True``) or, with
    none, to ``data_end`` (right-censored, ``event = False``). Actions actioned after
    ``data_end`` are ignored; creators first actioned at ``data_end`` (no follow-up) are
    dropped. Computed by the engine (DuckDB or Spark): reports aggregate it with
    :func:`recidivism_risk_sets` and never take it whole into pandas.

    Parameters
    ----------
    actions : ibis.Table
        ``enforcement_actions`` (``action_id, creator_id, market, action_type, policy,
        severity, detected_at, actioned_at``, and ``content_id`` for ``"committed"``); all
        the history available, e.g. ``ReportContext.expr("enforcement_actions")``.
    creators : ibis.Table, optional
        ``creators`` (``creator_id, tier``); adds ``tier``.
    data_end : str or Timestamp
        End of observation (the censoring time).
    market : str, optional
        Keep creators whose first action is in this market.
    event_time : {"detected_at", "committed", "actioned_at"}
        Time of a re-offence. ``"detected_at"`` (default) counts a violation detected
        after the first sanction. ``"committed"`` (needs ``content``) dates a violation
        at the ``published_at`` of the actioned content (``detected_at`` for
        account-level actions), so content published before the first sanction but
        caught after it is not a failure of deterrence. ``"actioned_at"`` uses the
        decision time.
    content : ibis.Table, optional
        ``content`` (``content_id, published_at``), for ``event_time="committed"``.

    Returns
    -------
    ibis.Table
        ``creator_id, market, [tier,] first_action_id, first_action_type, first_policy,
        first_severity, t0, duration_us, event``: ``duration_us`` is the whole number of
        microseconds (the contract's timestamp resolution) from ``t0`` to the re-offence
        or censoring.

    Raises
    ------
    EffectivenessInputError
        On an ``action_type`` outside the contract (counted by the engine, up to 5 examples
        named), or ``"committed"`` without ``content``.

    Notes
    -----
    A suspended creator cannot offend while suspended, so part of a lower re-offence
    hazard after a suspension is incapacitation, not deterrence; a ban ends
    observation in practice (few events by design).
    """
    import ibis

    from govlib.data.dataset import utc_literal

    if event_time not in EVENT_TIMES:
        raise ValueError(f"event_time must be one of {EVENT_TIMES}, got {event_time!r}")
    _check_action_types(actions)
    end = utc_literal(data_end)
    a = actions.filter(actions.actioned_at <= end)
    a = a.mutate(_harsh=ibis.cases(*[(a.action_type == t, i) for t, i in _HARSHNESS.items()], else_=-1))
    if event_time == "committed":
        if content is None:
            raise EffectivenessInputError(
                "event_time='committed' needs the content table (content_id, published_at) and the content_id "
                "column of enforcement_actions"
            )
        pub = content.select("content_id", "published_at").distinct(on="content_id", keep="first")
        a = a.left_join(pub, a.content_id == pub.content_id).select(
            *a.columns, committed=ibis.coalesce(pub.published_at, a.detected_at)
        )
    order = [a.actioned_at, ibis.desc(a._harsh), a.action_id]
    ranked = a.mutate(_rn=ibis.row_number().over(group_by=a.creator_id, order_by=order))
    first = ranked.filter(ranked._rn == 0).select(
        "creator_id",
        "market",
        first_action_id=ranked.action_id,
        first_action_type=ranked.action_type,
        first_policy=ranked.policy,
        first_severity=ranked.severity,
        t0=ranked.actioned_at,
    )
    return _follow_up(a, first, creators, end, market, event_time)


def _follow_up(a, first, creators, end, market, event_time: str):
    """Each first action with its next re-offence or censoring (``duration_us, event``) and ``tier``."""
    import ibis

    f = first.select("creator_id", "first_action_id", "t0")
    a = a.view()  # a self-join: a distinct reference, so that each column resolves to its own side
    later = a.join(f, a.creator_id == f.creator_id).select(
        a.action_id, a[event_time], f.first_action_id, f.t0, creator_id=a.creator_id
    )
    later = later.filter(
        (later.action_id != later.first_action_id)
        & (later[event_time] > later.t0)
        & (later[event_time] <= end)
    )
    nxt = later.group_by("creator_id").agg(next_at=later[event_time].min())
    out = first.left_join(nxt, first.creator_id == nxt.creator_id).select(*first.columns, nxt.next_at)
    if market is not None:
        out = out.filter(out.market == market)
    if creators is not None:
        tiers = creators.select("creator_id", "tier").distinct(on="creator_id", keep="first")
        out = out.left_join(tiers, out.creator_id == tiers.creator_id).select(
            "creator_id", "market", tiers.tier, *[c for c in out.columns if c not in ("creator_id", "market")]
        )
    stop = ibis.coalesce(out.next_at, end)
    out = out.mutate(event=out.next_at.notnull(), duration_us=stop.delta(out.t0, unit="microsecond"))
    return out.filter(out.duration_us > 0).drop("next_at")


def recidivism_risk_sets(table, by: Sequence[str] = ("first_action_type",)):
    """The recidivism survival data as aggregated risk sets (counting-process form with weights).

    Groups :func:`recidivism_table_expr` into one row per distinct (``by`` columns,
    ``duration_us``, ``event``) with ``creators``, the number of creators sharing it.
    Kaplan-Meier and Cox fits weighted by ``creators`` (:func:`estimate_recidivism_curves`,
    :func:`summarise_recidivism`, :func:`estimate_hazard_ratio` with
    ``weights="creators"``) equal the fits on one row per creator: both likelihoods see
    only each distinct time's events and risk set.

    Parameters
    ----------
    table : ibis.Table
        :func:`recidivism_table_expr`.
    by : sequence of str, default ("first_action_type",)
        Covariates kept (e.g. ``first_action_type``, ``market``, ``tier``, ``first_severity``).

    Returns
    -------
    ibis.Table
        ``*by, duration_us, event, creators``, ordered by all but ``creators``;
        :func:`risk_sets_frame` executes it with ``duration_days``.

    Notes
    -----
    Exact, not a sample. Its size is the number of distinct (covariates, time, event):
    bounded by the creators first actioned (not every creator, nor any content) and,
    with timestamps coarser than the follow-up times (e.g. whole days), by the days of
    follow-up times the covariate patterns.
    """
    import ibis

    keys = [*by, "duration_us", "event"]
    return table.group_by(keys).agg(**{RISK_SET_WEIGHT: ibis._.count()}).order_by(keys)


def _check_action_types(actions) -> None:
    """Raise :class:`EffectivenessInputError` naming up to 5 unknown ``action_type`` values (counted by the engine)."""
    bad = actions.filter(~actions.action_type.isin(list(_HARSHNESS)) | actions.action_type.isnull())
    found = bad.group_by("action_type").agg(n=bad.count()).order_by("action_type").execute()
    if len(found):
        raise EffectivenessInputError(
            f"table 'enforcement_actions', column 'action_type': {int(found['n'].sum())} row(s) with values "
            f"outside {ACTION_TYPES} (e.g. {', '.join(map(str, found['action_type'].head(5)))}); "
            f"fix the rows or run `govlib validate`"
        )


def risk_sets_frame(expr) -> pd.DataFrame:
    """Execute :func:`recidivism_risk_sets` (or :func:`recidivism_table_expr`) into a frame with ``duration_days``.

    ``duration_days`` is seconds / 86400 as in the per-creator pandas computation, from
    the exact microseconds, so the values are the same floats.
    """
    df = expr.execute()
    secs = pd.to_timedelta(df["duration_us"].astype("int64"), unit="us").dt.total_seconds()
    df["duration_days"] = (secs / 86400.0).astype(float)
    df["event"] = df["event"].astype(bool)
    if RISK_SET_WEIGHT in df.columns:
        df[RISK_SET_WEIGHT] = df[RISK_SET_WEIGHT].astype("int64")
    for c in df.columns:
        if df[c].dtype.kind in "OTU" or str(df[c].dtype) in ("string", "str"):
            df[c] = df[c].astype(object)
    return df.drop(columns="duration_us")


def _frequency_weights(table: pd.DataFrame, weights: str | None) -> pd.Series:
    """The rows' frequency weights (1 without ``weights``); non-negative whole numbers, else a clear error."""
    if not weights:
        return pd.Series(1, index=table.index, dtype="int64")
    w = pd.to_numeric(table[weights], errors="coerce")
    bad = w.isna() | (w < 0) | (w % 1 != 0)
    if bad.any():
        raise EffectivenessInputError(
            f"recidivism table, column {weights!r}: {int(bad.sum())} row(s) that are not a count of creators "
            f"(e.g. {', '.join(map(str, table.loc[bad, weights].head(5)))}); weights are frequency weights "
            f"(whole numbers >= 0), as recidivism_risk_sets gives"
        )
    return w.astype("int64")


def _fit_km(g: pd.DataFrame, alpha: float, duration: str, event: str, weights: str | None):
    """lifelines' Kaplan-Meier fit of one group (frequency-weighted with ``weights``)."""
    from lifelines import KaplanMeierFitter

    w = _frequency_weights(g, weights).astype(float) if weights else None
    return KaplanMeierFitter(alpha=alpha).fit(g[duration].astype(float), g[event].astype(bool), weights=w)


def _groups(table: pd.DataFrame, by: str | None):
    if by is None:
        yield "all", table
        return
    _require(table, "recidivism table", [by])
    for key in sorted(table[by].dropna().astype(str).unique()):
        yield key, table[table[by].astype(str) == key]


def estimate_recidivism_curves(
    table: pd.DataFrame,
    by: str | None = "first_action_type",
    *,
    alpha: float = 0.05,
    duration: str = "duration_days",
    event: str = "event",
    weights: str | None = None,
) -> pd.DataFrame:
    """Kaplan-Meier curves of the time to the next violation, per group.

    Definition: ``survival`` at *t* is the estimated share of creators who have not
    re-offended *t* days after their first action, censoring at the end of the data.
    ``1 - survival`` is the cumulative recidivism.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`build_recidivism_table` (or any frame with ``duration`` and
        ``event`` columns).
    by : str or None, default "first_action_type"
        Grouping column; None for one curve.
    alpha : float, default 0.05
        Pointwise interval level (lifelines' exponential Greenwood interval).
    duration, event : str
        Column names.
    weights : str, optional
        Column of frequency weights: each row stands for that many creators (the
        aggregated risk sets of :func:`recidivism_risk_sets`, column ``creators``).

    Returns
    -------
    DataFrame
        Tidy: ``group, time_days, survival, ci_low, ci_high, at_risk, events,
        censored``; one row per distinct time of each group, starting at 0.

    References
    ----------
    .. [1] Kaplan, E. L., Meier, P. (1958). Nonparametric estimation from incomplete
       observations. JASA 53, 457-481.
    .. [2] lifelines ``KaplanMeierFitter``, https://lifelines.readthedocs.io/
    """
    _require(table, "recidivism table", [duration, event, *([weights] if weights else [])])
    frames = []
    for key, g in _groups(table, by):
        if g.empty:
            continue
        km = _fit_km(g, alpha, duration, event, weights)
        ci = km.confidence_interval_survival_function_
        et = km.event_table
        frames.append(
            pd.DataFrame(
                {
                    "group": key,
                    "time_days": km.survival_function_.index.to_numpy(dtype=float),
                    "survival": km.survival_function_.iloc[:, 0].to_numpy(),
                    "ci_low": ci.iloc[:, 0].to_numpy(),
                    "ci_high": ci.iloc[:, 1].to_numpy(),
                    "at_risk": et["at_risk"].to_numpy(dtype=int),
                    "events": et["observed"].to_numpy(dtype=int),
                    "censored": et["censored"].to_numpy(dtype=int),
                }
            )
        )
    cols = ["group", "time_days", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def summarise_recidivism(
    table: pd.DataFrame,
    by: str | None = "first_action_type",
    *,
    horizons: Sequence[float] = (30, 90, 180),
    alpha: float = 0.05,
    duration: str = "duration_days",
    event: str = "event",
    weights: str | None = None,
) -> pd.DataFrame:
    """Median time to re-offend and recidivism within fixed horizons, per group.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`build_recidivism_table`.
    by : str or None, default "first_action_type"
        Grouping column; None for one row.
    horizons : sequence of float, default (30, 90, 180)
        Days; ``recidivism_<h>d = 1 - S(h)`` from the Kaplan-Meier curve (NaN beyond
        the last observed time, where the curve is not identified).
    alpha : float, default 0.05
        Level of the median's interval.
    weights : str, optional
        Column of frequency weights (the ``creators`` of :func:`recidivism_risk_sets`);
        ``creators`` and ``events`` are then weighted sums.

    Returns
    -------
    DataFrame
        ``group, creators, events, median_days, median_ci_low, median_ci_high,
        recidivism_<h>d...``. ``median_days`` is ``inf`` when fewer than half of the
        group ever re-offend (the curve never reaches 0.5).

    Notes
    -----
    The median's interval is read off the pointwise survival interval (Brookmeyer and
    Crowley 1982), as ``lifelines.utils.median_survival_times`` does.

    References
    ----------
    .. [1] Brookmeyer, R., Crowley, J. (1982). A confidence interval for the median
       survival time. Biometrics 38, 29-41.
    """
    from lifelines.utils import median_survival_times

    _require(table, "recidivism table", [duration, event, *([weights] if weights else [])])
    rows = []
    for key, g in _groups(table, by):
        w = _frequency_weights(g, weights)
        n = int(w.sum())
        row = {"group": key, "creators": n, "events": int(w[g[event].astype(bool)].sum())}
        if n:
            km = _fit_km(g, alpha, duration, event, weights)
            ci = median_survival_times(km.confidence_interval_survival_function_)
            row.update(
                median_days=float(km.median_survival_time_),
                median_ci_low=float(ci.iloc[0, 0]),
                median_ci_high=float(ci.iloc[0, 1]),
            )
            last = float(g[duration].max())
            for h in horizons:
                row[f"recidivism_{h:g}d"] = 1.0 - float(km.predict(h)) if h <= last else math.nan
        else:
            row.update(
                median_days=math.nan,
                median_ci_low=math.nan,
                median_ci_high=math.nan,
                **{f"recidivism_{h:g}d": math.nan for h in horizons},
            )
        rows.append(row)
    return pd.DataFrame(rows)


def estimate_hazard_ratio(
    table: pd.DataFrame,
    treatment: str = "account_suspended",
    reference: str = "warning",
    *,
    group: str = "first_action_type",
    strata: Sequence[str] | None = None,
    alpha: float = 0.05,
    duration: str = "duration_days",
    event: str = "event",
    weights: str | None = None,
) -> pd.DataFrame:
    """Cox hazard ratio of re-offending, first action ``treatment`` versus ``reference``.

    Definition: ``exp(beta)`` of the Cox model ``h(t) = h0(t) exp(beta * treated)``
    fitted on the creators whose first action is ``treatment`` (treated = 1) or
    ``reference`` (0). A ratio below 1 means creators who first got the harsher action
    re-offend at a lower rate at any time since it.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`build_recidivism_table`.
    treatment, reference : str
        Values of ``group`` compared (default suspension versus warning).
    group : str, default "first_action_type"
        Column holding the first action type.
    strata : sequence of str, optional
        Columns to stratify the baseline hazard on (e.g. ``["market"]``,
        ``["market", "tier"]``): a separate baseline per stratum, one common ratio.
    alpha : float, default 0.05
        Wald interval level.
    weights : str, optional
        Column of integer frequency weights (the ``creators`` of
        :func:`recidivism_risk_sets`), passed as lifelines' ``weights_col``. lifelines'
        Efron correction counts tied events by row, not by weight, so rows with an event
        and a weight above 1 are split into unit rows (only the exactly tied re-offences);
        censored rows keep their weights, which enter the risk sets linearly. The fit and
        its (non-robust) variance then equal those on one row per creator.

    Returns
    -------
    DataFrame
        One row: ``treatment, reference, n_treatment, n_reference, events_treatment,
        events_reference, hazard_ratio, ci_low, ci_high, p_value, strata``.

    Raises
    ------
    EffectivenessInputError
        When either group is empty or has no re-offence (the ratio is not estimable).

    Notes
    -----
    ``lifelines.CoxPHFitter`` (Efron's method for ties, as R ``survival::coxph``).
    The comparison is observational: first actions are not randomised, so a harsher
    first action given for a graver violation confounds the ratio; stratify on what
    decides the action (market, severity) where the data allow, and read the ratio as
    an association unless actions were assigned as good as at random (as in the demo
    generator, which plants the ratio). The proportional-hazards assumption can be
    checked with ``CoxPHFitter.check_assumptions``.

    References
    ----------
    .. [1] Cox, D. R. (1972). Regression models and life-tables. JRSS B 34, 187-220.
    .. [2] Efron, B. (1977). The efficiency of Cox's likelihood function for censored
       data. JASA 72, 557-565.
    """
    from lifelines import CoxPHFitter

    _require(
        table, "recidivism table", [group, duration, event, *(strata or []), *([weights] if weights else [])]
    )
    d = table[table[group].astype(str).isin([treatment, reference])]
    w = _frequency_weights(d, weights)
    ev = d[event].astype(bool)
    counts = {k: int(w[d[group].astype(str) == k].sum()) for k in (treatment, reference)}
    events = {k: int(w[(d[group].astype(str) == k) & ev].sum()) for k in (treatment, reference)}
    if weights:  # split weighted event rows: lifelines' Efron ties count rows (see weights above)
        rows = np.repeat(np.arange(len(d)), np.where(ev, w, 1))
        d, w = d.iloc[rows], pd.Series(np.where(ev.to_numpy()[rows], 1, w.to_numpy()[rows]))
    for k in (treatment, reference):
        if counts[k] == 0 or events[k] == 0:
            raise EffectivenessInputError(
                f"cannot estimate the hazard ratio {treatment} vs {reference}: {counts[k]} creator(s) with first "
                f"action {k!r} and {events[k]} re-offence(s) among them; both groups need creators and re-offences "
                f"(widen the period or the market)"
            )
    x = pd.DataFrame(
        {
            "duration": d[duration].astype(float).to_numpy(),
            "event": d[event].astype(bool).astype(int).to_numpy(),
            "treated": (d[group].astype(str) == treatment).astype(float).to_numpy(),
            "_weight": w.astype(float).to_numpy(),
        }
    )
    for s in strata or []:
        x[s] = d[s].astype(str).to_numpy()
    cph = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the fit is checked below
        cph.fit(
            x,
            duration_col="duration",
            event_col="event",
            weights_col="_weight",
            strata=list(strata) if strata else None,
        )
    ci = cph.confidence_intervals_.loc["treated"]
    return pd.DataFrame(
        [
            {
                "treatment": treatment,
                "reference": reference,
                "n_treatment": counts[treatment],
                "n_reference": counts[reference],
                "events_treatment": events[treatment],
                "events_reference": events[reference],
                "hazard_ratio": float(np.exp(cph.params_["treated"])),
                "ci_low": float(np.exp(ci.iloc[0])),
                "ci_high": float(np.exp(ci.iloc[1])),
                "p_value": float(cph.summary.loc["treated", "p"]),
                "strata": ",".join(strata) if strata else "",
            }
        ]
    )


# --------------------------------------------------------------------------- deterrence (DiD)


def _local_months(ts: pd.Series, tz: str) -> np.ndarray:
    """``YYYY-MM`` in ``tz`` of each timestamp (None when missing): ``local_month`` without per-row strftime."""
    local = to_utc(ts).dt.tz_convert(tz)
    ok = local.notna().to_numpy()
    key = np.where(
        ok,
        local.dt.year.fillna(0).to_numpy(dtype=np.int64) * 12
        + local.dt.month.fillna(1).to_numpy(dtype=np.int64)
        - 1,
        0,
    )
    uniq, inv = np.unique(key, return_inverse=True)
    labels = np.array([f"{u // 12:04d}-{u % 12 + 1:02d}" for u in uniq], dtype=object)[inv]
    labels[~ok] = None
    return labels


PANEL_OUTCOMES = ("allegations", "qa_violating", "violations")  # preference order of ``outcome=None``
LEFT_TRUNCATION = ("drop", "keep")


def build_violation_panel(
    content: pd.DataFrame,
    actions: pd.DataFrame,
    creators: pd.DataFrame,
    *,
    tz: str | Mapping[str, str] = "UTC",
    market: str | None = None,
    labels: pd.DataFrame | None = None,
    notices: pd.DataFrame | None = None,
    activity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Creator x month panel of violations, allegations, exposure and first-action month.

    Definition: a *violation* is dated when it was committed: the ``published_at`` of
    the actioned content, or ``detected_at`` for an account-level action (no
    ``content_id``); several actions on one content item are one violation. The
    violation behind each creator's first action (the one that selects the creator
    into treatment) is left out, so that it cannot make the pre-period look worse.
    Violations are known only through enforcement, so creators never actioned have none
    by construction: use ``allegations`` (with ``notices``) or ``qa_violating`` (with
    ``labels``) as the deterrence outcome. ``activity`` is the number of content items
    published in the month. ``exposure`` is the share of the local month in which the
    creator could be observed: after ``registered_at`` and before their first
    ``account_banned`` action (when ``actions`` has ``action_type``; otherwise bans are
    not known and exposure runs to the month's end); every month of the panel is taken
    as fully observed. Months are local to each creator's market (``tz``).

    Parameters
    ----------
    content, actions, creators : DataFrame
        The contract tables over the whole history to analyse.
    tz : str or mapping, default "UTC"
        Time zone, or ``{market: time zone}`` (from ``MarketParams.timezone``).
    market : str, optional
        Keep creators of this home market.
    labels : DataFrame, optional
        ``review_labels`` (``content_id, is_violating, source``). Adds ``qa_labelled``
        and ``qa_violating``: content published in the month that random QA review
        (``source == "qa_sample"``) labelled, and labelled violating.
    notices : DataFrame, optional
        ``notices`` (``creator_id, content_id, received_at, action_id``, optionally
        ``outcome``). Adds ``allegations``: notices against the creator received in the
        month (local ``received_at``) that led to **no** action (``action_id`` null and
        ``outcome`` not ``actioned``: ``no_violation`` or ``pending``). The creator is
        ``creator_id``, else the creator of ``content_id``. Notices that were actioned are
        left out because they exist only for creators being actioned, which a
        not-yet-actioned control cannot be; allegations are observed the same way
        whether or not the creator was ever actioned, which the deterrence design needs
        (see :func:`estimate_deterrence_did`).
    activity : DataFrame, optional
        Content published per creator and local month (``creator_id, month, activity``),
        counted by the engine over the whole window, e.g. a report cube's
        ``content_activity``. Then ``content`` need only hold the content the other
        columns look up (the actions', notices' and labels' content), not every item of
        the window, and the panel's months are those of ``activity``.

    Returns
    -------
    DataFrame
        ``creator_id, market, tier, month, activity, violations, exposure,
        first_action_month, registered_month`` (plus ``qa_labelled, qa_violating`` with
        ``labels`` and ``allegations`` with ``notices``); one row per creator and month
        from the first to the last month with content, months before registration left
        out (months after a ban stay, with ``exposure`` 0).
    """
    _require(content, "content", ["content_id", "creator_id", "published_at"])
    _require(
        actions,
        "enforcement_actions",
        ["action_id", "creator_id", "content_id", "detected_at", "actioned_at"],
    )
    _require(creators, "creators", ["creator_id", "market", "tier", "registered_at"])
    tzmap = (lambda m: tz.get(m, "UTC")) if isinstance(tz, Mapping) else (lambda m: tz)
    cr = _panel_creators(creators, market, tzmap)
    mk = cr.set_index("creator_id")["market"]
    c, owner = _panel_content(content, actions, cr, mk, tzmap, notices, labels, activity)
    a, first, first_month, ban_at = _panel_actions(actions, cr, mk, tzmap)
    v = _panel_violations(a, first, c, mk, tzmap)
    base_cols = [
        "creator_id",
        "market",
        "tier",
        "month",
        "activity",
        "violations",
        "exposure",
        "first_action_month",
        "registered_month",
    ]
    act_n, span = _panel_activity(activity, c, cr)
    if span.empty:
        extra = (["qa_labelled", "qa_violating"] if labels is not None else []) + (
            ["allegations"] if notices is not None else []
        )
        return pd.DataFrame(columns=base_cols + extra)
    months = month_range(span.min(), span.max())
    grid = pd.MultiIndex.from_product([sorted(cr["creator_id"]), months], names=["creator_id", "month"])
    panel = pd.DataFrame(index=grid).reset_index()
    vio_n = v.groupby(["creator_id", "month"]).size().rename("violations")
    panel = panel.join(act_n, on=["creator_id", "month"]).join(vio_n, on=["creator_id", "month"])
    panel[["activity", "violations"]] = panel[["activity", "violations"]].fillna(0).astype(int)
    extra: list[str] = []
    if labels is not None:
        panel = _add_qa_labels(panel, labels, c)
        extra += ["qa_labelled", "qa_violating"]
    if notices is not None:
        panel = _add_allegations(panel, notices, owner, cr, mk, tzmap)
        extra.append("allegations")
    info = cr.set_index("creator_id")
    panel["market"] = panel["creator_id"].map(info["market"])
    panel["tier"] = panel["creator_id"].map(info["tier"]).astype(str)
    panel["first_action_month"] = panel["creator_id"].map(first_month).astype(object)
    panel["registered_month"] = panel["creator_id"].map(info["registered_month"])
    panel = panel[panel["month"] >= panel["registered_month"]].reset_index(drop=True)
    panel = _add_exposure(panel, info, ban_at, tzmap)
    return panel[base_cols + extra].reset_index(drop=True)


def _months_of(ts: pd.Series, markets: pd.Series, tzmap) -> pd.Series:
    """Local ``YYYY-MM`` of each timestamp in the time zone of its row's market."""
    out = pd.Series(index=ts.index, dtype=object)
    for m in markets.unique():
        sel = (markets == m).to_numpy()
        out[sel] = _local_months(ts[sel], tzmap(m))
    return out


def _panel_creators(creators: pd.DataFrame, market: str | None, tzmap) -> pd.DataFrame:
    """Creators of the panel (of ``market`` when given) with UTC ``registered_at`` and local ``registered_month``."""
    cr = creators[["creator_id", "market", "tier", "registered_at"]].copy()
    cr["creator_id"] = cr["creator_id"].astype(str)
    cr["market"] = cr["market"].astype(str)
    if market is not None:
        cr = cr[cr["market"] == market]
    cr = cr.reset_index(drop=True)
    cr["registered_at"] = to_utc(cr["registered_at"])
    cr["registered_month"] = _months_of(cr["registered_at"], cr["market"], tzmap).to_numpy()
    return cr


def _panel_content(content, actions, cr, mk, tzmap, notices, labels, activity):
    """The panel creators' content with its local publication ``month``, and the owner of every content item.

    With ``activity`` given, only the items the actions, notices and labels look up are kept.
    """
    c = content[["content_id", "creator_id", "published_at"]]
    if activity is not None:
        # activity is given: content matters only as the actions', notices' and labels' items
        looked_up = [actions["content_id"]] + [t["content_id"] for t in (notices, labels) if t is not None]
        c = c[c["content_id"].isin(pd.concat(looked_up).dropna().astype(str).unique())]
    c = c.copy()
    c["creator_id"] = c["creator_id"].astype(str)
    c["content_id"] = c["content_id"].astype(str)
    owner = c.drop_duplicates("content_id").set_index("content_id")["creator_id"]
    c = c[c["creator_id"].isin(cr["creator_id"])].reset_index(drop=True)
    c["month"] = _months_of(c["published_at"], c["creator_id"].map(mk), tzmap).to_numpy()
    return c, owner


def _panel_actions(actions, cr, mk, tzmap):
    """The panel creators' actions in time order, each creator's first action and its month, and first ban time."""
    cols_a = ["action_id", "creator_id", "content_id", "detected_at", "actioned_at"]
    a = actions[cols_a + (["action_type"] if "action_type" in actions.columns else [])].copy()
    a["creator_id"] = a["creator_id"].astype(str)
    a["action_id"] = a["action_id"].astype(str)
    a = a[a["creator_id"].isin(cr["creator_id"])].reset_index(drop=True)
    a["actioned_at"] = to_utc(a["actioned_at"])
    a = a.sort_values(["creator_id", "actioned_at", "action_id"]).reset_index(drop=True)
    first = a.drop_duplicates("creator_id")
    first_month = _months_of(first["actioned_at"], first["creator_id"].map(mk), tzmap)
    first_month.index = first["creator_id"].to_numpy()
    if "action_type" in a.columns:
        bans = a[a["action_type"].astype(str) == "account_banned"]
        ban_at = bans.groupby("creator_id")["actioned_at"].min()
    else:
        ban_at = pd.Series(dtype="datetime64[ns, UTC]")
    return a, first, first_month, ban_at


def _panel_violations(a: pd.DataFrame, first: pd.DataFrame, c: pd.DataFrame, mk, tzmap) -> pd.DataFrame:
    """One row per violation (``creator_id, when, month``), the one behind each first action left out.

    Dated at the actioned content's publication, or at ``detected_at`` for account-level
    actions; several actions on one content item are one violation.
    """
    first_content = set(first["content_id"].dropna().astype(str))
    first_ids = set(first["action_id"])
    pub = c.set_index("content_id")["published_at"]
    a["content_id"] = a["content_id"].astype(object).where(a["content_id"].notna(), None)
    has_c = a["content_id"].notna() & a["content_id"].astype(str).isin(pub.index)
    viol_c = a[has_c].assign(content_id=lambda x: x["content_id"].astype(str))
    viol_c = viol_c[~viol_c["content_id"].isin(first_content)].drop_duplicates("content_id")
    viol_c = viol_c.assign(when=viol_c["content_id"].map(pub))
    viol_a = a[~has_c & ~a["action_id"].isin(first_ids)].assign(when=lambda x: x["detected_at"])
    v = pd.concat([viol_c[["creator_id", "when"]], viol_a[["creator_id", "when"]]], ignore_index=True)
    v["month"] = _months_of(to_utc(v["when"]), v["creator_id"].map(mk), tzmap).to_numpy()
    return v


def _panel_activity(activity, c, cr):
    """Content published per creator and month, and the months that span the panel."""
    if activity is not None:
        _require(activity, "activity", ["creator_id", "month", "activity"])
        act = activity.assign(
            creator_id=activity["creator_id"].astype(str), month=activity["month"].astype(str)
        )
        act = act[act["creator_id"].isin(cr["creator_id"])]
        act_n = act.groupby(["creator_id", "month"])["activity"].sum().astype(int)
        return act_n, act["month"]
    return c.groupby(["creator_id", "month"]).size().rename("activity"), c["month"]


def _add_qa_labels(panel: pd.DataFrame, labels: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    """``qa_labelled`` and ``qa_violating``: content of the month that random QA review labelled (violating)."""
    _require(labels, "review_labels", ["content_id", "is_violating", "source"])
    qa = labels[labels["source"].astype(str) == "qa_sample"]
    qa = qa.assign(content_id=qa["content_id"].astype(str)).drop_duplicates("content_id")
    lab = c.merge(qa[["content_id", "is_violating"]], on="content_id")
    lab["is_violating"] = lab["is_violating"].astype(bool)
    agg = lab.groupby(["creator_id", "month"]).agg(
        qa_labelled=("is_violating", "size"), qa_violating=("is_violating", "sum")
    )
    panel = panel.join(agg, on=["creator_id", "month"])
    panel[["qa_labelled", "qa_violating"]] = panel[["qa_labelled", "qa_violating"]].fillna(0).astype(int)
    return panel


def _add_allegations(panel, notices, owner, cr, mk, tzmap) -> pd.DataFrame:
    """``allegations``: notices against the creator received in the month that led to no action."""
    _require(notices, "notices", ["creator_id", "content_id", "received_at", "action_id"])
    nt = notices[notices["action_id"].isna()]
    if "outcome" in nt.columns:
        nt = nt[nt["outcome"].astype(str) != "actioned"]
    who = nt["creator_id"].astype(object).where(nt["creator_id"].notna(), None)
    cid = nt["content_id"].astype(object).where(nt["content_id"].notna(), None)
    who = who.fillna(cid.map(owner)) if who.isna().any() else who
    nt = pd.DataFrame({"creator_id": who.astype(object), "received_at": to_utc(nt["received_at"])})
    nt = nt[nt["creator_id"].notna()]
    nt = nt[nt["creator_id"].astype(str).isin(cr["creator_id"])]
    nt["creator_id"] = nt["creator_id"].astype(str)
    nt["month"] = _months_of(nt["received_at"], nt["creator_id"].map(mk), tzmap).to_numpy()
    panel = panel.join(
        nt.groupby(["creator_id", "month"]).size().rename("allegations"), on=["creator_id", "month"]
    )
    panel["allegations"] = panel["allegations"].fillna(0).astype(int)
    return panel


def _add_exposure(panel: pd.DataFrame, info: pd.DataFrame, ban_at: pd.Series, tzmap) -> pd.DataFrame:
    """``exposure``: overlap of [registered_at, first ban) with the local month, as a share of the month."""
    bounds = panel[["market", "month"]].drop_duplicates()
    lo_hi = [month_bounds(m, tzmap(mkt)) for mkt, m in zip(bounds["market"], bounds["month"], strict=True)]
    bounds = bounds.assign(m_start=[b[0] for b in lo_hi], m_end=[b[1] for b in lo_hi])
    panel = panel.merge(bounds, on=["market", "month"], how="left")
    reg = pd.to_datetime(panel["creator_id"].map(info["registered_at"]), utc=True)
    ban = pd.to_datetime(panel["creator_id"].map(ban_at), utc=True)
    lo = reg.where(reg > panel["m_start"], panel["m_start"])
    hi = ban.where(ban.notna() & (ban < panel["m_end"]), panel["m_end"])
    length = (panel["m_end"] - panel["m_start"]).dt.total_seconds()
    panel["exposure"] = (
        ((hi - lo).dt.total_seconds() / length).clip(lower=0.0, upper=1.0).to_numpy(dtype=float)
    )
    return panel


def estimate_deterrence_did(
    panel: pd.DataFrame,
    *,
    window: int = 3,
    outcome: str | None = None,
    match_on: Sequence[str] = ("market", "tier"),
    left_truncation: str = "drop",
    n_boot: int = 499,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Deterrence effect of a first enforcement action by difference-in-differences.

    Design: each creator first actioned in month *g* (cohort *g*) is compared with
    matched creators **not yet actioned** by the end of the comparison window. For
    creator *i*, ``d_i = r_i(g+1..g+w) - r_i(g-w..g-1)``, the change in the monthly
    outcome rate ``r = sum(y) / sum(exposure)`` (outcome per exposed creator-month; a
    panel without ``exposure`` counts every month as 1) from the ``w`` months before to
    the ``w`` months after. The action month *g* itself is left out: it holds the
    violation that selected the creator and is only partly treated. A creator enters
    cohort *g* only with a panel row for every month ``g-w..g+w`` (registered by
    month ``g-w``) and some exposure before and after (a creator banned through the
    post months drops out). Controls of cohort *g* are creators with no action up to
    month ``g+w`` (never actioned or first actioned later), in the same *cell*: the
    ``match_on`` columns (market, tier) and the prior-activity band ``floor(log2(1 +
    content items published in g-w..g-1))``. The effect on the treated is

        ATT = mean over treated i of ( d_i - mean of d_c over the controls of i's cell )

    in outcome units per creator-month (negative = deterrence), and the rate ratio

        RR = sum_i post_i / sum_i (post_i - ATT_i),

    the treated's post-action rate over their counterfactual rate (pre-rate plus the
    matched controls' change); ``RR - 1`` is the relative change. Treated creators whose
    cell has no control are dropped and counted. This is the stacked "clean controls"
    estimator of staggered adoption with not-yet-treated comparisons (Callaway and
    Sant'Anna 2021; Cengiz et al. 2019) with exact matching.

    Outcome: it must be observed the same way for creators actioned or not.
    ``allegations`` (notices against the creator that led to no action, from
    :func:`build_violation_panel` with ``notices``) and ``qa_violating`` (random QA
    labels) are; ``violations`` (known only through enforcement actions) is not: a
    control that violated in the window would already be actioned, so clean controls
    show none by construction and the "effect" is the treated creators' own
    recidivism. The result then carries a ``note``; the Cox ratio of
    :func:`estimate_hazard_ratio` compares harsher with lighter first actions instead.

    Assumptions (read the estimate only under them)

    - *Parallel trends*: without the action, the treated creators' outcome rate would
      have changed like that of their matched controls over the window (in levels;
      with heterogeneous levels, a common multiplicative trend breaks it).
    - *No anticipation*: creators do not change behaviour before the action (the
      pre-months are untreated).
    - *No spill-over*: an action on one creator does not change the controls.
    - *Full history* (``left_truncation="drop"``): the first action in the data must
      be the creator's first ever. A creator registered before the panel's first month
      may have been actioned before the data begin; their "pre-period" would already
      be treated, biasing the effect towards zero, so they are neither treated nor
      controls. ``"keep"`` uses them (data that start at the platform's launch).
    - *Staggered adoption*: comparing only with not-yet-treated controls avoids the
      negative-weight bias of two-way fixed effects (Goodman-Bacon 2021), but the
      controls are creators who may be actioned later: selection on an outcome shock
      (regression to the mean) biases the estimate. Cohorts are pooled with one
      weight per treated creator (a creator may be a control in several cohorts;
      the bootstrap resamples creators, which carries that dependence).
    - A first action can change how the creator is watched or reported (more scrutiny
      after it), which the outcome then mixes with deterrence; a ban ends exposure
      (incapacitation is not counted as deterrence).

    Parameters
    ----------
    panel : DataFrame
        Creator x month panel with ``creator_id, month, activity,
        first_action_month`` (missing = never actioned), the outcome, the
        ``match_on`` columns and, for ``left_truncation="drop"``,
        ``registered_month``; optionally ``exposure``. E.g. from
        :func:`build_violation_panel`. A creator-month absent from the panel means the
        creator did not exist yet.
    window : int, default 3
        Months ``w`` before and after.
    outcome : {None, "allegations", "qa_violating", "violations"} or str
        Column of ``panel`` holding the monthly outcome. None (default): the first of
        ``allegations``, ``qa_violating``, ``violations`` the panel has.
    match_on : sequence of str, default ("market", "tier")
        Exact-matching columns, besides the prior-activity band.
    left_truncation : {"drop", "keep"}, default "drop"
        ``"drop"``: only creators registered in or after the panel's first month
        (whose whole enforcement history is in the data). ``"keep"``: everyone.
    n_boot : int, default 499
        Bootstrap replications (creators resampled with replacement); 0 skips the
        intervals.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; same inputs and seed, same interval.
    alpha : float, default 0.05
        Percentile interval level.

    Returns
    -------
    DataFrame
        One row: ``outcome``, ``estimate`` (ATT, outcome per creator-month),
        ``ci_low, ci_high`` (bootstrap percentiles), ``rate_ratio,
        rate_ratio_ci_low, rate_ratio_ci_high``, ``treated_pre, treated_post``
        (treated mean rates), ``control_change`` (matched control mean of ``d``),
        ``relative_change`` (``rate_ratio - 1``), ``n_treated, n_unmatched,
        n_controls, n_cohorts, n_left_truncated`` (creators left out by
        ``left_truncation``), ``window, left_truncation, n_boot, seed``,
        ``control_outcome_total`` (sum of the outcome over the controls' windows) and
        ``note`` (non-empty when the design cannot identify deterrence, see above).

    Raises
    ------
    EffectivenessInputError
        When the panel lacks a column, no cohort has a full window, or no treated
        creator has a matched control.

    References
    ----------
    .. [1] Callaway, B., Sant'Anna, P. H. C. (2021). Difference-in-differences with
       multiple time periods. Journal of Econometrics 225(2), 200-230.
    .. [2] Cengiz, D., Dube, A., Lindner, A., Zipperer, B. (2019). The effect of
       minimum wages on low-wage jobs. QJE 134(3), 1405-1454 (stacked event design).
    .. [3] Goodman-Bacon, A. (2021). Difference-in-differences with variation in
       treatment timing. Journal of Econometrics 225(2), 254-277.
    .. [4] Roth, J., Sant'Anna, P. H. C., Bilinski, A., Poe, J. (2023). What's trending
       in difference-in-differences? Journal of Econometrics 235(2), 2218-2244.
    """
    if outcome is None:
        outcome = next((o for o in PANEL_OUTCOMES if o in panel.columns), PANEL_OUTCOMES[-1])
    if left_truncation not in LEFT_TRUNCATION:
        raise ValueError(f"left_truncation must be one of {LEFT_TRUNCATION}, got {left_truncation!r}")
    need = ["creator_id", "month", outcome, "activity", "first_action_month", *match_on]
    if left_truncation == "drop":
        need.append("registered_month")
    _require(panel, "panel", need)
    if window < 1:
        raise ValueError(f"window must be >= 1 month, got {window}")
    p = panel[need + (["exposure"] if "exposure" in panel.columns else [])].copy()
    p["creator_id"] = p["creator_id"].astype(str)
    months, Y, A, E, G, eligible, base_code = _did_arrays(p, outcome, match_on, left_truncation)
    cohorts = build_did_cohorts(Y, A, E, G, eligible, base_code, window)
    if not cohorts:
        raise EffectivenessInputError(
            f"no cohort of first actions with {window} full month(s) before and after inside the panel "
            f"({months[0] if months else '-'} to {months[-1] if months else '-'}"
            f"{', creators registered inside it' if left_truncation == 'drop' else ''}); use a longer history or a "
            f"smaller window"
        )
    n = len(Y)
    est, ratio, den, unmatched, pre_s, post_s, cchg = estimate_att(cohorts, np.ones(n), detail=True)
    if den == 0:
        raise EffectivenessInputError(
            f"no treated creator has a matched not-yet-actioned control in its cell ({', '.join(match_on)} and "
            f"prior-activity band); match on fewer columns or use more creators"
        )
    lo, hi, r_lo, r_hi = bootstrap_att(cohorts, n, n_boot, seed, alpha)
    controls = len(set(np.concatenate([co["c"] for co in cohorts]).tolist()))
    control_total = sum(co["c_total"] for co in cohorts)
    return pd.DataFrame(
        [
            {
                "outcome": outcome,
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "rate_ratio": ratio,
                "rate_ratio_ci_low": r_lo,
                "rate_ratio_ci_high": r_hi,
                "treated_pre": pre_s / den,
                "treated_post": post_s / den,
                "control_change": cchg / den,
                "relative_change": ratio - 1.0,
                "n_treated": int(den),
                "n_unmatched": unmatched,
                "n_controls": controls,
                "n_cohorts": len(cohorts),
                "n_left_truncated": int((~eligible).sum()),
                "window": window,
                "left_truncation": left_truncation,
                "n_boot": n_boot,
                "seed": seed,
                "control_outcome_total": control_total,
                "note": _did_note(control_total, outcome),
            }
        ]
    )


def _did_arrays(p: pd.DataFrame, outcome: str, match_on: Sequence[str], left_truncation: str):
    """Creator x month arrays of the DiD design: outcome ``Y``, activity ``A``, exposure ``E``
    (NaN where a creator has no row), first-action month index ``G`` per creator, the
    creators ``eligible`` under ``left_truncation`` and the exact-matching cell code."""
    months = sorted(p["month"].astype(str).unique())
    T = len(months)
    midx = {m: i for i, m in enumerate(months)}
    ids = sorted(p["creator_id"].unique())
    cidx = {c: i for i, c in enumerate(ids)}
    n = len(ids)
    rows = p["creator_id"].map(cidx).to_numpy()
    cols = p["month"].astype(str).map(midx).to_numpy()
    Y = np.full((n, T), np.nan)
    A = np.full((n, T), np.nan)
    E = np.full((n, T), np.nan)
    Y[rows, cols] = p[outcome].to_numpy(dtype=float)
    A[rows, cols] = p["activity"].to_numpy(dtype=float)
    E[rows, cols] = p["exposure"].to_numpy(dtype=float) if "exposure" in p.columns else 1.0
    per = p.drop_duplicates("creator_id").set_index("creator_id").loc[ids]
    fam = per["first_action_month"].astype(object).where(per["first_action_month"].notna(), None)
    G = np.array([midx.get(str(m), np.nan) if m is not None else np.inf for m in fam], dtype=float)
    # a first action outside the panel's months: before it -> always treated (never a control)
    outside = np.array([m is not None and str(m) not in midx for m in fam])
    G[outside & np.array([m is not None and str(m) < months[0] for m in fam])] = -np.inf
    G[outside & np.array([m is not None and str(m) > months[-1] for m in fam])] = np.inf
    eligible = np.ones(n, bool)
    if left_truncation == "drop":
        eligible = (per["registered_month"].astype(str) >= months[0]).to_numpy()
    cell_base = (
        per[list(match_on)].astype(str).agg("\x1f".join, axis=1).to_numpy() if match_on else np.zeros(n)
    )
    _, base_code = np.unique(cell_base, return_inverse=True)
    return months, Y, A, E, G, eligible, base_code


def _did_note(control_total: float, outcome: str) -> str:
    """Why the estimate is not a deterrence effect, or "" (controls that never show the outcome)."""
    if control_total != 0:
        return ""
    return (
        f"the matched controls have no {outcome} in any window: when the outcome is only observed through "
        f"enforcement, creators not yet actioned cannot show any, and the estimate is the treated creators' "
        f"own change (recidivism), not a deterrence effect; use an outcome observed without enforcement "
        f"(allegations from notices, or QA-sampled review labels)"
    )


# --------------------------------------------------------------------------- deterrence (DiD) on the engine

_U32 = 1 << 32
_POISSON_MAX = 12  # P(Poisson(1) > 12) < 1e-10: the weight is capped there
# Poisson(1) CDF at 0..11 on the 32-bit integer scale: weight k when the hash lies in [T_{k-1}, T_k)
_POISSON_CUTS = [
    int(sum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) * _U32) for k in range(_POISSON_MAX)
]


def _mul32(x, c: int):
    """``(x * c) mod 2**32`` of a 32-bit column without 64-bit overflow (16-bit halves)."""
    return (((x // 65536) * c) % 65536 * 65536 + (x % 65536) * c) % _U32


def _fmix32(t, col: str):
    """MurmurHash3's 32-bit finaliser (an avalanche bijection) of whole-number column ``col`` of ``t``.

    One step per sub-query (the filters are always true): each step reads the column twice,
    so written as one expression the SQL would double in size per step.
    """
    for f in (
        lambda x: x ^ (x // 65536),
        lambda x: _mul32(x, 0x85EBCA6B),
        lambda x: x ^ (x // 8192),
        lambda x: _mul32(x, 0xC2B2AE35),
        lambda x: x ^ (x // 65536),
    ):
        t = t.mutate(**{col: f(t[col])})
        t = t.filter(t[col] >= 0)
    return t


def _creator_keys(t, seed: int):
    """``t`` with ``_key``: the first 7 hex digits of MD5(creator_id), xor the seed, mixed by :func:`_fmix32`."""
    import ibis

    hexd = t.creator_id.cast("string").hexdigest("md5")
    key = ibis.literal(0)
    for i in range(7):
        key = key * 16 + (ibis.literal("0123456789abcdef").find(hexd.substr(i, 1)))
    t = t.mutate(_key=key)
    t = t.filter(t._key >= 0).mutate(_key=t._key ^ (seed % _U32))
    return _fmix32(t.filter(t._key >= 0), "_key")


def poisson_weights(t, key: str = "_key", replicate: str = "replicate", name: str = "_w"):
    """``t`` with ``name``: a unit's Poisson(1) bootstrap weight in a replicate, from its 32-bit ``key``.

    SplitMix-style counter hash: ``fmix32((key + replicate * 0x9E3779B9) mod 2**32)``,
    read as a uniform 32-bit integer and turned into a Poisson(1) count by comparing it with
    the CDF's cut points (whole-number arithmetic only, so DuckDB and Spark give the same
    weights). Capped at 12 (probability below 1e-10).

    Parameters
    ----------
    t : ibis.Table
        One row per (unit, replicate).
    key, replicate : str
        Columns of the unit's 32-bit key (:func:`_creator_keys`) and the replicate number.
    name : str
        Column added (int64).

    Returns
    -------
    ibis.Table
        ``t`` with ``name``.

    References
    ----------
    .. [1] Hanley, J. A., MacGibbon, B. (2006). Creating non-parametric bootstrap samples
       using Poisson frequencies. Computer Methods and Programs in Biomedicine 83, 57-62.
    .. [2] Steele, G. L., Lea, D., Flood, C. H. (2014). Fast splittable pseudorandom
       number generators. OOPSLA 2014.
    """
    t = t.mutate(_h=(t[key] + t[replicate] * 0x9E3779B9) % _U32)
    t = _fmix32(t.filter(t._h >= 0), "_h")
    w = (t._h >= _POISSON_CUTS[0]).cast("int64")
    for cut in _POISSON_CUTS[1:]:
        w = w + (t._h >= cut).cast("int64")
    return t.mutate(**{name: w}).drop("_h")


def _exact_sum(x, scale: int = 14, where=None):
    """Sum of float column ``x`` that does not depend on the order of the rows.

    A parallel engine adds floats in any order, so their sum can change in the last bit from
    one run to the next (same seed, other bytes). Each value is rounded to ``scale`` decimal
    places as a DECIMAL(38, scale), whose sum is exact on DuckDB and Spark, then read back as
    a float: deterministic, and within 1e-14 of the float sum per value added.
    """
    return x.cast(f"decimal(38, {scale})").sum(where=where).cast("float64")


def _did_unit_rows(panel, months: list[str], window: int, outcome: str, match_on, left_truncation: str):
    """Per (creator, cohort g) rows of the DiD design on the engine: group, cell and rates.

    As :func:`govlib.stats.did.build_did_cohorts`: the creator has a row with the outcome
    for each month ``g-w..g+w``, exposure before and after, is eligible, and is treated
    (first action in ``g``) or a clean control (none up to ``g+w``).
    """
    import ibis

    big, w = 10**6, window
    midx = ibis.cases(*[(panel.month.cast("string") == m, i) for i, m in enumerate(months)], else_=None)
    p = panel.filter(panel[outcome].notnull()).mutate(_mi=midx)
    expo = p.exposure.cast("float64") if "exposure" in panel.columns else ibis.literal(1.0)
    p = p.mutate(_y=p[outcome].cast("float64"), _a=p.activity.cast("float64"), _e=expo)
    pairs = ibis.memtable(
        pd.DataFrame(
            [(g + r, g, r) for g in range(w, len(months) - w) for r in range(-w, w + 1)],
            columns=["_pm", "g", "rel"],
        ).astype("int64")  # typed even when the market has too few months for a cohort (no rows)
    )
    j = p.join(pairs, p._mi == pairs._pm)
    pre, post = j.rel < 0, j.rel > 0
    u = j.group_by(["creator_id", "g"]).agg(
        _n=j.count(),
        y_pre=j._y.sum(where=pre),
        e_pre=_exact_sum(j._e, 20, where=pre),
        a_pre=j._a.sum(where=pre),
        y_post=j._y.sum(where=post),
        e_post=_exact_sum(j._e, 20, where=post),
        y_window=j._y.sum(),
    )
    u = u.filter((u._n == 2 * w + 1) & (u.e_pre > 0) & (u.e_post > 0))
    fam = panel.first_action_month.cast("string")
    gidx = ibis.cases(*[(fam == m, i) for i, m in enumerate(months)], else_=None)
    per = panel.group_by("creator_id").agg(
        _G=ibis.cases(
            (fam.isnull(), big), (fam < months[0], -big), (fam > months[-1], big), else_=gidx
        ).max(),
        _elig=(panel.registered_month.cast("string") >= months[0]).max()
        if left_truncation == "drop"
        else ibis.literal(True).max(),
        _base=ibis.literal("").concat(*[panel[c].cast("string") + "\x1f" for c in match_on]).max()
        if match_on
        else ibis.literal("").max(),
    )
    r = u.join(per, "creator_id")
    r = r.filter(r._elig & ((r._G == r.g) | (r._G > r.g + w)))
    band = ibis.literal(0)
    for k in range(1, 41):  # floor(log2(1 + a)) by exact comparisons, the same on every engine
        band = band + (r.a_pre + 1 >= 2.0**k).cast("int64")
    r_pre, r_post = r.y_pre / r.e_pre, r.y_post / r.e_post
    return r.select(
        "creator_id",
        "g",
        "y_window",
        treated=r._G == r.g,
        cell=r._base.concat(band.cast("string")),
        r_pre=r_pre,
        r_post=r_post,
        d=r_post - r_pre,
    )


def did_cell_sums_expr(
    panel,
    months: Sequence[str],
    *,
    window: int = 3,
    outcome: str = "allegations",
    match_on: Sequence[str] = ("market", "tier"),
    left_truncation: str = "drop",
    n_boot: int = 499,
    seed: int = 0,
):
    """The DiD design's per-(replicate, cohort, cell, group) sums, as an Ibis expression.

    Parameters
    ----------
    panel : ibis.Table
        Creator x month panel as :func:`estimate_deterrence_did` takes it (e.g.
        :func:`build_violation_panel`'s columns), on DuckDB or Spark.
    months : sequence of str
        The panel's months, sorted (``YYYY-MM``).
    window, outcome, match_on, left_truncation
        As :func:`estimate_deterrence_did`.
    n_boot, seed : int
        Poisson bootstrap replicates (1..``n_boot``; replicate 0 has every weight 1) and
        the seed of the creators' hash keys (:func:`poisson_weights`).

    Returns
    -------
    ibis.Table
        :data:`govlib.stats.did.CELL_SUM_COLUMNS`, for
        :func:`govlib.stats.did.att_from_cells` (rows with ``replicate >= 0``). Its size is
        replicates x cohorts x cells x 2, not creators. One more row, ``replicate = -1``,
        holds in ``n`` the number of distinct control creators of the cohorts that have
        treated creators (computed in the same query, from the same per-creator rows).
    """
    import ibis

    rows = _did_unit_rows(panel, list(months), window, outcome, match_on, left_truncation)
    reps = ibis.memtable(pd.DataFrame({"replicate": np.arange(n_boot + 1, dtype="int64")}))
    keys = _creator_keys(rows.select("creator_id").distinct(), seed)
    # per creator and replicate first (creators x replicates), then onto the creator's cohort rows
    cw = poisson_weights(keys.cross_join(reps.filter(reps.replicate > 0)))
    cw = cw.filter(cw._w > 0).select("creator_id", "replicate", "_w")
    one = keys.cross_join(reps.filter(reps.replicate == 0)).select(
        "creator_id", "replicate", _w=ibis.literal(1, type="int64")
    )
    cw = cw.union(one)
    x = rows.join(cw, "creator_id")
    x = x.mutate(_w=x._w.cast("float64"))
    cells = x.group_by(["replicate", "g", "cell", "treated"]).agg(
        w=x._w.sum(),
        s_d=_exact_sum(x._w * x.d),
        s_pre=_exact_sum(x._w * x.r_pre),
        s_post=_exact_sum(x._w * x.r_post),
        y_window=(x._w * x.y_window).sum(),
        n=x.count(),
    )
    # one more row (replicate -1): the distinct controls of the cohorts that have treated creators,
    # in the same query, so that the engine computes the per-creator rows once
    ctrl = rows.filter(~rows.treated).semi_join(rows.filter(rows.treated).select("g").distinct(), "g")
    agg = ctrl.aggregate(n=ctrl.creator_id.nunique())
    zero = ibis.literal(0.0, type="float64")
    extra = agg.select(
        replicate=ibis.literal(-1, type="int64"),
        g=ibis.literal(-1, type="int64"),
        cell=ibis.literal("", type="string"),
        treated=ibis.literal(False),
        w=zero,
        s_d=zero,
        s_pre=zero,
        s_post=zero,
        y_window=zero,
        n=agg.n.cast("int64"),
    )
    return cells.union(extra)


def estimate_deterrence_did_expr(
    panel,
    *,
    window: int = 3,
    outcome: str | None = None,
    match_on: Sequence[str] = ("market", "tier"),
    left_truncation: str = "drop",
    n_boot: int = 499,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`estimate_deterrence_did` with the design computed by the engine (DuckDB or Spark).

    Same design, parameters and result columns; ``panel`` is an Ibis table. The per-creator
    rows and the cohorts become per-(replicate, cohort, cell, group) sums on the engine
    (:func:`did_cell_sums_expr`); pandas combines them (:func:`govlib.stats.did.att_from_cells`).
    The point estimate, rate ratio, treated and control means and counts equal
    :func:`estimate_deterrence_did`'s (to 1e-9).

    The interval is a **Poisson bootstrap** of creators: in each replicate every creator gets
    an independent Poisson(1) weight (its number of copies), drawn from a hash of (seed,
    replicate, creator_id) on the engine, and each cell sum is the weighted sum. A creator's
    weight is the same in every cohort of a replicate, which keeps the dependence of a creator
    who is a control in several cohorts, as the multinomial resampling of
    :func:`estimate_deterrence_did` does. The multinomial counts of n draws are Poisson(1)
    counts conditioned on summing to n; for the hundreds of creators and more of a market the
    two give the same sampling distribution to within the bootstrap's own Monte Carlo error.
    Measured on the demo markets DE and GB, seeds 7 and 8, 199 replicates (docs/performance.md):
    an interval end moved by at most 0.20 of the multinomial interval's width at ``small``
    (23-29 treated creators) and 0.11 at ``medium`` (272-379); two seeds of the multinomial
    bootstrap itself differ by as much (0.14 at ``small``). The documented tolerance, which
    ``tests/metrics/test_deterrence_engine.py`` asserts, is 0.35 of the width; the report's
    published interval changes within it.

    References
    ----------
    .. [1] Hanley, J. A., MacGibbon, B. (2006). Creating non-parametric bootstrap samples
       using Poisson frequencies. Computer Methods and Programs in Biomedicine 83, 57-62.
    .. [2] Chamandy, N., Muralidharan, O., Najmi, A., Naidu, S. (2012). Estimating
       uncertainty for massive data streams. Google technical report.
    .. [3] Steele, G. L., Lea, D., Flood, C. H. (2014). Fast splittable pseudorandom
       number generators. OOPSLA 2014 (SplitMix; the MurmurHash3 finaliser as mixer).
    """
    from govlib.stats.did import att_from_cells

    if outcome is None:
        outcome = next((o for o in PANEL_OUTCOMES if o in panel.columns), PANEL_OUTCOMES[-1])
    if left_truncation not in LEFT_TRUNCATION:
        raise ValueError(f"left_truncation must be one of {LEFT_TRUNCATION}, got {left_truncation!r}")
    need = ["creator_id", "month", outcome, "activity", "first_action_month", *match_on]
    missing = [
        c
        for c in need + (["registered_month"] if left_truncation == "drop" else [])
        if c not in panel.columns
    ]
    if missing:
        raise EffectivenessInputError(f"table 'panel' lacks column(s) {', '.join(missing)}")
    if window < 1:
        raise ValueError(f"window must be >= 1 month, got {window}")
    months = sorted(
        str(m) for m in panel.select(month=panel.month.cast("string")).distinct().execute()["month"]
    )
    kw = dict(window=window, outcome=outcome, match_on=match_on, left_truncation=left_truncation)
    cells = did_cell_sums_expr(panel, months, n_boot=n_boot, seed=seed, **kw).execute() if months else None
    sums = cells[cells["replicate"] >= 0] if cells is not None else None
    treated = sums is not None and bool((sums["treated"].astype(bool) & (sums["replicate"] == 0)).any())
    r = att_from_cells(sums, n_boot, alpha) if treated else None
    if r is None or r["n_cohorts"] == 0:
        raise EffectivenessInputError(
            f"no cohort of first actions with {window} full month(s) before and after inside the panel "
            f"({months[0] if months else '-'} to {months[-1] if months else '-'}"
            f"{', creators registered inside it' if left_truncation == 'drop' else ''}); use a longer history or a "
            f"smaller window"
        )
    if r["den"] == 0:
        raise EffectivenessInputError(
            f"no treated creator has a matched not-yet-actioned control in its cell ({', '.join(match_on)} and "
            f"prior-activity band); match on fewer columns or use more creators"
        )
    n_controls = int(cells.loc[cells["replicate"] == -1, "n"].sum())
    n_trunc = _did_truncated(panel, months) if left_truncation == "drop" else 0
    out = pd.DataFrame([_did_row(r, outcome, n_controls, n_trunc, window, left_truncation, n_boot, seed)])
    out.attrs["cell_rows"] = len(cells)  # what reached pandas (benchmarks/engine_enforcement.py)
    return out


def _did_truncated(panel, months) -> int:
    """Creators of the panel registered before its first month (left out by ``left_truncation="drop"``)."""
    r = panel.registered_month.cast("string")
    late = panel.filter(~(r >= months[0]) | r.isnull())
    return int(late.creator_id.nunique().execute())


def _did_row(r: dict, outcome, n_controls, n_trunc, window, left_truncation, n_boot, seed) -> dict:
    den = r["den"]
    return {
        "outcome": outcome,
        "estimate": r["est"],
        "ci_low": r["lo"],
        "ci_high": r["hi"],
        "rate_ratio": r["ratio"],
        "rate_ratio_ci_low": r["ratio_lo"],
        "rate_ratio_ci_high": r["ratio_hi"],
        "treated_pre": r["pre_s"] / den,
        "treated_post": r["post_s"] / den,
        "control_change": r["cchg"] / den,
        "relative_change": r["ratio"] - 1.0,
        "n_treated": int(den),
        "n_unmatched": r["unmatched"],
        "n_controls": n_controls,
        "n_cohorts": r["n_cohorts"],
        "n_left_truncated": n_trunc,
        "window": window,
        "left_truncation": left_truncation,
        "n_boot": n_boot,
        "seed": seed,
        "control_outcome_total": r["c_total"],
        "note": _did_note(r["c_total"], outcome),
    }


BEFORE_PANEL, AFTER_PANEL = "0000-00", "9999-99"  # month labels of times outside the panel's months


def _panel_month_expr(col, months: Sequence[str], tz: str):
    """Local ``YYYY-MM`` of ``col`` within ``months``, :data:`BEFORE_PANEL` / :data:`AFTER_PANEL` outside (null stays null)."""
    import ibis

    from govlib.data.dataset import utc_literal

    bounds = [month_bounds(m, tz) for m in months]
    return ibis.cases(
        (col.isnull(), None),
        (col < utc_literal(bounds[0][0]), BEFORE_PANEL),
        *[(col < utc_literal(e), m) for m, (_s, e) in zip(months, bounds, strict=True)],
        else_=AFTER_PANEL,
    ).cast("string")


def violation_panel_expr(
    actions,
    creators,
    notices,
    content,
    activity,
    *,
    market: str,
    tz: str,
    months: Sequence[str] | None = None,
):
    """:func:`build_violation_panel`'s allegations panel of one market, as an Ibis expression.

    One row per creator of ``market`` and month of ``months`` from the creator's local
    registration month on: ``creator_id, market, tier, month, activity, allegations,
    exposure, first_action_month, registered_month``, defined as in
    :func:`build_violation_panel` (with ``notices`` and ``activity``). ``registered_month``
    and ``first_action_month`` are :data:`BEFORE_PANEL` / :data:`AFTER_PANEL` for times
    outside ``months`` (the DiD only compares them with the panel's months). The tables are
    Ibis tables (e.g. ``ReportContext.expr``; ``activity`` the cube's ``content_activity``);
    the panel stays on the engine for :func:`estimate_deterrence_did_expr`. ``months``
    defaults to every month from the first to the last of the market's creators' activity
    (as :func:`build_violation_panel`). Equal to :func:`build_violation_panel`'s rows
    (``tests/metrics/test_deterrence_engine.py``).

    Raises
    ------
    EffectivenessInputError
        When the market's creators have no activity (no month to build the panel on).
    """
    import ibis

    from govlib.data.dataset import utc_literal

    if months is None:
        months = _activity_months(activity, creators, market)
    if not months:
        raise EffectivenessInputError(
            f"no content activity of {market} creators in table 'content_activity': the deterrence panel has no month"
        )
    cr = creators.filter(creators.market == market).select("creator_id", "market", "tier", "registered_at")
    cr = cr.mutate(
        creator_id=cr.creator_id.cast("string"),
        registered_month=_panel_month_expr(cr.registered_at, months, tz),
    )
    a = actions.filter(actions.creator_id.isin(cr.creator_id))
    per = a.group_by(a.creator_id.cast("string").name("creator_id")).agg(
        _first=a.actioned_at.min(), _ban=a.actioned_at.min(where=a.action_type == "account_banned")
    )
    per = per.mutate(first_action_month=_panel_month_expr(per._first, months, tz))
    bounds = {mo: month_bounds(mo, tz) for mo in months}
    mt = ibis.memtable(pd.DataFrame({"month": list(months)}))
    g = cr.cross_join(mt)
    start = ibis.cases(*[(g.month == mo, utc_literal(s)) for mo, (s, _e) in bounds.items()])
    end = ibis.cases(*[(g.month == mo, utc_literal(e)) for mo, (_s, e) in bounds.items()])
    length = ibis.cases(*[(g.month == mo, float((e - s).total_seconds())) for mo, (s, e) in bounds.items()])
    g = g.mutate(_start=start, _end=end, _len=length)
    g = g.filter(g.registered_at < g._end)
    g = g.left_join(per, g.creator_id == per.creator_id).select(g, per.first_action_month, per._ban)
    lo = ibis.greatest(g.registered_at, g._start)
    hi = ibis.cases(((g._ban.notnull()) & (g._ban < g._end), g._ban), else_=g._end)
    expo = (hi.delta(lo, unit="microsecond").cast("float64") / 1e6) / g._len
    g = g.mutate(exposure=ibis.greatest(ibis.least(expo, 1.0), 0.0))
    act = activity.group_by(
        activity.creator_id.cast("string").name("creator_id"), activity.month.cast("string").name("month")
    ).agg(activity=activity.activity.sum())
    alg = _allegations_expr(notices, content, cr, months, tz)
    g = g.left_join(act, [g.creator_id == act.creator_id, g.month == act.month]).select(g, act.activity)
    g = g.left_join(alg, [g.creator_id == alg.creator_id, g.month == alg.month]).select(g, alg.allegations)
    return g.select(
        "creator_id",
        "market",
        "tier",
        "month",
        activity=g.activity.fill_null(0).cast("int64"),
        allegations=g.allegations.fill_null(0).cast("int64"),
        exposure=g.exposure,
        first_action_month=g.first_action_month,
        registered_month=g.registered_month,
    )


def _allegations_expr(notices, content, cr, months, tz):
    """Notices against the panel's creators that led to no action, per creator and local month."""
    nt = notices.filter(notices.action_id.isnull())
    if "outcome" in notices.columns:
        nt = nt.filter(nt.outcome.isnull() | (nt.outcome.cast("string") != "actioned"))
    own = content.select(
        content.content_id.cast("string").name("_cid"), content.creator_id.cast("string").name("_owner")
    )
    own = own.distinct(on="_cid", keep="first")
    nt = nt.left_join(own, nt.content_id.cast("string") == own._cid).select(
        who=nt.creator_id.cast("string").coalesce(own._owner), received_at=nt.received_at
    )
    nt = nt.filter(nt.who.isin(cr.creator_id)).mutate(month=_panel_month_expr(nt.received_at, months, tz))
    return nt.group_by(creator_id=nt.who, month=nt.month).agg(allegations=nt.count())


def _activity_months(activity, creators, market: str) -> list[str]:
    """Every month from the first to the last with content of ``market``'s creators (one small query)."""
    ids = creators.filter(creators.market == market).creator_id.cast("string")
    act = activity.filter(activity.creator_id.cast("string").isin(ids))
    span = act.aggregate(lo=act.month.cast("string").min(), hi=act.month.cast("string").max()).execute()
    lo, hi = span["lo"].iloc[0], span["hi"].iloc[0]
    return [] if pd.isna(lo) else month_range(str(lo), str(hi))
