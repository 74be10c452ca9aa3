"""Sections of the creator health report (``notebooks/creator_health.ipynb``).

Health scores at the end of the month, their distribution by tier, the creators at or below
each milestone, and the early-warning cohort (counts, then pseudonymised examples). The
per-creator ledger and the early-warning list are engine expressions over the cube
(:meth:`ReportContext.expr`), built once per context (:meth:`ReportContext.memo`); what reaches
the kernel is aggregated (score frequencies, milestone counts, counts by reason) plus the ten
pseudonymised examples.
"""

from __future__ import annotations

import pandas as pd

from govlib.metrics import health as m_health
from govlib.metrics.expr import materialise
from govlib.privacy import load_pseudonym_key, pseudonymise, suppress_small_cells
from govlib.report import present, theme
from govlib.report.sections.base import ReportContext, Section
from govlib.timeutil import month_bounds


def month_end(ctx: ReportContext) -> pd.Timestamp:
    """The moment of the scores: the end of the month in the market's time zone."""
    return month_bounds(ctx.month, ctx.tz)[1]


def health_scores(ctx: ReportContext):
    """Every creator's health score at the end of the month, an engine expression (shared by the sections)."""

    def compute():
        ledger = m_health.health_ledger(
            ctx.expr("enforcement_actions"),
            ctx.expr("creators"),
            month_end(ctx),
            ctx.params.health,
            market=ctx.market,
            appeals=ctx.expr("appeals") if ctx.cube.has("appeals") else None,
        )
        return materialise(ledger, "creator_health_ledger")  # read by every section: computed once

    return ctx.memo("health_scores", compute)


def early_warning_list(ctx: ReportContext):
    """The early-warning cohort, one row per creator and reason, an engine expression (shared by the sections)."""
    return ctx.memo(
        "early_warning",
        lambda: m_health.early_warning_table(
            health_scores(ctx), ctx.expr("enforcement_actions"), ctx.params.health, at=month_end(ctx)
        ),
    )


def early_warning_counts(ctx: ReportContext) -> pd.DataFrame:
    """The cohort counted by reason (:func:`govlib.metrics.health.count_early_warning`, shared)."""
    return ctx.memo(
        "early_warning_counts",
        lambda: m_health.count_early_warning(early_warning_list(ctx), health_scores(ctx)),
    )


def intro(ctx: ReportContext) -> Section:
    """Title and how account health works (the market's health settings)."""
    _, fmt, hs = ctx._, ctx.fmt, ctx.params.health
    s = Section()
    s.markdown(
        "# "
        + _("Creator account health: {market}, {month}").format(
            market=fmt.market_name(ctx.market), month=fmt.month(ctx.month)
        )
    )
    s.markdown(
        _(
            "Account health works like a driving licence with points: every creator starts at {start} of {max} points, "
            "each enforcement action deducts its points for {days} days, and milestones trigger restrictions. Violating "
            "the same policy {limit} times in {window} days removes e-commerce permissions whatever the score. Scores are "
            "taken at the end of {month}; creators appear only as counts and pseudonyms."
        ).format(
            start=fmt.count(hs.start_score),
            max=fmt.count(hs.max_score),
            days=fmt.count(hs.deduction_window_days),
            limit=fmt.count(hs.repeat_policy_limit),
            window=fmt.count(hs.repeat_policy_window_days),
            month=fmt.month(ctx.month),
        )
    )
    return s


def score_distribution(ctx: ReportContext) -> Section:
    """Health-score percentiles by creator tier (``data["distribution"]``, before suppression)."""
    _, fmt = ctx._, ctx.fmt
    raw = m_health.summarise_health_distribution(health_scores(ctx), by=("tier",))
    dist = suppress_small_cells(
        raw,
        ["creators", "below_start", "ecommerce_removed"],
        min_cell=ctx.min_cell,
        derived={"creators": ["mean", "p10", "p25", "p50", "p75", "p90", "min"]},
    )
    dist["tier"] = present.label_column(_, dist["tier"])
    dist = present.format_columns(
        fmt,
        dist[["tier", "creators", "p10", "p50", "p90", "below_start", "ecommerce_removed"]],
        {
            "creators": "count",
            "p10": "count",
            "p50": "count",
            "p90": "count",
            "below_start": "count",
            "ecommerce_removed": "count",
        },
        rename={
            "tier": _("Tier"),
            "creators": _("Creators scored"),
            "p10": _("10th percentile"),
            "p50": _("Median"),
            "p90": _("90th percentile"),
            "below_start": _("With live deductions"),
            "ecommerce_removed": _("E-commerce removed"),
        },
    )
    s = Section(data={"distribution": raw})
    s.markdown("## " + _("Score distribution"))
    return s.table(dist, _("Health scores by creator tier"))


def deductions_chart(ctx: ReportContext) -> Section:
    """Histogram of the scores of creators with live deductions, milestones dashed (none below ``min_cell``).

    ``data["deducted"]``: creators per score value below the start score (``score, creators``).
    """
    _, fmt, hs = ctx._, ctx.fmt, ctx.params.health
    counts = m_health.score_counts(health_scores(ctx))
    deducted = counts.loc[counts["score"] < hs.start_score, ["score", "creators"]].reset_index(drop=True)
    s = Section(data={"deducted": deducted})
    s.markdown(
        _(
            "Most creators keep their starting score. The chart shows the scores of creators with live deductions; the "
            "dashed lines are the milestones."
        )
    )
    if int(deducted["creators"].sum()) < ctx.min_cell:
        return s.markdown(
            _("Fewer than {n} creators have live deductions: no chart.").format(n=fmt.count(ctx.min_cell))
        )
    fig, ax = theme.new_figure(height_cm=7)
    ax.hist(deducted["score"], bins=range(0, hs.start_score + 10, 10), weights=deducted["creators"])
    for m in sorted(hs.milestones):
        ax.axvline(m, color=theme.REFERENCE, linestyle="--", linewidth=0.8)
    theme.label_axes(
        ax,
        _("Scores of creators with deductions"),
        _("Health score"),
        _("Creators"),
        x_unit=_("points"),
        y_unit=_("count"),
    )
    return s.figure(fig)


def milestones(ctx: ReportContext) -> Section:
    """Share of active creators at or below each milestone, by tier and overall (``data["milestones"]``)."""
    _, fmt, hs = ctx._, ctx.fmt, ctx.params.health
    scores, at = health_scores(ctx), month_end(ctx)
    active = ctx.expr("content")  # who published lately
    ms = m_health.share_at_or_below_milestones(scores, active, hs, by=("market", "tier"), at=at)
    all_ms = m_health.share_at_or_below_milestones(scores, active, hs, at=at)
    all_ms["tier"] = "(all)"
    raw = pd.concat([ms, all_ms], ignore_index=True)
    ms = suppress_small_cells(
        raw, ["numerator"], min_cell=ctx.min_cell, derived=["value", "ci_low", "ci_high"]
    )
    ms[_("Share of active creators")] = [
        v if isinstance(v, str) else fmt.rate_with_interval(v, lo, hi)
        for v, lo, hi in zip(ms["value"], ms["ci_low"], ms["ci_high"])
    ]
    ms["tier"] = present.label_column(_, ms["tier"])
    ms["restriction"] = present.label_column(_, ms["restriction"])
    ms = present.format_columns(
        fmt,
        ms[["tier", "milestone", "restriction", "numerator", _("Share of active creators")]],
        {"milestone": "count", "numerator": "count"},
        rename={
            "tier": _("Tier"),
            "milestone": _("At or below"),
            "restriction": _("Restriction"),
            "numerator": _("Creators"),
        },
    )
    s = Section(data={"milestones": raw})
    s.markdown("## " + _("Milestones"))
    s.markdown(
        _("Share of active creators (content published in the last 90 days) at or below each milestone.")
    )
    return s.table(ms, _("Creators at or below each milestone, by tier"))


def early_warning(ctx: ReportContext) -> Section:
    """Early-warning cohort counted by reason (``data["counts"]``, before suppression)."""
    _, fmt = ctx._, ctx.fmt
    raw = early_warning_counts(ctx)
    counts = suppress_small_cells(raw, ["creators"], min_cell=ctx.min_cell, derived=["share"])
    counts["reason"] = present.label_column(_, counts["reason"])
    counts = present.format_columns(
        fmt,
        counts[["reason", "creators", "share"]],
        {"creators": "count", "share": "percent"},
        rename={"reason": _("Reason"), "creators": _("Creators"), "share": _("Share of scored creators")},
    )
    s = Section(data={"counts": raw})
    s.markdown("## " + _("Early-warning cohort"))
    s.markdown(
        _(
            "Creators one typical violation away from their next restriction, or one violation away from the repeat-policy "
            "rule. Reaching out to them (policy reminders, training) can prevent the restriction."
        )
    )
    return s.table(counts, _("Early-warning cohort by reason"))


def closest_examples(ctx: ReportContext) -> Section:
    """The ten creators closest to their next milestone, pseudonymised (nothing below ``min_cell``)."""
    _, fmt = ctx._, ctx.fmt
    counts = early_warning_counts(ctx)
    s = Section()
    if int(counts.loc[counts["reason"] != "any", "creators"].sum()) < ctx.min_cell:  # rows of the list
        return s
    ex = m_health.closest_early_warning(early_warning_list(ctx), ctx.params.health, n=10)
    ex["creator"] = pseudonymise(ex["creator_id"], load_pseudonym_key(ctx.data_dir or None))
    ex = ex.sort_values(["points_to_next", "creator"])
    s.data["examples"] = ex.drop(columns=["creator_id"])  # no raw creator ids, even off the page
    for col in ("tier", "reason", "next_restriction"):
        ex[col] = present.label_column(_, ex[col])
    ex = present.format_columns(
        fmt,
        ex[["creator", "tier", "score", "reason", "next_restriction", "points_to_next"]],
        {"score": "count", "points_to_next": "count"},
        rename={
            "creator": _("Creator (pseudonym)"),
            "tier": _("Tier"),
            "score": _("Score"),
            "reason": _("Reason"),
            "next_restriction": _("Next restriction"),
            "points_to_next": _("Points to next milestone"),
        },
    )
    s.markdown(
        _(
            "Examples closest to their next milestone. Pseudonyms are keyed hashes: the outreach team resolves "
            "them with the key; this report carries no creator identity."
        )
    )
    return s.table(ex, _("Closest to the next milestone (pseudonymised)"))
