"""Sections on the quality of the work behind the numbers, shared by several reports.

``label_trust`` ("How far can these labels be trusted": agreement between reviewers and their
accuracy on golden items, from ``qa_reviews``) is shown by the market report and the signal
evaluation; ``time_to_action`` (the distribution of hours to action, SLA shares and the ageing
of open notices) by the market report. Both aggregate on the engine (``ctx.expr``).
"""

from __future__ import annotations

import pandas as pd

from govlib import config
from govlib.dsa import dataset_source, section_available
from govlib.metrics import action_times as m_times
from govlib.metrics import review_quality as m_rq
from govlib.report import present
from govlib.report.sections.base import ReportContext, Section

__all__ = ["label_trust", "time_to_action"]


def _why_not(ctx: ReportContext, section: str, table: str) -> str | None:
    meta = ctx.memo("source_meta", lambda: dataset_source(ctx.data_dir or config.DATA_DIR))
    if not section_available(meta, section):
        return present.not_available_for_source(ctx._, ctx.cube.source)
    if not ctx.cube.has(table):
        return present.not_available(ctx._, table)
    return None


def _kappa_table(ctx: ReportContext, ag: pd.DataFrame) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    one_language = ag.loc[ag["language"] != m_rq.ALL, "language"].nunique() <= 1
    # pooled rows: every policy over all languages, every language over all policies (one language: its pool)
    shown = ag[(ag["language"] == m_rq.ALL) | ((ag["policy"] == m_rq.ALL) & (not one_language))]
    shown = shown[shown["n_items"] >= ctx.min_cell]
    names = {"cohen": _("Cohen's kappa, first vs second review"), "fleiss": _("Fleiss' kappa, three reviews")}
    return pd.DataFrame(
        {
            _("Measure"): [names[m] for m in shown["measure"]],
            _("Policy"): present.label_column(_, shown["policy"]),
            _("Language"): present.label_column(_, shown["language"]),
            _("Items"): [fmt.count(n) for n in shown["n_items"]],
            _("Kappa"): [
                fmt.rate_with_interval(k, lo, hi, digits=2, kind="number")
                for k, lo, hi in zip(shown["kappa"], shown["ci_low"], shown["ci_high"])
            ],
        }
    )


def _accuracy_table(ctx: ReportContext, acc: pd.DataFrame, by: str, title: str) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    return pd.DataFrame(
        {
            title: present.label_column(_, acc[by]) if by != "reviewer" else list(acc[by]),
            _("Golden reviews"): [fmt.count(n) for n in acc["golden_reviews"]],
            _("Accuracy"): [
                fmt.rate_with_interval(a, lo, hi)
                for a, lo, hi in zip(acc["accuracy"], acc["ci_low"], acc["ci_high"])
            ],
        }
    )


def label_trust(ctx: ReportContext) -> Section:
    """How far can these labels be trusted (``data["agreement"]``, ``["accuracy"]``, ``["calibration"]``)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("How far can these labels be trusted"))
    if (why := _why_not(ctx, "review_quality", "qa_reviews")) is not None:
        return s.markdown(why)
    reviews = ctx.expr("qa_reviews")
    ag = m_rq.review_agreement(reviews, ctx.market, ctx.month, ctx.tz)
    dis = m_rq.review_disagreement(reviews, ctx.market, ctx.month, ctx.tz)
    acc = m_rq.reviewer_accuracy(reviews, ctx.market, ctx.month, ctx.tz)
    lang = m_rq.reviewer_accuracy(reviews, ctx.market, ctx.month, ctx.tz, by="language")
    rq = ctx.params.review_quality
    cal = m_rq.reviewers_for_calibration(acc, rq.min_accuracy, rq.min_golden_reviews)
    s.data.update(agreement=ag, disagreement=dis, accuracy=acc, accuracy_by_language=lang, calibration=cal)
    s.markdown(
        _(
            "Every rate in these reports rests on reviewers' labels. Items reviewed twice or three times by different "
            "reviewers show how often reviewers agree beyond chance (kappa: 1 is perfect agreement, 0 no better than "
            "chance; above 0.6 is usually read as substantial); golden items, whose answer is known, show each "
            "reviewer's accuracy. Cohen's kappa has an analytic 95% interval, Fleiss' kappa a bootstrap one; "
            "accuracies have Wilson intervals. Groups with fewer than {n} items are not shown."
        ).format(n=ctx.min_cell)
    )
    if dis["items"] == 0:
        return s.markdown(_("No item had its first QA review this month."))
    if dis["items_multi_reviewed"]:
        s.markdown(
            _(
                "{multi} of {items} items were reviewed more than once; reviewers disagreed on {share} of them."
            ).format(
                multi=fmt.count(dis["items_multi_reviewed"]),
                items=fmt.count(dis["items"]),
                share=fmt.percent(dis["share_disagreed"]),
            )
        )
    if len(ag):
        s.table(_kappa_table(ctx, ag), _("Agreement between reviewers"))
    if len(acc):
        s.table(
            _accuracy_table(ctx, acc, "reviewer", _("Reviewer")), _("Accuracy on golden items by reviewer")
        )
        s.table(
            _accuracy_table(ctx, lang, "language", _("Language")), _("Accuracy on golden items by language")
        )
    if len(cal):
        s.markdown(
            _(
                "Reviewers for calibration (accuracy below {threshold} with at least {n} golden reviews): {names}."
            ).format(
                threshold=fmt.percent(rq.min_accuracy),
                n=rq.min_golden_reviews,
                names=", ".join(cal["reviewer"]),
            )
        )
    else:
        s.markdown(
            _("No reviewer's accuracy was below {threshold} this month.").format(
                threshold=fmt.percent(rq.min_accuracy)
            )
        )
    return s


def _times_table(ctx: ReportContext, d: pd.DataFrame, slas: list[float]) -> pd.DataFrame:
    _, fmt = ctx._, ctx.fmt
    clocks = {"detection": _("From detection"), "notice": _("From notice")}
    out = pd.DataFrame(
        {
            _("Clock"): [clocks[c] for c in d["clock"]],
            _("Policy"): present.label_column(_, d["policy"]),
            _("Source"): present.label_column(_, d["detection_source"]),
            _("Actions"): [fmt.count(n) for n in d["n"]],
            "p50": [fmt.hours(v) for v in d["p50"]],
            "p90": [fmt.hours(v) for v in d["p90"]],
            "p99": [fmt.hours(v) for v in d["p99"]],
        }
    )
    for h in slas:
        out[_("Within {sla}").format(sla=fmt.hours(h, 0))] = [fmt.percent(v) for v in d[f"within_{h:g}h"]]
    return out


def time_to_action(ctx: ReportContext) -> Section:
    """Hours to action as a distribution, SLA shares, open notices' ages (``data["times"]``, ``["ageing"]``)."""
    _, fmt = ctx._, ctx.fmt
    s = Section().markdown("## " + _("Time to action"))
    slas = [float(h) for h in ctx.params.action_sla_hours]
    notices = ctx.expr("notices") if ctx.cube.has("notices") else None
    d = m_times.time_to_action_distribution(
        ctx.expr("enforcement_actions"), notices, ctx.market, ctx.month, ctx.tz, slas
    )
    s.data["times"] = d
    s.markdown(
        _(
            "How long action took, not only the median: half of the actions came within p50 hours, nine in ten within "
            "p90, 99 in 100 within p99. From detection: from first detection or notice to the decision; from notice: "
            "from receipt of a notice to its handling. Shares within each service level of the market ({slas}). "
            "Groups with fewer than {n} actions are not shown."
        ).format(slas=", ".join(fmt.hours(h, 0) for h in slas), n=ctx.min_cell)
    )
    if d.empty:
        return s.markdown(_("No action was taken this month."))
    pooled = d[
        ((d["policy"] == m_times.ALL) | (d["detection_source"] == m_times.ALL)) & (d["n"] >= ctx.min_cell)
    ]
    s.table(_times_table(ctx, pooled, slas), _("Hours to action by detection source and by policy"))
    if notices is not None:
        age = m_times.open_notice_ageing(notices, ctx.market, ctx.month, ctx.tz)
        s.data["ageing"] = age
        shown = age[age["detection_source"] == m_times.ALL]
        if shown.empty:
            return s.markdown(_("No notice was open at the end of the month."))
        names = [_("under 1 day"), _("1-3 days"), _("3-7 days"), _("7-30 days"), _("over 30 days")]
        table = pd.DataFrame(
            {
                _("Policy"): present.label_column(_, shown["policy"]),
                _("Open notices"): [fmt.count(n) for n in shown["open"]],
                _("Median age"): [fmt.hours(v) for v in shown["p50_age_hours"]],
                **{
                    name: [fmt.count(n) for n in shown[b]]
                    for name, (b, _h) in zip(names, m_times.AGE_BUCKETS)
                },
            }
        )
        s.table(table, _("Notices still open at the end of the month, by age"))
    return s
