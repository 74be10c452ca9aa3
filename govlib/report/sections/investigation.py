"""Sections of an investigation (``notebooks/investigation.ipynb``, run by ``govlib investigate``).

CONFIDENTIAL: an investigation shows creator and content identifiers; it is written only under
``reports/investigations/``. An investigation opens a case (:func:`govlib.analyses.investigate.open_case`)
instead of a market's cube: :func:`open_investigation_context` returns a :class:`CaseContext`,
a :class:`~govlib.report.sections.ReportContext` whose ``case`` holds the case's scope and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from govlib.analyses import investigate
from govlib.report import present, theme
from govlib.report.sections.base import ReportContext, Section

MAX_ROWS = 200  # timeline rows shown; the section's data has them all
TOP_HEALTH = 5  # creators whose health trajectory is drawn in policy mode


@dataclass
class CaseContext(ReportContext):
    """The context of an investigation: a :class:`ReportContext` without cube or month, with a case.

    ``tables`` and ``tz`` are the case's; ``month`` is empty and ``cube`` None.
    """

    case: Any = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return self.case.tables

    @property
    def tz(self) -> str:
        return self.case.tz


def open_investigation_context(
    *,
    creator: str = "",
    policy: str = "",
    market: str = "",
    date_from: str = "",
    date_to: str = "",
    data_dir: str = "",
    lang: str = "",
) -> CaseContext:
    """Open the case (creator mode when ``creator`` is set, else policy mode) and its translator.

    Parameters are those of the notebook (``lang`` empty means ``en_GB``); dates are the
    market's local dates, both inclusive. Raises what :func:`govlib.analyses.investigate.open_case` raises
    for an invalid case.
    """
    from govlib.data.load import open_dataset
    from govlib.params import load_market
    from govlib.report.i18n import formatter_for, get_translator

    ds = open_dataset(data_dir or None)
    case = investigate.open_case(
        ds,
        creator=creator,
        policy=policy if not creator else "",
        market=market if not creator else "",
        date_from=date_from,
        date_to=date_to,
    )
    params = load_market(case.market)
    language = lang or "en_GB"
    ctx = CaseContext(
        market=case.market,
        month="",
        params=params,
        language=language,
        _=get_translator(language).gettext,
        fmt=formatter_for(params, language=language),
        cube=None,
        data_dir=data_dir,
        case=case,
    )
    theme.apply_theme()
    return ctx


def event_labels(ctx: ReportContext) -> dict[str, str]:
    """Translated names of the timeline's event kinds, in the order the timeline figure draws them."""
    _ = ctx._
    return {
        "content_published": _("Content published"),
        "action": _("Enforcement action"),
        "notice_received": _("Notice received"),
        "appeal_submitted": _("Appeal submitted"),
        "appeal_resolved": _("Appeal resolved"),
    }


def timeline_of(ctx: CaseContext) -> pd.DataFrame:
    """Every event of the case in time order (memoised on the context)."""
    return ctx.memo("timeline", lambda: investigate.build_timeline(ctx.case))


def header(ctx: CaseContext) -> Section:
    """Title, the confidentiality notice and the case's scope."""
    _, fmt, case = ctx._, ctx.fmt, ctx.case
    sec = Section().markdown("# " + _("Investigation: {case}").format(case=case.case_id))
    sec.markdown(
        "**"
        + _("CONFIDENTIAL — contains identifiers")
        + "** "
        + _(
            "This case file shows creator and content identifiers. Keep it in the investigations folder and share it "
            "only with the people working on the case."
        )
    )
    last = fmt.date(case.end - pd.Timedelta(seconds=1))
    if case.mode == "creator":
        return sec.markdown(
            _(
                "Scope: creator {creator} of {market}, from {start} to {end} (dates in the market's "
                "time zone)."
            ).format(
                creator=case.creator,
                market=fmt.market_name(case.market),
                start=fmt.date(case.start),
                end=last,
            )
        )
    return sec.markdown(
        _(
            "Scope: policy {policy} in {market}, from {start} to {end} (dates in the market's time "
            "zone); {n} creators were acted on under it."
        ).format(
            policy=present.label(_, case.policy),
            market=fmt.market_name(case.market),
            start=fmt.date(case.start),
            end=last,
            n=fmt.count(len(case.creators)),
        )
    )


def case_summary(ctx: CaseContext) -> Section:
    """The case in numbers and its actions' span (``data["summary"]``: item, value)."""
    _, fmt, case = ctx._, ctx.fmt, ctx.case
    summary = investigate.summarise_case(case)
    sec = Section(data={"summary": summary}).markdown("## " + _("Case summary"))
    names = {
        "creators": _("Creators in scope"),
        "content_published": _("Content items"),
        "actions": _("Enforcement actions"),
        "notices": _("Notices"),
        "appeals": _("Appeals"),
        "appeals_overturned": _("Appeals overturned"),
        "views_of_content": _("Views of the content"),
        "gmv_eur_of_content": _("GMV of the content"),
    }
    rows = []
    for item, value in zip(summary["item"], summary["value"]):
        kind, _sep, what = item.partition(":")
        if kind == "actions" and what:
            name = _("Actions: {type}").format(type=present.label(_, what))
        elif kind == "policy" and what:
            name = _("Actions under policy: {policy}").format(policy=present.label(_, what))
        else:
            name = names.get(item, item)
        rows.append(
            {
                _("Item"): name,
                _("Value"): fmt.money(value) if item == "gmv_eur_of_content" else fmt.count(value),
            }
        )
    sec.table(pd.DataFrame(rows), _("The case in numbers"))
    acts = case.tables["enforcement_actions"]
    if not len(acts):
        return sec.markdown(_("No enforcement action in the window."))
    first, last = acts["actioned_at"].min(), acts["actioned_at"].max()
    return sec.markdown(
        _("{n} enforcement actions between {first} and {last}; most frequent policy: {policy}.").format(
            n=fmt.count(len(acts)),
            first=fmt.date(first),
            last=fmt.date(last),
            policy=present.label(_, acts["policy"].value_counts().sort_index().idxmax()),
        )
    )


def timeline(ctx: CaseContext) -> Section:
    """Events over time (figure) and the first :data:`MAX_ROWS` events (``data["timeline"]``: all of them)."""
    _, fmt, case = ctx._, ctx.fmt, ctx.case
    tl = timeline_of(ctx)
    labels = event_labels(ctx)
    sec = Section(data={"timeline": tl}).markdown("## " + _("Timeline"))
    if tl.empty:
        return sec.markdown(_("No event in the window."))
    counts = tl.groupby("event").size()
    order = [e for e in labels if e in counts.index]
    fig, ax = theme.new_figure(height_cm=6)
    for i, ev in enumerate(order):
        at = tl.loc[tl["event"] == ev, "at"].dt.tz_convert(case.tz).dt.tz_localize(None)
        ax.plot(at, [i] * len(at), "|", markersize=12)
    ax.set_yticks(range(len(order)), [labels[e] for e in order])
    ax.set_ylim(-0.7, len(order) - 0.3)
    theme.label_axes(ax, _("Events of the case over time"), _("Date"), _("Event"))
    fig.autofmt_xdate()
    sec.figure(fig)
    local = tl["at"].dt.tz_convert(case.tz)
    shown = pd.DataFrame(
        {
            _("Date"): [fmt.date(t) for t in tl["at"]],
            _("Time"): local.dt.strftime("%H:%M").tolist(),
            _("Event"): [labels.get(e, e) for e in tl["event"]],
            _("Creator"): tl["creator_id"].fillna("").tolist(),
            _("Content"): tl["content_id"].fillna("").tolist(),
            _("Action"): tl["action_id"].fillna("").tolist(),
            _("Policy"): [present.label(_, p) if isinstance(p, str) else "" for p in tl["policy"]],
            _("Detail"): [_labels(ctx, str(d)) for d in tl["detail"]],
        }
    )
    sec.table(shown.head(MAX_ROWS), _("Events in time order"))
    if len(shown) > MAX_ROWS:
        sec.markdown(
            _("Showing the first {shown} of {n} events.").format(
                shown=fmt.count(MAX_ROWS), n=fmt.count(len(shown))
            )
        )
    return sec


def health_creators(ctx: CaseContext) -> list[str]:
    """Whose health is traced: the case's creator, or the :data:`TOP_HEALTH` most actioned creators of a policy."""
    case = ctx.case
    if case.mode == "creator":
        return case.creators
    acts = case.tables["enforcement_actions"]
    who = acts["creator_id"].value_counts().sort_index().sort_values(ascending=False, kind="mergesort")
    return who.head(TOP_HEALTH).index.tolist()


def health_trajectory(ctx: CaseContext) -> Section:
    """Health score over the window (figure) and at its end (``data["health"]``: weekly points)."""
    _, fmt, case, hp = ctx._, ctx.fmt, ctx.case, ctx.params.health
    health = investigate.trace_health(case, hp, creators=health_creators(ctx))
    sec = Section(data={"health": health}).markdown("## " + _("Health-score trajectory"))
    if health.empty:
        return sec.markdown(_("No creator to score."))
    sec.markdown(
        _(
            "Creator Health Rating at weekly points of the window (start {start} points, deductions count for {days} "
            "days). Dashed lines are the milestones where restrictions apply."
        ).format(start=fmt.count(hp.start_score), days=fmt.count(hp.deduction_window_days))
    )
    fig, ax = theme.new_figure(height_cm=7)
    for cid, g in health.groupby("creator_id", sort=True):
        ax.plot(
            g["at"].dt.tz_convert(case.tz).dt.tz_localize(None),
            g["score"],
            drawstyle="steps-post",
            marker="o",
            markersize=3,
            label=cid,
        )
    for m in sorted(hp.milestones):
        ax.axhline(m, color="#000000", linestyle="--", linewidth=0.6)
    theme.label_axes(ax, _("Health score over the window"), _("Date"), _("Health score"), y_unit=_("points"))
    ax.legend(title=_("Creator"), fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate()
    sec.figure(fig)
    end = health.sort_values("at").groupby("creator_id").tail(1).sort_values("creator_id")
    return sec.table(
        pd.DataFrame(
            {
                _("Creator"): end["creator_id"].tolist(),
                _("Health score at the end"): [fmt.count(v) for v in end["score"]],
                _("Restriction"): [present.label(_, r) for r in end["restriction"]],
            }
        ),
        _("Health at the end of the window"),
    )


def related_creators(ctx: CaseContext) -> Section:
    """Other creators acted on in the window on the case's product categories (``data["related"]``)."""
    _, fmt, case = ctx._, ctx.fmt, ctx.case
    related = investigate.find_related_creators(case, by="product_category")
    sec = Section(data={"related": related}).markdown("## " + _("Related creators"))
    if related.empty:
        return sec.markdown(_("No other creator was acted on in the same product categories in the window."))
    sec.markdown(
        _(
            "Other creators of {market} acted on in the same window on content of the same product categories as the "
            "case: candidates for a coordinated network or a shared supplier."
        ).format(market=fmt.market_name(case.market))
    )
    return sec.table(
        pd.DataFrame(
            {
                _("Creator"): related["creator_id"].tolist(),
                _("Shared product categories"): [_labels(ctx, s) for s in related["shared"]],
                _("Actions"): [fmt.count(v) for v in related["actions"]],
                _("Policies"): [_labels(ctx, s) for s in related["policies"]],
            }
        ),
        _("Related creators"),
    )


def _labels(ctx: ReportContext, values: str) -> str:
    """A ", "-separated list of enum values, each translated."""
    return ", ".join(present.label(ctx._, v) for v in values.split(", "))
