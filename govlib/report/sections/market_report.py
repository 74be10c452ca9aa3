"""Sections of the monthly market report (``notebooks/market_report.ipynb``).

One function per section, in the report's order: ``intro``, ``headline``, ``how_to_read``,
``enforcement_mix``, ``notable_changes``, ``emerging_risks``, ``risk_watchlist``, ``notices``,
``appeals``, ``prevalence``, ``account_health``, ``rewards_penalties``, ``content_performance``,
``peer_benchmarks``, then ``time_to_action`` and ``label_trust`` (defined in
:mod:`govlib.report.sections.quality`, shared with the signal evaluation). Sections an imported dataset cannot support (its ``dataset.json``, see
:func:`govlib.dsa.section_available`) or whose optional table is absent say so instead.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from govlib import config
from govlib.dsa import dataset_source, section_available
from govlib.metrics import appeals as m_appeals
from govlib.metrics import enforcement as m_enforcement
from govlib.metrics import health as m_health
from govlib.metrics import notices as m_notices
from govlib.metrics import performance as m_performance
from govlib.metrics import prevalence as m_prevalence
from govlib.metrics import rewards as m_rewards
from govlib.metrics.expr import materialise
from govlib.metrics.risk import (
    build_watchlist,
    creator_risk_inputs_expr,
    plot_risk_matrix,
    score_creator_risk_inputs,
)
from govlib.metrics.trends import plot_alarm, summarise_alarms
from govlib.privacy import load_pseudonym_key, pseudonymise, suppress_small_cells
from govlib.report import present, theme
from govlib.report.sections import quality
from govlib.report.sections.base import (
    APPEAL_COLUMNS,
    APPEAL_TIMES,
    NOTICE_COLUMNS,
    NOTICE_TIMES,
    ReportContext,
    Section,
)
from govlib.timeutil import month_bounds, shift_month


def source_meta(ctx: ReportContext) -> dict:
    """``dataset.json`` of an imported dataset, else ``{}`` (which sections its source supports)."""
    return ctx.memo("source_meta", lambda: dataset_source(ctx.data_dir or config.DATA_DIR))


def _unavailable(ctx: ReportContext, sections: tuple[str, ...], table: str | None = None) -> str | None:
    """The sentence shown instead of a section the source or the dataset cannot support, else None."""
    if not all(section_available(source_meta(ctx), name) for name in sections):
        return present.not_available_for_source(ctx._, ctx.cube.source)
    if table is not None and not ctx.cube.has(table):
        return present.not_available(ctx._, table)
    return None


def _rate_column(fmt, df: pd.DataFrame, value: str, low: str = "ci_low", high: str = "ci_high") -> list[str]:
    """A rate with its interval per row; suppressed cells (text) as they are."""
    return [
        v if isinstance(v, str) else fmt.rate_with_interval(v, lo, hi)
        for v, lo, hi in zip(df[value], df[low], df[high])
    ]


def intro(ctx: ReportContext) -> Section:
    """Title, what the report covers, and banners (no data, imported source, multi-market decisions)."""
    _, fmt, cube = ctx._, ctx.fmt, ctx.cube
    s = Section()
    s.markdown(
        "# "
        + _("Creator and content governance: {market}, {month}").format(
            market=fmt.market_name(ctx.market), month=fmt.month(ctx.month)
        )
    )
    s.markdown(
        _(
            "This monthly report shows how creators and their content were policed in {market}: what was actioned "
            "and how it was found, how notices and appeals were handled, how much violating content viewers saw, "
            "how creators' account health is developing, and how rewards and penalties line up. Months are calendar "
            "months in the market's time zone ({tz}). Shares carry 95% confidence intervals; tables show no creator "
            "identities, and counts below {min_cell} are suppressed."
        ).format(market=fmt.market_name(ctx.market), tz=ctx.tz, min_cell=fmt.count(ctx.min_cell))
    )
    if not cube.has_data():
        s.markdown(present.no_data_banner(_, fmt, fmt.market_name(ctx.market), ctx.month))
    if cube.source != "govlib":
        s.markdown(
            _("Data source: {source}. Sections that need tables this source does not provide say so.").format(
                source=cube.source
            )
        )
    if source_meta(ctx).get("multi_market_rows"):
        s.markdown(
            _(
                "A decision that covers several member states counts in each of them, so market figures add up "
                "to more than the number of decisions."
            )
        )
    return s


def headline(ctx: ReportContext) -> Section:
    """The headline KPIs beside last month and last year (``data["kpis"]``: the cube's KPI history)."""
    s = Section(data={"kpis": ctx.cube.kpis})
    s.markdown("## " + ctx._("Headline indicators"))
    return s.table(
        present.headline_table(ctx._, ctx.fmt, ctx.cube.kpis, ctx.month, ctx.previous, ctx.year_ago)
    )


def how_to_read(ctx: ReportContext) -> Section:
    """How to read the headline table."""
    return Section().markdown(
        ctx._(
            "How to read this table: each indicator for {month} with its 95% confidence interval, beside the previous "
            "month and the same month a year earlier. Changes of shares are in percentage points (pp), changes of counts "
            'and times are relative. "{na}" means the data needed is missing or the denominator is empty (never zero).'
        ).format(month=ctx.fmt.month(ctx.month), na=ctx.fmt.na)
    )


# What the mix, flagged changes and appeal sections read of the window's actions.
ACTION_COLUMNS = [
    "action_id",
    "market",
    "actioned_at",
    "action_type",
    "policy",
    "detection_source",
    "decision_mode",
]
# Table -> (period column, columns) of the half-year figures set beside the peers (dsa.peers.our_figures).
PEER_FIGURE_INPUTS = {
    "appeals": ("submitted_at", ["submitted_at", "resolved_at", "channel", "outcome"]),
    "notices": ("received_at", ["received_at", "handled_at", "outcome"]),
    "enforcement_actions": ("actioned_at", ["actioned_at", "decision_mode", "sor_uuid"]),
}


def _mix(ctx: ReportContext) -> pd.DataFrame:
    return ctx.memo(
        "enforcement_mix",
        lambda: m_enforcement.breakdown_actions(
            ctx.cube.table("enforcement_actions", ACTION_COLUMNS),
            ctx.market,
            ctx.month,
            ctx.tz,
            by=["action_type", "detection_source", "policy"],
            local_policies=ctx.params.local_policies,
        ),
    )


def _mix_figure(ctx: ReportContext, shares: pd.DataFrame):
    _ = ctx._
    fig, axes = theme.new_figure(nrows=1, ncols=2, height_cm=8)
    for ax, dim, title, ylabel in (
        (axes[0], "action_type", _("Actions by type"), _("Action type")),
        (axes[1], "detection_source", _("Actions by detection source"), _("Detection source")),
    ):
        d = shares[shares["dimension"] == dim].sort_values("value")
        ax.barh(present.label_column(_, d["group"]), d["value"] * 100)
        theme.label_axes(ax, title, _("Share of actions"), ylabel, x_unit="%")
    return fig


def _policy_table(ctx: ReportContext, mix: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    pol = mix[(mix["dimension"] == "policy") & (mix["metric"].isin(["actions", "proactive_rate"]))]
    pol = pol.pivot_table(
        index="group", columns="metric", values=["value", "ci_low", "ci_high"], aggfunc="first"
    )
    pol.columns = [f"{a}_{b}" for a, b in pol.columns]
    pol = pol.reset_index().sort_values(["value_actions", "group"], ascending=[False, True])
    pol = suppress_small_cells(
        pol,
        "value_actions",
        min_cell=ctx.min_cell,
        derived=["value_proactive_rate", "ci_low_proactive_rate", "ci_high_proactive_rate"],
    )
    pol[_("Proactive rate")] = _rate_column(
        fmt, pol, "value_proactive_rate", "ci_low_proactive_rate", "ci_high_proactive_rate"
    )
    pol["group"] = present.label_column(_, pol["group"])
    return present.format_columns(
        fmt,
        pol[["group", "value_actions", _("Proactive rate")]],
        {"value_actions": "count"},
        rename={"group": _("Policy"), "value_actions": _("Actions")},
    )


def enforcement_mix(ctx: ReportContext) -> Section:
    """Actions by type and detection source (chart) and by policy (table); ``data["mix"]`` is the breakdown."""
    _ = ctx._
    mix = _mix(ctx)
    shares = mix[mix["metric"] == "share_of_actions"]
    s = Section(data={"mix": mix})
    s.markdown("## " + _("Enforcement mix"))
    if shares.empty:
        return s.markdown(
            _("No enforcement action was taken in {month}.").format(month=ctx.fmt.month(ctx.month))
        )
    s.markdown(
        _(
            "Which enforcement actions were taken, how the violations were found and which policies they broke. "
            "A high share of proactive detection (automated or proactive review) means violations are found "
            "before users have to report them."
        )
    )
    s.figure(_mix_figure(ctx, shares))
    return s.table(_policy_table(ctx, mix), _("Actions and proactive detection by policy"))


def _flagged_changes(ctx: ReportContext) -> pd.DataFrame:
    """Flagged changes of the mix on last month and on last year (column ``against``: the translated label)."""
    _ = ctx._
    changes = []
    for against, label in (("previous_month", _("on last month")), ("previous_year", _("on last year"))):
        c = m_enforcement.compare_breakdowns(
            ctx.cube.table("enforcement_actions", ACTION_COLUMNS),
            ctx.market,
            ctx.month,
            ctx.tz,
            by=["policy", "action_type", "detection_source"],
            against=against,
            local_policies=ctx.params.local_policies,
        )
        c["against"] = label
        changes.append(c)
    # one table, one family of tests: the false discovery rate is controlled across both comparisons
    table = m_enforcement.control_false_discoveries(pd.concat(changes, ignore_index=True))
    return table[table["flagged"].fillna(False).astype(bool)].reset_index(drop=True)


def notable_changes(ctx: ReportContext) -> Section:
    """Significant and material changes of the enforcement mix (``data["changes"]``)."""
    _, fmt = ctx._, ctx.fmt
    changes = _flagged_changes(ctx)
    s = Section(data={"changes": changes})
    s.markdown("### " + _("Notable changes"))
    if changes.empty:
        return s.markdown(
            _("No change in the enforcement mix was both statistically significant and material.")
        )
    s.markdown(
        _(
            "Changes that are both statistically significant (two-proportion test for rates, exact Poisson test for "
            "counts) and material (at least 10% relative and a minimum absolute change). The table tests every "
            "policy, action type and detection source, so significance controls the false discovery rate at 5% "
            "across the whole table (Benjamini-Hochberg q-value below 0.05): at most about one flag in twenty is "
            "expected to be chance."
        )
    )
    kinds = {
        "actions": "count",
        "share_of_actions": "percent",
        "proactive_rate": "percent",
        "automated_decision_rate": "percent",
    }
    rows = []
    for r in changes.sort_values(["against", "dimension", "group", "metric"]).itertuples():
        kind = kinds.get(r.metric, "number")
        rows.append(
            {
                _("Compared"): r.against,
                _("Breakdown"): present.label(_, r.dimension),
                _("Group"): present.label(_, r.group),
                _("Indicator"): present.label(_, r.metric),
                _("Before"): fmt.value(r.value_before, kind),
                _("Now"): fmt.value(r.value, kind),
                _("p-value"): fmt.number(r.pvalue, 3),
                _("q-value"): fmt.number(r.qvalue, 3),
            }
        )
    return s.table(pd.DataFrame(rows), _("Significant and material changes"))


def _series_label(_, value) -> str:
    """Translated name of an alarmed series' policy or content type (``all``: every content type)."""
    return _("All content types") if value == "all" else present.label(_, value)


def _alerts_table(ctx: ReportContext, top: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    return pd.DataFrame(
        {
            _("Rank"): [fmt.count(i + 1) for i in range(len(top))],
            _("Policy"): present.label_column(_, top["policy"]),
            _("Content type"): [_series_label(_, t) for t in top["content_type"]],
            _("Week starting"): [fmt.date(pd.Timestamp(w, tz=ctx.tz)) for w in top["week_start"]],
            _("Actions"): [v if isinstance(v, str) else fmt.count(v) for v in top["observed"]],
            _("Expected"): [v if isinstance(v, str) else fmt.number(v, 1) for v in top["expected"]],
            _("Ratio"): [v if isinstance(v, str) else fmt.number(v, 1) for v in top["ratio"]],
            _("q-value"): [fmt.number(v, 3) for v in top["q_value"]],
            _("Rules"): top["method"],
        }
    )


def emerging_risks(ctx: ReportContext) -> Section:
    """The month's top ten alarms (as alerts.csv) and charts of the two strongest series (``data["alerts"]``)."""
    _, fmt = ctx._, ctx.fmt
    alerts = ctx.cube.alerts  # computed once per market with the cube; the same rows as alerts.csv
    s = Section(data={"alerts": alerts})
    s.markdown("## " + _("Emerging risks"))
    s.markdown(
        _(
            "Weekly enforcement series (actions per policy, overall and by content type) that rose above what their own "
            "history predicts: a quasi-Poisson baseline fitted on past weeks and CUSUM/EWMA control charts, with the "
            "false discovery rate controlled (Benjamini-Hochberg) over every series tested this month. An alarm is an "
            "early sign of an abuse wave to look into, not a finding. Strongest evidence first."
        )
    )
    if alerts.empty:
        return s.markdown(_("No series raised an alarm in {month}.").format(month=fmt.month(ctx.month)))
    top = alerts.head(10).reset_index(drop=True)
    top = suppress_small_cells(top, ["observed"], min_cell=ctx.min_cell, derived=["expected", "ratio"])
    s.table(_alerts_table(ctx, top), _("Emerging risks in {month}").format(month=fmt.month(ctx.month)))
    if len(alerts) > len(top):
        s.markdown(
            _("{n} alarms in all; the full list is in alerts.csv beside this report.").format(
                n=fmt.count(len(alerts))
            )
        )
    for _i, row in summarise_alarms(alerts).head(2).iterrows():  # the two strongest alarmed series
        first = alerts[
            (alerts["policy"] == row["policy"]) & (alerts["content_type"] == row["content_type"])
        ].iloc[0]
        fig, ax = theme.new_figure(height_cm=7)
        plot_alarm(
            ctx.cube.weekly_series, first, ctx.params.alerts, ax=ax, _=_, label=partial(_series_label, _)
        )
        s.figure(fig)
    return s


def risk_watchlist(ctx: ReportContext) -> Section:
    """Risk matrix and the top ten creators by risk, pseudonymised (``data["risk"]`` without creator ids)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("Risk watchlist"))
    if (why := _unavailable(ctx, ("creator", "severity"))) is not None:
        return s.markdown(why)
    # the per-creator inputs are counted by the engine: no action or content row reaches pandas
    weights = ctx.params.severity_weights
    inputs = creator_risk_inputs_expr(
        ctx.expr("enforcement_actions"),
        ctx.expr("content"),
        ctx.market,
        ctx.month,
        ctx.tz,
        severity_weights=weights,
    ).execute()
    risk = score_creator_risk_inputs(inputs, ctx.market, ctx.month, severity_weights=weights)
    s.markdown(
        _(
            "Creators ranked for proactive review by risk = likelihood x severity x reach over the last three months: "
            "likelihood is the creator's violation rate, shrunk towards the market average so that creators with "
            "little content are not ranked on noise; severity comes from the market's severity weights; reach from "
            "views and GMV. Creators appear as pseudonyms only."
        )
    )
    if risk.empty:
        return s.markdown(_("No creator was active in the last three months."))
    fig, ax = theme.new_figure(height_cm=9)
    plot_risk_matrix(risk, ax=ax, _=_)
    s.figure(fig)
    wl = build_watchlist(
        risk, top_n=10, pseudonymise=partial(pseudonymise, key=load_pseudonym_key(ctx.data_dir or None)), _=_
    )
    s.data["watchlist"] = wl
    wl = present.format_columns(
        fmt,
        wl[["rank", "creator", "risk", "likelihood", "impact", "reasons"]],
        {"rank": "count", "risk": "number", "likelihood": "number", "impact": "number"},
        rename={
            "rank": _("Rank"),
            "creator": _("Creator (pseudonym)"),
            "risk": _("Risk"),
            "likelihood": _("Likelihood"),
            "impact": _("Impact"),
            "reasons": _("Why"),
        },
    )
    return s.table(wl, _("Risk watchlist: top {n} creators").format(n=fmt.count(len(wl))))


def notices(ctx: ReportContext) -> Section:
    """Notice handling by reporter type and trusted flaggers' speed (``data["notices"]``, ``data["speed"]``)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("Notices and appeals"))
    if (why := _unavailable(ctx, ("notice",), "notices")) is not None:
        return s.markdown(why)
    raw = m_notices.summarize_notice_handling(
        ctx.month_rows("notices", NOTICE_TIMES, NOTICE_COLUMNS),
        ctx.market,
        ctx.month,
        ctx.tz,
        by="reporter_type",
    )
    s.markdown(
        _(
            "Notices are reports of suspected violations from users, trusted flaggers and authorities. The DSA asks "
            "platforms to handle them diligently and to give priority to trusted flaggers."
        )
    )
    nt = suppress_small_cells(
        raw,
        ["received", "handled", "actioned"],
        min_cell=ctx.min_cell,
        derived=["actioned_rate", "ci_low", "ci_high", "median_hours_to_action"],
    )
    nt["group"] = present.label_column(_, nt["group"])
    nt = present.format_columns(
        fmt,
        nt[["group", "received", "handled", "actioned", "actioned_rate", "median_hours_to_action"]],
        {
            "received": "count",
            "handled": "count",
            "actioned": "count",
            "actioned_rate": "percent",
            "median_hours_to_action": "hours",
        },
        rename={
            "group": _("Reporter"),
            "received": _("Received"),
            "handled": _("Handled"),
            "actioned": _("Actioned"),
            "actioned_rate": _("Actioned share"),
            "median_hours_to_action": _("Median time to action"),
        },
    )
    s.table(nt, _("Notice handling by reporter type"))
    cmp = m_notices.compare_notice_handling_times(
        ctx.month_rows("notices", NOTICE_TIMES, NOTICE_COLUMNS), ctx.market, ctx.month, ctx.tz
    )
    s.data.update(notices=raw, speed=cmp)
    r = cmp.iloc[0]
    if not present.is_nan(r["pvalue"]):
        s.markdown(
            _(
                "Trusted flaggers' notices were actioned in a median of {tf} against {user} for users' notices "
                "(one-sided Mann-Whitney test, p = {p})."
            ).format(
                tf=fmt.hours(r["median_hours_group"]),
                user=fmt.hours(r["median_hours_reference"]),
                p=fmt.number(r["pvalue"], 3),
            )
        )
    return s


def appeals(ctx: ReportContext) -> Section:
    """Appeal outcomes by decision mode and the recalibration test (``data["overturns"]``, ``data["test"]``)."""
    _, fmt = ctx._, ctx.fmt
    s = Section()
    if (why := _unavailable(ctx, ("appeal",), "appeals")) is not None:
        return s.markdown(why)
    actions = ctx.cube.table("enforcement_actions", ACTION_COLUMNS)
    raw = m_appeals.summarize_overturns(
        ctx.month_rows("appeals", APPEAL_TIMES, APPEAL_COLUMNS),
        actions,
        ctx.market,
        ctx.month,
        ctx.tz,
        by="decision_mode",
    )
    s.markdown(
        _(
            "Appeals decided this month by how the original decision was taken. Automated decisions overturned "
            "more often than human ones are a signal to recalibrate the automation."
        )
    )
    ov = suppress_small_cells(
        raw,
        ["decided", "overturned"],
        min_cell=ctx.min_cell,
        derived=["overturn_rate", "ci_low", "ci_high", "median_hours_to_resolve"],
    )
    ov[_("Overturn rate")] = _rate_column(fmt, ov, "overturn_rate")
    ov["group"] = present.label_column(_, ov["group"])
    ov = present.format_columns(
        fmt,
        ov[["group", "decided", "overturned", _("Overturn rate"), "median_hours_to_resolve"]],
        {"decided": "count", "overturned": "count", "median_hours_to_resolve": "hours"},
        rename={
            "group": _("Decision mode"),
            "decided": _("Appeals decided"),
            "overturned": _("Overturned"),
            "median_hours_to_resolve": _("Median time to resolve"),
        },
    )
    s.table(ov, _("Appeal outcomes by decision mode"))
    test = m_appeals.compare_overturn_rates(
        ctx.month_rows("appeals", APPEAL_TIMES, APPEAL_COLUMNS), actions, ctx.market, ctx.month, ctx.tz
    )
    s.data.update(overturns=raw, test=test)
    rc = test.iloc[0]
    if bool(rc["recalibrate"]):
        s.markdown(
            _(
                "**Automated decisions were overturned significantly more often than human ones** "
                "(p = {p}): review the thresholds of the automated enforcement."
            ).format(p=fmt.number(rc["pvalue"], 3))
        )
    return s


def _prevalence_figure(ctx: ReportContext, shown: pd.DataFrame):
    _, fmt = ctx._, ctx.fmt
    fig, ax = theme.new_figure(height_cm=7)
    x = list(range(len(shown)))
    ax.plot(x, shown["value"] * 10000, marker="o")
    ax.fill_between(x, shown["ci_low"] * 10000, shown["ci_high"] * 10000, alpha=0.25, linewidth=0)
    ax.set_xticks(x, [fmt.month(m, abbreviated=True) for m in shown["month"]], rotation=45, ha="right")
    theme.label_axes(
        ax,
        _("Violating views per {base} views").format(base=fmt.count(10000)),
        _("Month"),
        _("Violating views"),
        y_unit=_("per {base} views").format(base=fmt.count(10000)),
    )
    return fig


def time_to_action(ctx: ReportContext) -> Section:
    """Hours to action as a distribution, SLA shares and open notices (:func:`.quality.time_to_action`)."""
    return quality.time_to_action(ctx)


def prevalence(ctx: ReportContext) -> Section:
    """Violating-view prevalence over 13 months (chart) and this month's value (``data["prevalence"]``)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("Prevalence of violating content"))
    if (why := _unavailable(ctx, ("prevalence",), "prevalence_samples")) is not None:
        return s.markdown(why)
    months = [shift_month(ctx.month, -k) for k in range(12, -1, -1)]
    prev = m_prevalence.estimate_monthly_prevalence(
        ctx.tables["prevalence_samples"], ctx.market, ctx.tz, months=months
    )
    s.data["prevalence"] = prev
    s.markdown(
        _(
            "Violating-view prevalence: the share of views that landed on violating content, estimated from a "
            "stratified random sample of views that reviewers labelled. It measures what users actually saw, "
            "whatever enforcement found."
        )
    )
    shown = prev.dropna(subset=["value"])
    if shown.empty:
        return s.markdown(_("No prevalence sample was labelled in this period."))
    s.figure(_prevalence_figure(ctx, shown))
    r = prev[prev["month"] == ctx.month]
    if not r.empty and not present.is_nan(r.iloc[0]["value"]):
        r = r.iloc[0]
        text = _("In {month}, {value} of views were on violating content.").format(
            month=fmt.month(ctx.month),
            value=fmt.rate_with_interval(r["value"], r["ci_low"], r["ci_high"], digits=2),
        )
        if bool(r["is_rare"]):
            text += " " + _(
                "Violating samples were few: no more than {n} violating views per {base} views "
                "(97.5% upper bound)."
            ).format(n=fmt.number(r["upper_per_10k"], 1), base=fmt.count(10000))
        s.markdown(text)
    return s


def _milestone_table(ctx: ReportContext, ms: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    ms = suppress_small_cells(
        ms, ["numerator"], min_cell=ctx.min_cell, derived=["value", "ci_low", "ci_high"]
    )
    ms[_("Share of active creators")] = _rate_column(fmt, ms, "value")
    ms["restriction"] = present.label_column(_, ms["restriction"])
    return present.format_columns(
        fmt,
        ms[["milestone", "restriction", "numerator", _("Share of active creators")]],
        {"milestone": "count", "numerator": "count"},
        rename={"milestone": _("At or below"), "restriction": _("Restriction"), "numerator": _("Creators")},
    )


def account_health(ctx: ReportContext) -> Section:
    """Creators at or below each health milestone and the early-warning count (``data["milestones"]``, ...).

    The per-creator ledger runs on the engine (:func:`govlib.metrics.health.health_ledger` over
    :meth:`ReportContext.expr`); only the milestone and early-warning counts reach the kernel.
    """
    _, fmt, hs = ctx._, ctx.fmt, ctx.params.health
    s = Section().markdown("## " + _("Creator account health"))
    if (why := _unavailable(ctx, ("creator", "health"))) is not None:
        return s.markdown(why)
    actions = ctx.expr("enforcement_actions")
    _start, month_end = month_bounds(ctx.month, ctx.tz)
    appeals = ctx.expr("appeals") if ctx.cube.has("appeals") else None
    scores = m_health.health_ledger(
        actions, ctx.expr("creators"), month_end, hs, market=ctx.market, appeals=appeals
    )
    scores = materialise(scores, "market_report_ledger")  # read by three summaries: computed once
    s.markdown(
        _(
            "Every creator starts with {start} health points out of {max}; each violation deducts points for {days} days. "
            "At {milestones} points restrictions apply, from limited traffic to the removal of e-commerce permissions. "
            "The table shows the share of active creators (content published in the last 90 days) at or below each "
            "milestone at the end of the month."
        ).format(
            start=fmt.count(hs.start_score),
            max=fmt.count(hs.max_score),
            days=fmt.count(hs.deduction_window_days),
            milestones=", ".join(fmt.count(m) for m in sorted(hs.milestones, reverse=True)),
        )
    )
    ms = m_health.share_at_or_below_milestones(scores, ctx.expr("content"), hs, at=month_end)
    s.table(_milestone_table(ctx, ms), _("Creators at or below each health milestone"))
    ew = m_health.count_early_warning(m_health.early_warning_table(scores, actions, hs, at=month_end), scores)
    s.data.update(milestones=ms, early_warning=ew)
    n_any = int(ew.loc[ew["reason"] == "any", "creators"].sum()) if not ew.empty else 0
    return s.markdown(
        _(
            "Early warning: {n} creators are one typical violation away from their next restriction; outreach before "
            "they are penalised can prevent it (list with pseudonyms in the creator health report)."
        ).format(n=fmt.count(n_any) if n_any >= ctx.min_cell or n_any == 0 else f"<{ctx.min_cell}")
    )


def _rewards_table(ctx: ReportContext, by_tier: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    by_tier = suppress_small_cells(
        by_tier,
        ["creators", "rewarded", "penalised", "rewarded_and_penalised"],
        min_cell=ctx.min_cell,
        derived={
            "rewarded": ["rewards_value_eur"],
            "rewarded_and_penalised": ["value_to_penalised_eur", "value_share_to_penalised"],
        },
    )
    by_tier["tier"] = present.label_column(_, by_tier["tier"])
    return present.format_columns(
        fmt,
        by_tier[
            [
                "tier",
                "creators",
                "rewarded",
                "penalised",
                "rewarded_and_penalised",
                "rewards_value_eur",
                "value_share_to_penalised",
            ]
        ],
        {
            "creators": "count",
            "rewarded": "count",
            "penalised": "count",
            "rewarded_and_penalised": "count",
            "rewards_value_eur": "money",
            "value_share_to_penalised": "percent",
        },
        rename={
            "tier": _("Tier"),
            "creators": _("Creators"),
            "rewarded": _("Rewarded"),
            "penalised": _("Penalised"),
            "rewarded_and_penalised": _("Both"),
            "rewards_value_eur": _("Rewards paid"),
            "value_share_to_penalised": _("Share paid to penalised creators"),
        },
    )


def rewards_penalties(ctx: ReportContext) -> Section:
    """Rewards and penalties by tier, and rewards paid to recent violators (``data["by_tier"]``, ...)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("Rewards and penalties"))
    if (why := _unavailable(ctx, ("reward",), "rewards")) is not None:
        return s.markdown(why)
    actions, days = ctx.expr("enforcement_actions"), ctx.params.health.deduction_window_days
    rewards = ctx.expr("rewards")  # per-creator work on the engine; by-tier sums reach the kernel
    rp = m_rewards.rewards_penalties_table(
        rewards, actions, ctx.expr("creators"), market=ctx.market, month=ctx.month, tz=ctx.tz
    )
    by_tier = m_rewards.summarise_rewards_penalties(rp, by=("tier",))
    s.markdown(
        _(
            "Incentives paid to creators who were also penalised this month: a high share means rewards and "
            "enforcement pull in different directions."
        )
    )
    s.table(_rewards_table(ctx, by_tier), _("Rewards and penalties by creator tier"))
    rv = m_rewards.share_rewarded_with_recent_violations(
        rewards, actions, market=ctx.market, month=ctx.month, tz=ctx.tz, lookback_days=days
    )
    s.data.update(by_tier=by_tier, rewarded_violators=rv)
    r = rv.iloc[0]
    if not present.is_nan(r["value"]):
        s.markdown(
            _(
                "{share} of the creators rewarded in {month} had a violation in the {days} days before the "
                "reward; they received {money} ({money_share} of the rewards paid)."
            ).format(
                share=fmt.rate_with_interval(r["value"], r["ci_low"], r["ci_high"]),
                month=fmt.month(ctx.month),
                days=fmt.count(days),
                money=fmt.money(r["value_eur_to_violators"]),
                money_share=fmt.percent(r["value_share"]),
            )
        )
    return s


def _performance_table(ctx: ReportContext, perf: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    perf = suppress_small_cells(
        perf,
        ["items", "actioned_items"],
        min_cell=ctx.min_cell,
        derived=[
            "actioned_share",
            "ci_low",
            "ci_high",
            "median_views_actioned",
            "mean_gmv_actioned_eur",
            "gmv_actioned_eur",
        ],
    )
    group_col = [c for c in perf.columns if c not in ("market", "month")][0]
    perf[group_col] = present.label_column(_, perf[group_col])
    return present.format_columns(
        fmt,
        perf[
            [
                group_col,
                "items",
                "actioned_items",
                "actioned_share",
                "median_views_actioned",
                "median_views_compliant",
                "gmv_actioned_eur",
            ]
        ],
        {
            "items": "count",
            "actioned_items": "count",
            "actioned_share": "percent",
            "median_views_actioned": "count",
            "median_views_compliant": "count",
            "gmv_actioned_eur": "money",
        },
        rename={
            group_col: _("Product category"),
            "items": _("Content published"),
            "actioned_items": _("Actioned"),
            "actioned_share": _("Actioned share"),
            "median_views_actioned": _("Median views, actioned"),
            "median_views_compliant": _("Median views, compliant"),
            "gmv_actioned_eur": _("GMV of actioned content"),
        },
    )


def content_performance(ctx: ReportContext) -> Section:
    """Actioned against compliant content by product category, and GMV exposure (``data["performance"]``, ...)."""
    _, fmt = ctx._, ctx.fmt
    content, actions = ctx.expr("content"), ctx.expr("enforcement_actions")  # items stay on the engine
    perf = m_performance.compare_actioned_content(
        content, actions, market=ctx.market, month=ctx.month, tz=ctx.tz, by="product_category"
    )
    s = Section().markdown("## " + _("Content performance"))
    s.markdown(
        _(
            "Content published this month by product category: how much of it was later actioned, and the views "
            "and sales (GMV) of actioned against compliant content."
        )
    )
    s.table(_performance_table(ctx, perf), _("Actioned and compliant content by product category"))
    exp = m_performance.estimate_exposure_to_violations(
        content, actions, market=ctx.market, month=ctx.month, tz=ctx.tz
    )
    s.data.update(performance=perf, exposure=exp)
    if not exp.empty and not present.is_nan(exp.iloc[0]["value"]):
        e = exp.iloc[0]
        s.markdown(
            _(
                "{share} of the GMV of content published in {month} came from content that was later "
                "actioned."
            ).format(
                share=fmt.rate_with_interval(e["value"], e["ci_low"], e["ci_high"]),
                month=fmt.month(ctx.month),
            )
        )
    return s


def peer_benchmarks(ctx: ReportContext) -> Section:
    """Our DSA figures next to other services' published ones (DSA markets with peer reports only; else empty)."""
    _, fmt, month = ctx._, ctx.fmt, ctx.month
    s = Section()
    if not (ctx.params.regime == "DSA" and config.PEER_REPORTS_DIR.is_dir()):
        return s
    from govlib.dsa.peers import compare_with_peers, our_figures, peer_figures, read_peer_reports
    from govlib.dsa.templates import parse_period

    half = f"{month[:4]}-H{1 if int(month[5:7]) <= 6 else 2}"
    start, end, _label = parse_period(half)
    inputs = {  # the half-year's rows and the columns our_figures reads, not the whole window
        name: ctx.cube.rows_between(name, start, end, [time], columns)
        for name, (time, columns) in PEER_FIGURE_INPUTS.items()
        if ctx.cube.has(name)
    }
    ours = our_figures(inputs, half, service=ctx.params.name)
    theirs = peer_figures(read_peer_reports([config.PEER_REPORTS_DIR]))
    theirs = theirs[
        theirs["period"] == theirs.groupby("service")["period"].transform("max")
    ]  # latest report each
    both = compare_with_peers(ours, theirs)
    s.data["peers"] = both
    names = {
        "complaints_reversed_share": _("Complaints reversed or partially reversed"),
        "complaints_median_hours": _("Median time to decide a complaint"),
        "notices_median_hours": _("Median time to act on a notice"),
        "solely_automated_share": _("Measures taken solely by automated means"),
    }
    s.markdown("## " + _("Peer benchmarks"))
    s.markdown(
        _(
            "Our figures for {market} next to those other services published in their DSA transparency reports "
            "(Annex I of Implementing Regulation (EU) 2024/2835), each with its period and source. Theirs cover the "
            "whole EU; ours cover {market} from the start of the half-year to the end of {month}. Where a report does "
            "not state the unit of a median time, hours are assumed."
        ).format(market=fmt.market_name(ctx.market), month=fmt.month(month))
    )
    return s.table(
        pd.DataFrame(
            {
                _("Figure"): [names.get(f, f) for f in both["figure"]],
                _("Service"): both["service"],
                _("Period"): both["period"],
                _("Value"): [
                    fmt.hours(v) if f.endswith("_hours") else fmt.percent(v)
                    for f, v in zip(both["figure"], both["value"])
                ],
                _("Source"): [
                    _("this report's data") if o else (src or fmt.na)
                    for o, src in zip(both["is_ours"], both["source_file"].fillna(""))
                ],
            }
        ),
        _("Peer benchmarks"),
    )


def label_trust(ctx: ReportContext) -> Section:
    """How far can these labels be trusted (:func:`.quality.label_trust`)."""
    return quality.label_trust(ctx)
