"""Sections of the enforcement-effectiveness report (``notebooks/enforcement_effectiveness.ipynb``).

Does enforcement find violations early, decide them correctly and deter repeat violations?
One function per section, in report order; each takes a :class:`~govlib.report.sections.ReportContext`
(``open_market_context``) and returns the :class:`~govlib.report.sections.Section` it shows.
"""

from __future__ import annotations

import pandas as pd

from govlib.metrics import appeals as m_appeals
from govlib.metrics import effectiveness as m_eff
from govlib.metrics import notices as m_notices
from govlib.metrics.effectiveness import EffectivenessInputError
from govlib.privacy import suppress_small_cells
from govlib.report import present, theme
from govlib.report.cube import ACTIVITY_TABLE
from govlib.report.sections.base import (
    APPEAL_COLUMNS,
    APPEAL_TIMES,
    NOTICE_COLUMNS,
    NOTICE_TIMES,
    ReportContext,
    Section,
)
from govlib.timeutil import month_bounds, shift_month

HEADLINE_KPIS = [
    "proactive_rate",
    "automated_decision_rate",
    "notice_median_hours_to_action",
    "overturn_rate",
]
TREND_KPIS = ["proactive_rate", "automated_decision_rate"]  # drawn month by month with intervals
DID_WINDOW = 2  # months before and after a first action compared by the deterrence estimate
DID_N_BOOT, DID_SEED = 199, 7  # Poisson bootstrap replicates and seed of the deterrence interval


def history(ctx: ReportContext) -> list[str]:
    """The 13 months ending with the report month, oldest first."""
    return [shift_month(ctx.month, -k) for k in range(12, -1, -1)]


def intro(ctx: ReportContext) -> Section:
    """Title and what the report covers."""
    _, fmt = ctx._, ctx.fmt
    sec = Section().markdown(
        "# "
        + _("Enforcement effectiveness: {market}, {month}").format(
            market=fmt.market_name(ctx.market), month=fmt.month(ctx.month)
        )
    )
    return sec.markdown(
        _(
            "Does enforcement in {market} find violations early, decide them correctly and deter repeat violations? "
            "This report follows proactive detection and time to action over the last year, appeal outcomes by "
            "decision mode, how quickly creators re-offend after their first action, and the estimated deterrent "
            "effect of a first action. Counts below {min_cell} are suppressed."
        ).format(market=fmt.market_name(ctx.market), min_cell=fmt.count(ctx.min_cell))
    )


def proactive_detection(ctx: ReportContext) -> Section:
    """The month's headline detection and decision KPIs (``data["kpis"]``: their rows, in display order)."""
    _, fmt, ids = ctx._, ctx.fmt, HEADLINE_KPIS
    k = ctx.cube.kpis
    now = k[(k["month"] == ctx.month) & (k["kpi_id"].isin(ids))].set_index("kpi_id").reindex(ids)
    sec = Section(data={"kpis": now.reset_index()}).markdown(
        "## " + _("Proactive detection and time to action")
    )
    return sec.table(
        pd.DataFrame(
            {
                _("Indicator"): [present.kpi_label(_, i) for i in ids],
                fmt.month(ctx.month): [
                    present.format_kpi(fmt, now.loc[i])
                    if i in now.index and not present.is_nan(now.loc[i, "unit"])
                    else fmt.na
                    for i in ids
                ],
            }
        )
    )


def detection_trend(ctx: ReportContext) -> Section:
    """Proactive and automated shares over the last 13 months (``data["trend"]``)."""
    _, fmt, months = ctx._, ctx.fmt, history(ctx)
    k = ctx.cube.kpis
    trend = k[k["kpi_id"].isin(TREND_KPIS) & k["month"].isin(months)].dropna(subset=["value"])
    sec = Section(data={"trend": trend}).markdown(
        _(
            "Share of actions found proactively (automated detection or proactive review, before any user report) and "
            "share decided without a human, month by month, with 95% intervals."
        )
    )
    if trend.empty:
        return sec.markdown(_("No enforcement action in the last twelve months."))
    fig, ax = theme.new_figure(height_cm=7)
    for kid, g in trend.groupby("kpi_id", sort=True):
        x = [months.index(m) for m in g["month"]]
        ax.plot(x, g["value"] * 100, marker="o", label=present.kpi_label(_, kid))
        ax.fill_between(x, g["ci_low"] * 100, g["ci_high"] * 100, alpha=0.2, linewidth=0)
    ax.set_xticks(
        range(len(months)), [fmt.month(m, abbreviated=True) for m in months], rotation=45, ha="right"
    )
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left")
    theme.label_axes(
        ax, _("Proactive detection and automated decisions"), _("Month"), _("Share of actions"), y_unit="%"
    )
    return sec.figure(fig)


def notice_handling(ctx: ReportContext) -> Section:
    """Notice handling times by reporter type, small cells suppressed (``data["notices"]``)."""
    _, fmt = ctx._, ctx.fmt
    if not ctx.cube.has("notices"):
        return Section().markdown(present.not_available(_, "notices"))
    nt = m_notices.summarize_notice_handling(
        ctx.month_rows("notices", NOTICE_TIMES, NOTICE_COLUMNS),
        ctx.market,
        ctx.month,
        ctx.tz,
        by="reporter_type",
    )
    nt = nt[nt["group"] != "(all)"]
    nt = suppress_small_cells(
        nt, ["actioned"], min_cell=ctx.min_cell, derived=["median_hours_to_action", "median_hours_to_handle"]
    )
    sec = Section(data={"notices": nt.copy()})
    nt["group"] = present.label_column(_, nt["group"])
    nt = present.format_columns(
        fmt,
        nt[["group", "actioned", "median_hours_to_action", "median_hours_to_handle"]],
        {"actioned": "count", "median_hours_to_action": "hours", "median_hours_to_handle": "hours"},
        rename={
            "group": _("Reporter"),
            "actioned": _("Notices actioned"),
            "median_hours_to_action": _("Median time to action"),
            "median_hours_to_handle": _("Median time to handle"),
        },
    )
    sec.markdown(
        _(
            "Time from a notice to its decision, by who sent it. Trusted flaggers' notices must be "
            "handled with priority (DSA Article 22)."
        )
    )
    return sec.table(nt, _("Notice handling times by reporter type"))


def appeal_outcomes(ctx: ReportContext) -> Section:
    """Overturn rates by decision mode and the automated-vs-human test (``data["overturns"]``, ``data["test"]``)."""
    _, fmt = ctx._, ctx.fmt
    sec = Section().markdown("## " + _("Appeal outcomes by decision mode"))
    if not ctx.cube.has("appeals"):
        return sec.markdown(present.not_available(_, "appeals"))
    actions = ctx.cube.table("enforcement_actions", ["action_id", "decision_mode"])
    appeals = ctx.month_rows("appeals", APPEAL_TIMES, APPEAL_COLUMNS)
    ov = m_appeals.summarize_overturns(appeals, actions, ctx.market, ctx.month, ctx.tz, by="decision_mode")
    ov = ov[ov["group"] != "(all)"]
    sec.data["overturns"] = ov
    sec.markdown(
        _(
            "An appeal that overturns a decision means the decision was wrong. If automated decisions are overturned "
            "more often than human ones, the automation's thresholds need recalibrating."
        )
    )
    shown = ov.dropna(subset=["overturn_rate"])
    if shown.empty:
        sec.markdown(_("No appeal was decided this month."))
    else:
        fig, ax = theme.new_figure(height_cm=6)
        y = present.label_column(_, shown["group"])
        ax.barh(
            y,
            shown["overturn_rate"] * 100,
            xerr=[
                (shown["overturn_rate"] - shown["ci_low"]).clip(lower=0) * 100,
                (shown["ci_high"] - shown["overturn_rate"]).clip(lower=0) * 100,
            ],
        )
        theme.label_axes(
            ax, _("Appeals overturned by decision mode"), _("Overturn rate"), _("Decision mode"), x_unit="%"
        )
        sec.figure(fig)
    rc = m_appeals.compare_overturn_rates(appeals, actions, ctx.market, ctx.month, ctx.tz).iloc[0]
    sec.data["test"] = rc
    if not present.is_nan(rc["pvalue"]):
        sec.markdown(
            _(
                "Automated decisions: {auto} overturned; human decisions: {human} (difference {diff}, p = {p})."
            ).format(
                auto=fmt.percent(rc["overturn_rate_mode"]),
                human=fmt.percent(rc["overturn_rate_reference"]),
                diff=present.format_change(
                    fmt, rc["overturn_rate_mode"], rc["overturn_rate_reference"], "share"
                ),
                p=fmt.number(rc["pvalue"], 3),
            )
        )
    return sec


def recidivism_table(ctx: ReportContext) -> pd.DataFrame:
    """Time from each creator's first action to the next violation, as the engine's aggregated risk sets.

    One row per (first action type, duration, event) with the number of ``creators`` sharing
    it (:func:`govlib.metrics.effectiveness.recidivism_risk_sets`); memoised on the context.
    """
    _start, month_end = month_bounds(ctx.month, ctx.tz)
    return ctx.memo(
        "recidivism_table",
        lambda: m_eff.risk_sets_frame(
            m_eff.recidivism_risk_sets(
                m_eff.recidivism_table_expr(
                    ctx.expr("enforcement_actions"), data_end=month_end, market=ctx.market
                )
            )
        ),
    )


def recidivism(ctx: ReportContext) -> Section:
    """Kaplan-Meier curves, re-offending by first action and the suspension-vs-warning hazard ratio.

    ``data``: ``table`` (the aggregated risk sets: one row per first action type, duration and
    event, with ``creators``), ``summary`` (suppressed, unformatted) and
    ``hazard_ratio`` (a row, absent when too few creators re-offended).
    """
    _, fmt = ctx._, ctx.fmt
    rt = recidivism_table(ctx)
    sec = Section(data={"table": rt}).markdown("## " + _("Recidivism after a first action"))
    sec.markdown(
        _(
            "For each creator, the time from their first enforcement action to their next violation, by the type of "
            "that first action (Kaplan-Meier curves: creators not seen re-offending by the end of the data are "
            "censored, not counted as reformed). A lower curve means faster re-offending."
        )
    )
    if rt.empty:
        return sec.markdown(_("No creator had a first action in the data window."))
    curves = m_eff.estimate_recidivism_curves(rt, by="first_action_type", weights=m_eff.RISK_SET_WEIGHT)
    fig, ax = theme.new_figure(height_cm=8)
    for grp, g in curves.groupby("group", sort=True):
        ax.step(g["time_days"], g["survival"] * 100, where="post", label=present.label(_, grp))
    ax.legend(loc="lower left", ncols=2)
    theme.label_axes(
        ax,
        _("Creators not yet re-offending"),
        _("Days since first action"),
        _("Share of creators"),
        x_unit=_("days"),
        y_unit="%",
    )
    sec.figure(fig)
    sec.table(*_recidivism_summary(ctx, rt, sec))
    try:
        hr = m_eff.estimate_hazard_ratio(
            rt, "account_suspended", "warning", weights=m_eff.RISK_SET_WEIGHT
        ).iloc[0]
    except EffectivenessInputError:
        return sec.markdown(_("Too few suspended or warned creators re-offended to compare them."))
    sec.data["hazard_ratio"] = hr
    return sec.markdown(
        _(
            "Creators whose first action was a suspension re-offend at {hr} times the rate of those who got a "
            "warning (Cox proportional hazards; 95% CI {low} to {high}, p = {p}). Below 1 means suspensions deter "
            "more, though harsher first actions also go to different violations, so this is an association."
        ).format(
            hr=fmt.number(hr["hazard_ratio"], 2),
            low=fmt.number(hr["ci_low"], 2),
            high=fmt.number(hr["ci_high"], 2),
            p=fmt.number(hr["p_value"], 3),
        )
    )


def _recidivism_summary(ctx: ReportContext, rt: pd.DataFrame, sec: Section) -> tuple[pd.DataFrame, str]:
    _, fmt = ctx._, ctx.fmt
    summ = m_eff.summarise_recidivism(rt, by="first_action_type", weights=m_eff.RISK_SET_WEIGHT)
    summ = suppress_small_cells(
        summ,
        ["creators", "events"],
        min_cell=ctx.min_cell,
        derived=[
            "median_days",
            "median_ci_low",
            "median_ci_high",
            "recidivism_30d",
            "recidivism_90d",
            "recidivism_180d",
        ],
    )
    sec.data["summary"] = summ.copy()
    summ["group"] = present.label_column(_, summ["group"])
    summ = present.format_columns(
        fmt,
        summ[["group", "creators", "events", "recidivism_30d", "recidivism_90d", "recidivism_180d"]],
        {
            "creators": "count",
            "events": "count",
            "recidivism_30d": "percent",
            "recidivism_90d": "percent",
            "recidivism_180d": "percent",
        },
        rename={
            "group": _("First action"),
            "creators": _("Creators"),
            "events": _("Re-offended"),
            "recidivism_30d": _("Within 30 days"),
            "recidivism_90d": _("Within 90 days"),
            "recidivism_180d": _("Within 180 days"),
        },
    )
    return summ, _("Re-offending by first action")


def deterrence(ctx: ReportContext) -> Section:
    """Difference-in-differences estimate of a first action's effect on allegations (``data["did"]``)."""
    _, fmt = ctx._, ctx.fmt
    sec = Section().markdown("## " + _("Deterrence estimate"))
    sec.markdown(
        _(
            "Difference-in-differences: the change in allegations per creator-month (notices against the creator that led "
            "to no action) from the two months before a creator's first action to the two months after, minus the change "
            "over the same months of matched creators (same market, tier and prior activity) not yet actioned. Allegations "
            "are observed in the same way whether or not a creator was ever actioned, which the comparison needs. It "
            "assumes both groups would have followed parallel trends without the action."
        )
    )
    if not ctx.cube.has("notices"):
        return sec.markdown(present.not_available(_, "notices"))
    did = sec.data["did"] = _estimate_did(ctx)
    if did is None or present.is_nan(did["estimate"]) or did["n_treated"] < ctx.min_cell:
        return sec.markdown(_("Not enough actioned creators with matched controls to estimate the effect."))
    sec.markdown(
        _(
            "After their first action, creators received {est} allegations per creator-month more than expected "
            "from their matched controls (95% bootstrap CI {low} to {high}; {n} creators). Their allegation rate "
            "was {rr} times the expected rate (95% CI {rr_low} to {rr_high}): below 1 means the action deterred."
        ).format(
            est=fmt.number(did["estimate"], 3),
            low=fmt.number(did["ci_low"], 3),
            high=fmt.number(did["ci_high"], 3),
            n=fmt.count(did["n_treated"]),
            rr=fmt.number(did["rate_ratio"], 2),
            rr_low=fmt.number(did["rate_ratio_ci_low"], 2),
            rr_high=fmt.number(did["rate_ratio_ci_high"], 2),
        )
    )
    return sec.markdown(
        _(
            "Before the action the treated creators had {pre} allegations per creator-month, after it {post}; over "
            "the same months the matched controls changed by {change}. A first action can also change how closely "
            "a creator is watched or reported, which this estimate cannot separate from deterrence."
        ).format(
            pre=fmt.number(did["treated_pre"], 3),
            post=fmt.number(did["treated_post"], 3),
            change=fmt.number(did["control_change"], 3),
        )
    )


def _estimate_did(ctx: ReportContext) -> pd.Series | None:
    """The deterrence estimate, computed by the engine: the creator x month panel, its cohorts and the
    Poisson bootstrap (:func:`govlib.metrics.effectiveness.estimate_deterrence_did_expr`); pandas gets
    cell sums."""
    try:
        panel = m_eff.violation_panel_expr(
            ctx.expr("enforcement_actions"),
            ctx.expr("creators"),
            ctx.expr("notices"),
            ctx.expr("content"),
            ctx.expr(ACTIVITY_TABLE),
            market=ctx.market,
            tz=ctx.tz,
        )
        return m_eff.estimate_deterrence_did_expr(
            panel, window=DID_WINDOW, outcome="allegations", n_boot=DID_N_BOOT, seed=DID_SEED
        ).iloc[0]
    except EffectivenessInputError:
        return None
