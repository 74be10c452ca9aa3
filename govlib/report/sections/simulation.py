"""Sections of a policy simulation (``notebooks/simulation.ipynb``, run by ``govlib simulate``).

The replay is :mod:`govlib.analyses.simulate`; a section shows its rows side by side: the
current rules, each proposal and the change. The report is circulated: it shows counts and
sums only, and counts of fewer than the market's ``min_cell_size`` creators are hidden
(:func:`govlib.analyses.simulate.suppression_mask`).
"""

from __future__ import annotations

import math

import pandas as pd

from govlib.analyses import simulate as sim
from govlib.report import present
from govlib.report.sections.base import ReportContext, Section
from govlib.text import N_
from govlib.timeutil import shift_month

# base metric (before ":") -> label; a suffix after ":" (signal, group) is shown after the label
LABELS = {
    "creators_at_or_below": N_("Creators at or below score {x}"),
    "creators_restricted": N_("Creators restricted: {x}"),
    "creators_newly_restricted": N_("Newly restricted (creator-months)"),
    "creators_newly_released": N_("Newly released (creator-months)"),
    "gmv_under_restriction": N_("GMV of restricted creators"),
    "views_under_restriction": N_("Views of restricted creators"),
    "actions": N_("Actions: {x}"),
    "rewards_granted": N_("Rewards granted"),
    "rewards_granted_value": N_("Value of rewards granted"),
    "rewards_withheld": N_("Rewards withheld"),
    "rewards_withheld_value": N_("Value of rewards withheld"),
    "rewards_to_later_violators": N_("Rewards to creators actioned within 90 days after"),
    "rewards_to_later_violators_value": N_("Value of rewards to creators actioned within 90 days after"),
    "items_auto_actioned": N_("Items actioned automatically ({x})"),
    "items_sent_to_review": N_("Items sent to review ({x})"),
    "expected_wrongly_actioned": N_("Expected wrongly actioned items ({x})"),
    "expected_missed_violations": N_("Expected missed violations ({x})"),
    "notices_breaching_sla": N_("Notices handled later than the SLA target"),
    "share_notices_breaching_sla": N_("Share of notices handled later than the SLA target"),
    "reoffence_rate_90d": N_("90-day re-offence rate after a first action (model projection)"),
    "creators_restricted_by_language": N_("Restricted creators, language {x}"),
    "creators_restricted_by_tier": N_("Restricted creators, size band {x}"),
    "creators_restricted_by_tenure": N_("Restricted creators, tenure {x}"),
}
_KINDS = {"EUR": "money", "share": "percent", "share (model projection)": "percent"}


def open_simulation_context(
    market: str, month: str, *, results: str = "", proposals: str = "", data_dir: str = "", lang: str = ""
) -> ReportContext:
    """The context of a simulation report: the market's params, translator, formatter and the results.

    ``results`` is the Parquet file of :func:`govlib.analyses.simulate.compare` written by
    ``govlib simulate``; empty runs the replay here (JupyterLab). ``proposals`` are the proposal
    files, comma-separated, in the report's order.
    """
    from govlib.params import load_market, load_proposal
    from govlib.report import theme
    from govlib.report.i18n import formatter_for, get_translator

    params = load_market(market)
    language = lang or params.report_language
    props = [load_proposal(p, params) for p in proposals.split(",") if p]
    if results:
        frame = pd.read_parquet(results)
    else:
        inp = sim.load_inputs(data_dir or None, params, month)
        frame = sim.compare({p.name: sim.simulate(inp, p) for p in props})
    ctx = ReportContext(
        market=market,
        month=month,
        params=params,
        language=language,
        _=get_translator(language).gettext,
        fmt=formatter_for(params, language=lang or None),
        cube=None,
        data_dir=data_dir,
        extra={"results": frame, "proposals": props},
    )
    theme.apply_theme()
    return ctx


def _label(ctx: ReportContext, metric: str) -> str:
    base, _sep, x = metric.partition(":")
    if base not in LABELS:
        return metric
    return ctx._(LABELS[base]).format(x=present.label(ctx._, x))


def _cell(ctx: ReportContext, row, hidden: bool) -> str:
    fmt = ctx.fmt
    if not row.available:
        return ctx._("not available")
    if hidden:
        return f"<{ctx.min_cell}"
    kind = _KINDS.get(row.unit, "number")
    digits = 1 if kind == "percent" else 0
    text = fmt.value(row.value, kind, digits)
    if not math.isnan(row.ci_low):
        text += f" ({fmt.value(row.ci_low, kind, digits)} – {fmt.value(row.ci_high, kind, digits)})"
    return text


def table(
    ctx: ReportContext, metrics: list[str] | None = None, prefixes: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The results of ``metrics`` (or those starting with ``prefixes``) as a formatted wide table."""
    r = ctx.extra["results"]
    hide = sim.suppression_mask(r, ctx.min_cell)
    keep = r["metric"].isin(metrics or []) | r["metric"].str.startswith(prefixes or ("\0",))
    r, hide = r[keep], hide[keep]
    names = [p.name for p in ctx.extra["proposals"]]
    columns = {"current": ctx._("Current rules")}
    for n in names:
        columns[f"proposed:{n}"] = ctx._("Proposed: {name}").format(name=n)
        columns[f"delta:{n}"] = ctx._("Change: {name}").format(name=n)
    out: dict[str, dict[str, str]] = {}
    for row, h in zip(r.itertuples(index=False), hide):
        out.setdefault(row.metric, {})[columns.get(row.scenario, row.scenario)] = _cell(ctx, row, bool(h))
    wide = (
        pd.DataFrame.from_dict(out, orient="index").reindex(columns=list(columns.values())).fillna(ctx.fmt.na)
    )
    wide.insert(0, ctx._("Metric"), [_label(ctx, m) for m in wide.index])
    return wide.reset_index(drop=True)


def _overrides(ctx: ReportContext, prop) -> str:
    """The keys a proposal changes, as a short list (anything else keeps the current rule)."""
    data = prop.model_dump(
        exclude_none=True, exclude_defaults=True, exclude={"name", "market", "description"}
    )
    keys = [f"health.{k}" for k in data.pop("health", {})] + list(data)
    return ", ".join(f"`{k}`" for k in keys) or ctx._("nothing (the current rules)")


def header(ctx: ReportContext) -> Section:
    """Title, what a replay is, the proposals and what each changes."""
    _, fmt = ctx._, ctx.fmt
    first = shift_month(ctx.month, -(sim.MONTHS - 1))
    s = Section()
    s.markdown(
        "# "
        + _("Policy simulation: {market}, {first} to {month}").format(
            market=fmt.market_name(ctx.market), first=fmt.month(first), month=fmt.month(ctx.month)
        )
    )
    s.markdown(
        _(
            "What would the last 13 months have looked like under other rules? The replay keeps every violation, "
            "detection, notice and reward as it happened and changes only what the rules decide: health points, "
            "restrictions, the action taken, which rewards are paid, which items a signal actions or sends to review, "
            "which notices breach the SLA target. The re-offence rate is a model projection, not a measurement. Counts "
            "of fewer than {min} creators are hidden; intervals are 95% intervals."
        ).format(min=fmt.count(ctx.min_cell))
    )
    for p in ctx.extra["proposals"]:
        s.markdown(
            f"**{p.name}**: "
            + (p.description + " " if p.description else "")
            + _("Changes: {keys}.").format(keys=_overrides(ctx, p))
        )
    return s


def _section(
    ctx: ReportContext, title: str, caption: str, prefixes: tuple[str, ...], note: str = ""
) -> Section:
    t = table(ctx, prefixes=prefixes)
    s = Section(data={"table": t})
    s.markdown("## " + title)
    if note:
        s.markdown(note)
    return s.table(t, caption)


def health(ctx: ReportContext) -> Section:
    """Creators at or below each score, under each restriction, transitions, GMV and views affected."""
    _ = ctx._
    note = _(
        "Scores and restrictions at the end of {month}; newly restricted and released count the creator-months "
        "in which a creator's state changed over the 13 months; GMV and views are those of content published "
        "while the creator was restricted (state at the start of each month)."
    ).format(month=ctx.fmt.month(ctx.month))
    return _section(
        ctx,
        _("Account health and restrictions"),
        _("Creators and exposure under each rule set"),
        ("creators_at_or_below", "creators_restricted:", "creators_newly", "gmv_", "views_"),
        note,
    )


def actions(ctx: ReportContext) -> Section:
    """Actions by type under the penalty ladder."""
    _ = ctx._
    note = _(
        "Actions of the 13 months by type; a penalty ladder raises a decision's action to the ladder's step "
        "for the creator's offence number."
    )
    return _section(ctx, _("Actions by type"), _("Enforcement actions by type"), ("actions:",), note)


def rewards(ctx: ReportContext) -> Section:
    """Rewards granted, withheld and paid to later violators."""
    _ = ctx._
    if not ctx.extra["results"].query("metric == 'rewards_granted'")["available"].all():
        return Section().markdown("## " + _("Rewards")).markdown(present.not_available(_, "rewards"))
    return _section(ctx, _("Rewards"), _("Rewards under the eligibility rule"), ("rewards_",))


def detection(ctx: ReportContext) -> Section:
    """Signal thresholds: items actioned, sent to review, wrongly actioned and missed; notice SLA."""
    _ = ctx._
    note = _(
        "Expected wrongly actioned items use the signal's measured precision, expected missed violations the "
        "violating share below the review threshold, both from the labelled QA sample with their intervals "
        "(summed over languages). Items sent to review are the reviewers' added workload."
    )
    r = ctx.extra["results"]
    s = _section(
        ctx,
        _("Detection, review and notices"),
        _("Signals and notice handling"),
        ("items_", "expected_", "notices_", "share_notices"),
        note,
    )
    if not r[r["metric"].str.startswith("items_")]["available"].all():
        s.markdown(present.not_available(_, "signal_scores / review_labels"))
    return s


def reoffence(ctx: ReportContext) -> Section:
    """The projected 90-day re-offence rate, labelled a model projection."""
    _ = ctx._
    note = _(
        "**Model projection, not a measurement.** The share of creators first actioned in the 13 months who "
        "re-offend within 90 days. A creator whose first action the proposal makes harsher is projected with the "
        "hazard ratio govlib estimates between the two actions (Cox model of the time to the next violation); "
        "the interval carries that estimate's interval and the Kaplan-Meier interval of the current rate."
    )
    return _section(ctx, _("Re-offending"), _("Projected 90-day re-offence rate"), ("reoffence_",), note)


def bearers(ctx: ReportContext) -> Section:
    """Who bears the change: restricted creators by language, size band and tenure."""
    _ = ctx._
    note = _(
        "Creators restricted at the end of {month} by their main content language, size band (tier) and "
        "tenure on the platform."
    ).format(month=ctx.fmt.month(ctx.month))
    return _section(
        ctx, _("Who bears the change"), _("Restricted creators by group"), ("creators_restricted_by",), note
    )
