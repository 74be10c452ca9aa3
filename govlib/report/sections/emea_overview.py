"""Sections of the EMEA roll-up (``notebooks/emea_overview.ipynb``): every market side by side.

The context comes from :func:`govlib.report.sections.open_rollup_context`: ``ctx.extra`` holds
the market ``codes``, the ``failed`` markets, each market's ``market_params`` and ``cubes``,
and ``kpis``, every market's KPI history.
"""

from __future__ import annotations

import pandas as pd

from govlib.report import present, rollup
from govlib.report.sections.base import ReportContext, Section

WATCHED = ["proactive_rate", "overturn_rate", "violating_view_prevalence"]  # ranked on these
_KINDS = {"count": "count", "share": "percent"}  # unit -> Formatter kind of a plain value


def intro(ctx: ReportContext) -> Section:
    """Title, what the roll-up shows, and the markets without data or whose reports failed."""
    _, fmt, month = ctx._, ctx.fmt, ctx.month
    codes, cubes, failed = ctx.extra["codes"], ctx.extra["cubes"], ctx.extra["failed"]
    s = Section()
    s.markdown("# " + _("EMEA overview: {month}").format(month=fmt.month(month)))
    s.markdown(
        _(
            "All markets side by side for {month}: the headline indicators, how the markets rank, and the changes on last "
            "month that are both statistically significant and material. Each market's own report has the detail. "
            "Months are calendar months in each market's time zone."
        ).format(month=fmt.month(month))
    )
    no_data = [m for m in codes if not cubes[m].has_data(month)]
    s.data["no_data"] = no_data
    if no_data:
        s.markdown(
            _(
                "**No data:** {markets} had no enforcement action and no published content in {month}; their "
                "indicators are left empty."
            ).format(markets=", ".join(no_data), month=fmt.month(month))
        )
    if failed:
        s.markdown(
            _("**Not included:** the reports of {markets} failed this month; see the run's index.").format(
                markets=", ".join(failed)
            )
        )
    return s


def headline(ctx: ReportContext) -> Section:
    """This month's headline KPIs, one column per market (``data["kpis"]``: the month's rows)."""
    _, fmt = ctx._, ctx.fmt
    kpis = ctx.extra["kpis"]
    now = kpis[kpis["month"] == ctx.month]
    order = list(dict.fromkeys(now["kpi_id"]))
    table = {_("Indicator"): [present.kpi_label(_, k) for k in order]}
    for m in ctx.extra["codes"]:
        rows = now[now["market"] == m].set_index("kpi_id")
        table[m] = [
            present.format_kpi(fmt, rows.loc[k], with_interval=False) if k in rows.index else fmt.na
            for k in order
        ]
    s = Section(data={"kpis": now})
    s.markdown("## " + _("Headline indicators by market"))
    return s.table(pd.DataFrame(table), _("Headline indicators, {month}").format(month=fmt.month(ctx.month)))


def ranking(ctx: ReportContext) -> Section:
    """Markets ranked on the watched KPIs, with 95% intervals (``data["ranks"]``)."""
    _ = ctx._
    ranks = rollup.rank_markets(ctx.extra["kpis"], ctx.month, WATCHED)
    s = Section(data={"ranks": ranks})
    s.markdown("## " + _("Ranking"))
    s.markdown(
        _(
            "Markets ranked on the indicators a policy team watches most: proactive detection (higher is better), "
            "appeal overturns and violating-view prevalence (lower is better). Bars show 95% intervals; overlapping "
            "intervals mean the ranking between those markets is not established."
        )
    )
    return s.figure(rollup.ranking_figure(_, ctx.fmt, ranks, WATCHED, ctx.month))


def notable_changes(ctx: ReportContext) -> Section:
    """KPIs that changed significantly and materially on last month (``data["changes"]``: every comparison)."""
    _, fmt, month, previous = ctx._, ctx.fmt, ctx.month, ctx.previous
    changes = rollup.compare_kpis(ctx.extra["kpis"], month, previous)
    flagged = changes[changes["flagged"]].sort_values(["market", "kpi_id"])
    s = Section(data={"changes": changes})
    s.markdown("## " + _("Notable changes on last month"))
    if flagged.empty:
        return s.markdown(_("No headline indicator changed significantly and materially in any market."))
    s.markdown(
        _(
            "Indicators that changed significantly and materially (at least 10%) on {month}. Every market's "
            "indicators are tested together, so significance controls the false discovery rate at 5% across the "
            "table (Benjamini-Hochberg q-value below 0.05)."
        ).format(month=fmt.month(previous))
    )
    return s.table(
        pd.DataFrame(
            {
                _("Market"): flagged["market"],
                _("Indicator"): [present.kpi_label(_, k) for k in flagged["kpi_id"]],
                fmt.month(previous): [
                    fmt.value(v, _KINDS.get(u, "number"))
                    for v, u in zip(flagged["value_before"], flagged["unit"])
                ],
                fmt.month(month): [
                    fmt.value(v, _KINDS.get(u, "number")) for v, u in zip(flagged["value"], flagged["unit"])
                ],
                _("Change"): [
                    present.format_change(fmt, v, b, u)
                    for v, b, u in zip(flagged["value"], flagged["value_before"], flagged["unit"])
                ],
                _("p-value"): [fmt.number(p, 3) for p in flagged["pvalue"]],
                _("q-value"): [fmt.number(q, 3) for q in flagged["qvalue"]],
            }
        ),
        _("Significant and material changes"),
    )


def strongest_alarms(alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per alarmed series (market, policy, content type): its strongest week, plus ``weeks`` alarmed.

    Parameters
    ----------
    alerts : DataFrame
        Every market's alerts (the rows of their ``alerts.csv``).

    Returns
    -------
    DataFrame
        The alarmed week with the smallest p-value of each series (ties: market, policy, content
        type, week), with column ``weeks``, the number of alarmed weeks of the series.
    """
    best = alerts.sort_values(["p_value", "market", "policy", "content_type", "week_start"], kind="mergesort")
    weeks = alerts.groupby(["market", "policy", "content_type"]).size().rename("weeks").reset_index()
    return best.drop_duplicates(["market", "policy", "content_type"]).merge(weeks, how="left")


def emerging_risks(ctx: ReportContext) -> Section:
    """Every market's alarmed series, strongest evidence first, top 15 (``data["alarms"]``)."""
    _, fmt = ctx._, ctx.fmt
    alerts = pd.concat(
        [ctx.extra["cubes"][m].alerts for m in ctx.extra["codes"]], ignore_index=True
    )  # alerts.csv
    s = Section(data={"alerts": alerts})
    s.markdown("## " + _("Emerging risks across markets"))
    s.markdown(
        _(
            "The month's alarms of every market's emerging-risk detection (weekly enforcement series that rose above what "
            "their own history predicts), one row per alarmed series with its strongest week, strongest evidence first. "
            "The charts are in each market's report, the full list in its alerts.csv."
        )
    )
    if alerts.empty:
        return s.markdown(_("No series raised an alarm in {month}.").format(month=fmt.month(ctx.month)))
    best = s.data["alarms"] = strongest_alarms(alerts)
    return s.table(
        pd.DataFrame(
            {
                _("Market"): best["market"],
                _("Policy"): present.label_column(_, best["policy"]),
                _("Content type"): [
                    _("All content types") if t == "all" else present.label(_, t)
                    for t in best["content_type"]
                ],
                _("Weeks alarmed"): [fmt.count(n) for n in best["weeks"]],
                _("Strongest week"): [
                    fmt.date(pd.Timestamp(w)) for w in best["week_start"]
                ],  # local Monday; fmt is UTC
                _("Ratio"): [fmt.number(r, 1) for r in best["ratio"]],
                _("q-value"): [fmt.number(q, 3) for q in best["q_value"]],
            }
        ).head(15),
        _("Alarmed series, {month}").format(month=fmt.month(ctx.month)),
    )


def regimes(ctx: ReportContext) -> Section:
    """Each market's name, regulatory regime, time zone and report language."""
    _, codes, mparams = ctx._, ctx.extra["codes"], ctx.extra["market_params"]
    s = Section().markdown("## " + _("Regulatory regimes"))
    return s.table(
        pd.DataFrame(
            {
                _("Market"): codes,
                _("Name"): [mparams[m].name for m in codes],
                _("Regime"): [mparams[m].regime.replace("_", " ") for m in codes],
                _("Time zone"): [mparams[m].timezone for m in codes],
                _("Report language"): [mparams[m].report_language for m in codes],
            }
        )
    )
