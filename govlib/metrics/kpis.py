"""Headline KPIs of ``shared/spec/kpis.md``: stable IDs, exact meanings.

:data:`KPI_DEFINITIONS` is the one place the KPI list lives: the reports, the
``kpis.csv`` export, the DSA outputs and ``docs/metrics.md`` read it.
:func:`compute_kpis` returns one market-month's KPI table in the export format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlib.contract import OVERTURN_OUTCOMES, PROACTIVE_SOURCES
from govlib.metrics.frames import (
    as_utc,
    get_table,
    hours_between,
    require_columns,
    select_market,
    select_market_month,
)
from govlib.stats import estimate_prevalence, proportion_interval
from govlib.timeutil import parse_month, shift_month

__all__ = [
    "KPI_DEFINITIONS",
    "KPI_COLUMNS",
    "KpiDefinition",
    "compute_kpis",
    "compute_recidivism_90d",
    "mark_months_without_data",
    "NO_DATA",
    "STATUS_OK",
]

KPI_COLUMNS = ["market", "month", "kpi_id", "value", "numerator", "denominator", "ci_low", "ci_high", "unit"]
# ``status`` of a KPI row (the last column of kpis.csv): a month without data is not a month of zeros
STATUS_OK, NO_DATA = "ok", "no_data"
_VALUE_COLUMNS = ["value", "numerator", "denominator", "ci_low", "ci_high"]


@dataclass(frozen=True)
class KpiDefinition:
    """One headline KPI: ``unit`` (count, share, ratio, hours), ``definition``,
    ``denominator`` (what the numerator/denominator columns hold), ``interval``,
    ``tables`` it reads and ``source`` of the definition."""

    kpi_id: str
    unit: str
    definition: str
    denominator: str
    interval: str
    tables: tuple[str, ...]
    source: str


_CSER = "Meta Community Standards Enforcement Report"
_DSA = "DSA transparency-report templates, Implementing Regulation (EU) 2024/2835, Annex I"

KPI_DEFINITIONS: dict[str, KpiDefinition] = {
    d.kpi_id: d
    for d in (
        KpiDefinition(
            "actions_total",
            "count",
            "number of enforcement_actions of the market actioned (actioned_at) in the month",
            "numerator = value; no denominator",
            "none",
            ("enforcement_actions",),
            f"{_DSA} (Parts 5-6, own-initiative measures); TikTok CGER",
        ),
        KpiDefinition(
            "proactive_rate",
            "share",
            "share of those actions whose detection_source is automated or proactive_review",
            "actions_total",
            "Wilson 95%",
            ("enforcement_actions",),
            f"{_CSER} (proactive rate); TikTok CGER (proactive removal rate)",
        ),
        KpiDefinition(
            "automated_decision_rate",
            "share",
            "share of those actions whose decision_mode is automated",
            "actions_total",
            "Wilson 95%",
            ("enforcement_actions",),
            f"{_DSA} (Part 8, automated means); DSA Art. 15(1)(c), 24(1)",
        ),
        KpiDefinition(
            "removed_before_views_rate",
            "share",
            "among actions in the month with action_type content_removed and non-null views_before_action: "
            "share with views_before_action == 0",
            "content_removed actions of the month with views_before_action known",
            "Wilson 95%",
            ("enforcement_actions",),
            "TikTok CGER (removed before any views); YouTube Community Guidelines enforcement report",
        ),
        KpiDefinition(
            "removed_within_24h_rate",
            "share",
            "among actions in the month with action_type content_removed and a content_id found in content: "
            "share with actioned_at - content.published_at <= 24 h",
            "content_removed actions of the month whose content_id is in content",
            "Wilson 95%",
            ("enforcement_actions", "content"),
            "TikTok CGER (removed within 24 hours)",
        ),
        KpiDefinition(
            "notice_median_hours_to_action",
            "hours",
            "among notices with outcome actioned and handled_at in the month: median of handled_at - received_at "
            "in hours",
            "denominator = number of notices the median is taken over; no numerator",
            "none",
            ("notices",),
            f"{_DSA} (Part 4, median time to take action on notices); DSA Art. 15(1)(b), 16, 22",
        ),
        KpiDefinition(
            "appeals_submitted",
            "count",
            "number of appeals with submitted_at in the month",
            "numerator = value; no denominator",
            "none",
            ("appeals",),
            f"{_DSA} (Part 7, complaints received); DSA Art. 20",
        ),
        KpiDefinition(
            "appeal_rate",
            "ratio",
            "appeals_submitted / actions_total (a flow ratio: appeals of the month need not concern actions "
            "of the month)",
            "actions_total",
            "none",
            ("appeals", "enforcement_actions"),
            f"{_DSA} (Part 7); {_CSER} (appealed content)",
        ),
        KpiDefinition(
            "overturn_rate",
            "share",
            "among appeals with resolved_at in the month and outcome not pending: share with outcome overturned "
            "or partially_overturned",
            "appeals resolved in the month",
            "Wilson 95%",
            ("appeals",),
            f"{_DSA} (Part 7, decisions reversed); {_CSER} (restored content)",
        ),
        KpiDefinition(
            "appeal_median_hours_to_resolve",
            "hours",
            "among appeals with resolved_at in the month: median of resolved_at - submitted_at in hours",
            "denominator = number of appeals the median is taken over; no numerator",
            "none",
            ("appeals",),
            f"{_DSA} (Part 7, median time to decide complaints)",
        ),
        KpiDefinition(
            "violating_view_prevalence",
            "share",
            "from prevalence_samples with sampled_at in the month: sum(weight * is_violating) / sum(weight)",
            "numerator = sum(weight * is_violating), denominator = sum(weight) (views represented)",
            "Korn-Graubard 95% (Clopper-Pearson on the design effective sample size; stratified linearised "
            "variance, govlib.stats.survey.estimate_prevalence)",
            ("prevalence_samples",),
            f"{_CSER} (prevalence); YouTube Violative View Rate",
        ),
        KpiDefinition(
            "recidivism_90d",
            "share",
            "cohort: creators with at least one action actioned in month M-3; t0 = actioned_at of their earliest "
            "action in M-3; share of the cohort with another action of the market actioned in (t0, t0 + 90 x 24 h]",
            "creators in the M-3 cohort",
            "Wilson 95%",
            ("enforcement_actions",),
            "recidivism as in criminology (Maltz 1984); TikTok Shop account health (repeat violations)",
        ),
    )
}

_ACTION_COLS = [
    "market",
    "creator_id",
    "content_id",
    "detection_source",
    "decision_mode",
    "action_type",
    "views_before_action",
    "actioned_at",
]


def _row(kpi_id, value, numerator=math.nan, denominator=math.nan, ci=(math.nan, math.nan)) -> dict:
    return {
        "kpi_id": kpi_id,
        "value": float(value),
        "numerator": float(numerator),
        "denominator": float(denominator),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
    }


def _share(kpi_id, num, den) -> dict:
    """A share with its Wilson interval; empty denominator -> NaN."""
    value = num / den if den else math.nan
    return _row(kpi_id, value, num, den, proportion_interval(num, den))


def _median(kpi_id, hours: pd.Series) -> dict:
    hours = hours.dropna()
    value = float(np.median(hours.to_numpy(dtype=float))) if len(hours) else math.nan
    return _row(kpi_id, value, denominator=len(hours))


def _missing(kpi_id) -> dict:
    return _row(kpi_id, math.nan)


def compute_recidivism_90d(actions: pd.DataFrame, market: str, month: str, tz: str) -> tuple[int, int]:
    """Numerator and denominator of ``recidivism_90d`` for ``month``.

    Definition: the cohort is the creators of ``market`` with at least one action
    actioned in month ``M-3`` (local time of ``tz``); ``t0`` is the ``actioned_at`` of
    a creator's earliest action in ``M-3``. The numerator counts cohort creators with
    another action of the market actioned in ``(t0, t0 + 90 x 24 h]``.

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions`` covering at least ``M-3`` to ``M+1`` (more rows are fine).
    market, month, tz : str
        Market code, month ``YYYY-MM`` (the reporting month *M*) and its time zone.

    Returns
    -------
    (repeaters, cohort) : tuple of int

    Notes
    -----
    Measured three months back so that every cohort member has had (almost) the full
    90 days to reoffend by the end of *M*. An action at exactly ``t0`` (a second
    action in the same decision) is not a repeat.

    References
    ----------
    .. [1] Maltz, M. D. (1984). Recidivism. Academic Press.
    .. [2] TikTok Shop, Creator Health Rating (repeat violations within 90 days).
    """
    require_columns(actions, "enforcement_actions", ["market", "creator_id", "actioned_at"])
    mine = select_market(actions, "enforcement_actions", market)
    ts = as_utc(mine["actioned_at"])
    base = select_market_month(
        mine.assign(actioned_at=ts), "enforcement_actions", None, shift_month(month, -3), tz, "actioned_at"
    )
    if base.empty:
        return 0, 0
    t0 = base.groupby("creator_id", observed=True)["actioned_at"].min().rename("t0")
    later = pd.DataFrame(
        {"creator_id": mine["creator_id"].reset_index(drop=True), "at": ts.reset_index(drop=True)}
    )
    later = later.merge(t0, left_on="creator_id", right_index=True, how="inner")
    hit = (later["at"] > later["t0"]) & (later["at"] <= later["t0"] + pd.Timedelta(hours=90 * 24))
    repeaters = later.loc[hit, "creator_id"].nunique()
    return int(repeaters), len(t0)


def compute_kpis(tables: Mapping[str, pd.DataFrame | None], market: str, month: str, tz: str) -> pd.DataFrame:
    """The headline KPI table of one market and month (``shared/spec/kpis.md``).

    Definition: one row per KPI of :data:`KPI_DEFINITIONS`, in the order of
    ``kpis.md``, each with the exact meaning stated there. Events are bucketed into
    months in the market's time zone ``tz``; only rows with ``market == market``
    count.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Contract table name -> DataFrame (timestamps tz-aware UTC or naive UTC). May
        hold other markets and months. ``enforcement_actions`` is required
        (``content`` for ``removed_within_24h_rate``); optional tables
        (``notices``, ``appeals``, ``prevalence_samples``) that are absent or None
        make their KPIs NaN, without error.
    market : str
        Market code, e.g. ``"DE"``.
    month : str
        ``YYYY-MM``.
    tz : str
        IANA time zone of the market, e.g. ``"Europe/Berlin"``.

    Returns
    -------
    DataFrame
        Columns ``market, month, kpi_id, value, numerator, denominator, ci_low,
        ci_high, unit``. Counts have ``numerator = value``; shares carry numerator,
        denominator and a 95% Wilson interval; medians have ``denominator`` = number
        of durations; an empty denominator gives NaN, never 0.

    Raises
    ------
    MetricInputError
        A required table or column is missing, or required timestamps are missing.

    Notes
    -----
    ``recidivism_90d`` needs actions from ``M-3`` onwards and the ratio KPIs need
    ``content`` rows of the actioned content (whatever their publication month):
    pass a window such as ``govlib.data.load.load_market_window``'s.

    References
    ----------
    .. [1] ``shared/spec/kpis.md`` (the KPI IDs and their meanings).
    .. [2] Implementing Regulation (EU) 2024/2835, Annex I (DSA transparency templates).
    .. [3] Meta, Community Standards Enforcement Report; YouTube, Violative View Rate;
       TikTok, Community Guidelines Enforcement Report.
    """
    parse_month(month)
    ea_all = get_table(tables, "enforcement_actions", required=True)
    require_columns(ea_all, "enforcement_actions", _ACTION_COLS)
    ea = select_market_month(ea_all, "enforcement_actions", market, month, tz, "actioned_at")
    n_actions = len(ea)
    rows = _action_kpis(ea)
    removed = ea.loc[(ea["action_type"] == "content_removed").to_numpy(dtype=bool, na_value=False)]
    rows.append(_removed_before_views(removed))
    rows.append(_removed_within_24h(tables, removed))
    rows.append(_notice_kpi(tables, market, month, tz))
    rows += _appeal_kpis(tables, market, month, tz, n_actions)
    rows.append(_prevalence_kpi(tables, market, month, tz))
    rep, cohort = compute_recidivism_90d(ea_all, market, month, tz)
    rows.append(_share("recidivism_90d", rep, cohort))

    out = pd.DataFrame(rows)
    out.insert(0, "month", month)
    out.insert(0, "market", market)
    out["unit"] = [KPI_DEFINITIONS[k].unit for k in out["kpi_id"]]
    order = list(KPI_DEFINITIONS)
    assert out["kpi_id"].tolist() == order, "KPI rows out of step with KPI_DEFINITIONS"
    return out[KPI_COLUMNS].reset_index(drop=True)


def _action_kpis(ea: pd.DataFrame) -> list[dict]:
    """``actions_total``, ``proactive_rate`` and ``automated_decision_rate`` of the month's actions."""
    n_actions = len(ea)
    return [
        _row("actions_total", n_actions, numerator=n_actions),
        _share("proactive_rate", int(ea["detection_source"].isin(PROACTIVE_SOURCES).sum()), n_actions),
        _share("automated_decision_rate", int((ea["decision_mode"] == "automated").sum()), n_actions),
    ]


def _removed_before_views(removed: pd.DataFrame) -> dict:
    """``removed_before_views_rate``: removals with 0 views before the action, of those with known views."""
    views = pd.to_numeric(removed["views_before_action"], errors="coerce")
    known = views.notna()
    return _share("removed_before_views_rate", int((views[known] == 0).sum()), int(known.sum()))


def _removed_within_24h(tables, removed: pd.DataFrame) -> dict:
    """``removed_within_24h_rate``: removals within 24 hours of publication, of removals of known content."""
    content = get_table(tables, "content", required=True)
    require_columns(content, "content", ["content_id", "published_at"])
    published = pd.DataFrame(
        {
            "content_id": content["content_id"].astype(str).reset_index(drop=True),
            "published_at": as_utc(content["published_at"]).reset_index(drop=True),
        }
    )
    published = published.drop_duplicates("content_id")
    with_id = removed.loc[removed["content_id"].notna().to_numpy()]
    r = pd.DataFrame(
        {
            "content_id": with_id["content_id"].astype(str).reset_index(drop=True),
            "actioned_at": as_utc(with_id["actioned_at"]).reset_index(drop=True),
        }
    )
    r = r.merge(published, on="content_id", how="inner")
    within = (r["actioned_at"] - r["published_at"]) <= pd.Timedelta(hours=24)
    return _share("removed_within_24h_rate", int(within.sum()), len(r))


def _notice_kpi(tables, market: str, month: str, tz: str) -> dict:
    """``notice_median_hours_to_action`` of the notices actioned in the month (missing without notices)."""
    notices = get_table(tables, "notices", required=False)
    if notices is None:
        return _missing("notice_median_hours_to_action")
    require_columns(notices, "notices", ["market", "outcome", "received_at", "handled_at"])
    nt = select_market_month(notices, "notices", market, month, tz, "handled_at", nullable=True)
    nt = nt.loc[(nt["outcome"] == "actioned").to_numpy(dtype=bool, na_value=False)]
    return _median("notice_median_hours_to_action", hours_between(nt["handled_at"], nt["received_at"]))


def _appeal_kpis(tables, market: str, month: str, tz: str, n_actions: int) -> list[dict]:
    """The four appeal KPIs of the month (missing without appeals)."""
    appeals = get_table(tables, "appeals", required=False)
    if appeals is None:
        return [
            _missing(k)
            for k in ("appeals_submitted", "appeal_rate", "overturn_rate", "appeal_median_hours_to_resolve")
        ]
    require_columns(appeals, "appeals", ["market", "outcome", "submitted_at", "resolved_at"])
    sub = select_market_month(appeals, "appeals", market, month, tz, "submitted_at")
    n_app = len(sub)
    res = select_market_month(appeals, "appeals", market, month, tz, "resolved_at", nullable=True)
    decided = res.loc[(res["outcome"] != "pending").to_numpy(dtype=bool, na_value=False)]
    return [
        _row("appeals_submitted", n_app, numerator=n_app),
        _row("appeal_rate", n_app / n_actions if n_actions else math.nan, n_app, n_actions),
        _share("overturn_rate", int(decided["outcome"].isin(OVERTURN_OUTCOMES).sum()), len(decided)),
        _median("appeal_median_hours_to_resolve", hours_between(res["resolved_at"], res["submitted_at"])),
    ]


def _prevalence_kpi(tables, market: str, month: str, tz: str) -> dict:
    """``violating_view_prevalence`` of the month's samples (missing without samples)."""
    samples = get_table(tables, "prevalence_samples", required=False)
    if samples is None:
        return _missing("violating_view_prevalence")
    require_columns(samples, "prevalence_samples", ["market", "sampled_at", "weight", "is_violating"])
    ps = select_market_month(samples, "prevalence_samples", market, month, tz, "sampled_at")
    y = ps["is_violating"].astype(bool).to_numpy()
    w = pd.to_numeric(ps["weight"]).to_numpy(dtype=float)
    strata = ps["stratum"].to_numpy(dtype=object) if "stratum" in ps.columns else None
    est = estimate_prevalence(y, w, strata)
    return _row(
        "violating_view_prevalence",
        est.value,
        float((w * y).sum()),
        est.weight_total,
        (est.ci_low, est.ci_high),
    )


def mark_months_without_data(kpis: pd.DataFrame, published: Mapping[str, int]) -> pd.DataFrame:
    """Add ``status`` to a KPI table: ``"no_data"`` for months without data, ``"ok"`` otherwise.

    Definition: a market-month has no data when it has no enforcement action actioned in
    the month (``actions_total`` is 0) and no content published in it (``published``).
    Most headline KPIs are computed from the month's actions and their content, and a
    live market with neither is a gap in the export, not a month of zeros, even if it
    holds notices, appeals or rewards. All its KPI values (value, numerator, denominator,
    interval) become NaN, the notice and appeal KPIs too (part of a month's export is
    not shown as the month), so that no change against it (or from it) is computed.

    Parameters
    ----------
    kpis : DataFrame
        Rows of :func:`compute_kpis` for one market, one or more months.
    published : mapping of str to int
        Content published in each month ``YYYY-MM`` (local time); a missing month counts 0.

    Returns
    -------
    DataFrame
        A copy with ``status`` after the :data:`KPI_COLUMNS`.
    """
    out = kpis.copy()
    actions = out.loc[out["kpi_id"] == "actions_total"].set_index("month")["value"]
    empty = [m for m, n in actions.items() if n == 0 and int(published.get(m, 0)) == 0]
    hit = out["month"].isin(empty).to_numpy()
    out.loc[hit, _VALUE_COLUMNS] = math.nan
    out["status"] = np.where(hit, NO_DATA, STATUS_OK)
    return out
