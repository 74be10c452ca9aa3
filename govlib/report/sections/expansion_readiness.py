"""Sections of the expansion-readiness report (``notebooks/expansion_readiness.ipynb``).

Is each detection and enforcement mechanism of a new market ready, compared with its reference
market? The assessments (:mod:`govlib.analyses.expansion`) are computed once per context by
:func:`assessments`; each section shows one of them. The report's ``reference_market``
parameter is passed to :func:`~govlib.report.sections.open_market_context` as an extra
(``ctx.extra["reference_market"]``; empty means the market's params ``reference_market``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from govlib.analyses import expansion
from govlib.metrics import signals
from govlib.report.sections.base import ReportContext, Section
from govlib.timeutil import month_bounds, shift_month

EVAL_MONTHS = 6  # signal evaluation window: content scored in the 6 local months ending with the report month
THRESHOLD = 0.5  # the signals' operating threshold: flagged when score >= 0.5
MIN_LABELLED, MIN_VIOLATING = 200, 30  # smallest labelled sample per language for a go
MIN_LANGUAGE_SHARE = 0.01  # a language with less content is not a reviewer-coverage gap


@dataclass
class Assessments:
    """What :mod:`govlib.analyses.expansion` found: one frame per mechanism, the gaps and the decisions."""

    ref_code: str
    ref_params: Any
    first_month: str
    labelled: pd.DataFrame
    sig: pd.DataFrame | None
    pol: pd.DataFrame
    rev: pd.DataFrame
    history_weeks: int
    cal: pd.DataFrame
    gaps: pd.DataFrame
    decisions: pd.DataFrame


def _labelled(ctx: ReportContext, ref_code: str, content: pd.DataFrame, start, end) -> pd.DataFrame:
    """Every signal's labelled sample of the market and its reference (latest version of each signal)."""
    from govlib.data.load import load_signal_evaluation_inputs, open_dataset

    cube = ctx.cube
    # Labels come from the dataset, not the cube: labels imported after the month still describe content scored in it.
    ds = open_dataset(ctx.data_dir or None)
    frames = []
    if cube.has("signal_scores") and ds.has("review_labels"):
        for m in (ctx.market, ref_code):
            if m == ctx.market:  # the cube holds the scores of labelled content; its counts cover every score
                sc, ct, lb, counts = (
                    cube.table("signal_scores"),
                    content,
                    ds.load("review_labels", market=m),
                    cube.signal_counts,
                )
            else:
                inputs = load_signal_evaluation_inputs(ds, m, start, end)
                sc, ct, lb, counts = (
                    inputs["signal_scores"],
                    inputs["content"],
                    inputs["review_labels"],
                    inputs["signal_counts"],
                )
            for sig in sorted(set(sc["signal"].dropna())):
                ver = sorted(counts.loc[counts["signal"] == sig, "version"])[
                    -1
                ]  # the latest version of each signal
                frames.append(
                    signals.prepare_signal_labels(
                        sc, lb, ct, signal=sig, version=ver, market=m, start=start, end=end
                    )
                )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=signals.LABEL_COLUMNS)


def _assess(ctx: ReportContext) -> Assessments:
    from govlib.params import load_market

    params, cube = ctx.params, ctx.cube
    ref_code = ctx.extra.get("reference_market") or params.reference_market or ""
    ref_params = load_market(ref_code) if ref_code and ref_code != ctx.market else None
    first_month = shift_month(ctx.month, -(EVAL_MONTHS - 1))
    start, _m_end = month_bounds(first_month, ctx.tz)
    _m_start, end = month_bounds(ctx.month, ctx.tz)
    content = (  # the columns prepare_signal_labels reads: the cube's content is the market's largest table
        cube.table("content", columns=["content_id", "market", "language", "published_at"])
        if cube.has("content")
        else pd.DataFrame(columns=["content_id", "market", "language", "published_at"])
    )
    labelled = (
        _labelled(ctx, ref_code, content, start, end)
        if ref_params
        else pd.DataFrame(columns=signals.LABEL_COLUMNS)
    )
    observed = set()
    for t in ("enforcement_actions", "notices", "review_labels"):
        if cube.has(t):
            observed |= set(cube.table(t, columns=["policy"])["policy"].dropna().astype(str))
    sig = (
        expansion.assess_signal_readiness(
            labelled,
            ctx.market,
            ref_code,
            params.languages,
            ref_params.languages[0],
            threshold=THRESHOLD,
            min_labelled=MIN_LABELLED,
            min_violating=MIN_VIOLATING,
        )
        if ref_params
        else None
    )
    pol = expansion.assess_policy_mapping(params, ref_params, observed)
    rev = expansion.assess_reviewer_coverage(
        params.languages, params.reviewer_languages, content["language"], min_share=MIN_LANGUAGE_SHARE
    )
    history_weeks = expansion.count_history_weeks(cube.content_first_published_at, end)
    cal = expansion.assess_calibration(params, history_weeks)
    gaps = expansion.list_gaps(sig, pol, rev, cal)
    return Assessments(
        ref_code,
        ref_params,
        first_month,
        labelled,
        sig,
        pol,
        rev,
        history_weeks,
        cal,
        gaps,
        expansion.decide_mechanisms(gaps),
    )


def assessments(ctx: ReportContext) -> Assessments:
    """The market's readiness assessments (memoised on the context)."""
    return ctx.memo("expansion_assessments", lambda: _assess(ctx))


def lang_name(ctx: ReportContext, code: str) -> str:
    """A language code's name in the report's locale (the code when Babel has none)."""
    from babel import Locale

    try:
        return Locale.parse(ctx.fmt.locale).languages.get(code, code)
    except Exception:
        return code


def decision_label(ctx: ReportContext, d: str) -> str:
    """ "go" or "no-go", translated."""
    return ctx._("go") if d == "go" else ctx._("no-go")


def intro(ctx: ReportContext) -> Section:
    """Title and what is checked against the reference market."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    sec = Section().markdown(
        "# "
        + _("Expansion readiness: {market}, {month}").format(
            market=fmt.market_name(ctx.market), month=fmt.month(ctx.month)
        )
    )
    if a.ref_params is None:
        return sec.markdown(
            _(
                "This market has no reference market in its params (reference_market): the detection "
                "signals cannot be compared with an established market. The other mechanisms are "
                "still checked."
            )
        )
    return sec.markdown(
        _(
            "Is each detection and enforcement mechanism ready to be relied on in {market}, which launched in {launched}? "
            "Each mechanism is compared with {reference}, where it is established, and gets a go or a no-go: detection "
            "signals (enough labelled examples in the local language, precision and recall not significantly below the "
            "reference), local policies and their DSA categories, the languages reviewers cover, and whether the account "
            "health, alert and severity settings were calibrated on local data. Every no-go is listed at the end with "
            "what to do about it."
        ).format(
            market=fmt.market_name(ctx.market),
            launched=fmt.month(ctx.params.launched),
            reference=fmt.market_name(a.ref_code),
        )
    )


def decisions(ctx: ReportContext) -> Section:
    """Go or no-go per mechanism (``data["decisions"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    d = a.decisions
    sec = Section(data={"decisions": d}).markdown("## " + _("Go or no-go per mechanism"))
    return sec.table(
        pd.DataFrame(
            {
                _("Mechanism"): [_(expansion.MECHANISM_LABELS[m]) for m in d["mechanism"]],
                _("Decision"): [decision_label(ctx, x) for x in d["decision"]],
                _("Gaps"): [fmt.count(n) for n in d["n_gaps"]],
            }
        ),
        _("Readiness of {market} against {reference}").format(
            market=fmt.market_name(ctx.market),
            reference=fmt.market_name(a.ref_code) if a.ref_code else fmt.na,
        ),
    )


def signal_readiness(ctx: ReportContext) -> Section:
    """Each signal's quality per local language against the reference (``data["signals"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    sig = a.sig
    sec = Section(data={"signals": sig}).markdown("## " + _("Detection signals in the local language"))
    if sig is None or sig.empty:
        return sec.markdown(
            _(
                "No signal could be evaluated: there is no reference market or no labelled sample of "
                "scored content."
            )
        )
    sec.markdown(
        _(
            "Each signal on the random quality-assurance sample of content scored from {first} to {last}, at threshold "
            "{threshold}, against {reference} in {ref_language}. A language needs at least {min_labelled} labelled "
            "items, {min_violating} of them violating, and precision and recall that are not significantly (one-sided "
            "test, Holm-adjusted p below 5%) and materially (at least 5 percentage points) below the reference."
        ).format(
            first=fmt.month(a.first_month),
            last=fmt.month(ctx.month),
            threshold=fmt.number(THRESHOLD, 2),
            reference=fmt.market_name(a.ref_code),
            ref_language=lang_name(ctx, a.ref_params.languages[0]),
            min_labelled=fmt.count(MIN_LABELLED),
            min_violating=fmt.count(MIN_VIOLATING),
        )
    )
    return sec.table(
        pd.DataFrame(
            {
                _("Signal"): list(sig["signal"]),
                _("Language"): [lang_name(ctx, x) for x in sig["language"]],
                _("Items reviewed"): [fmt.count(v) for v in sig["n_labelled"]],
                _("Violating"): [fmt.count(v) for v in sig["n_violating"]],
                _("Precision"): [
                    fmt.rate_with_interval(v, lo, hi)
                    for v, lo, hi in zip(sig["precision"], sig["precision_low"], sig["precision_high"])
                ],
                _("Reference precision"): [fmt.percent(v) for v in sig["reference_precision"]],
                _("Recall"): [
                    fmt.rate_with_interval(v, lo, hi)
                    for v, lo, hi in zip(sig["recall"], sig["recall_low"], sig["recall_high"])
                ],
                _("Reference recall"): [fmt.percent(v) for v in sig["reference_recall"]],
                _("Decision"): [decision_label(ctx, d) for d in sig["decision"]],
            }
        ),
        _("Signal quality against the reference market"),
    )


def policy_mapping(ctx: ReportContext) -> Section:
    """Local policies and prohibited categories against the reference, DSA categories (``data["policies"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    pol = a.pol
    sec = Section(data={"policies": pol}).markdown("## " + _("Local policies and DSA categories"))
    sec.markdown(
        _(
            "Every policy used in the market's data needs a DSA category for its statements of reasons. Each local policy "
            "of the reference market (national law) needs a local policy in the same DSA category, and each product "
            "category prohibited there needs to be prohibited here, unless a recorded waiver says why not."
        )
    )
    kind_labels = {
        "observed_policy": _("Policy in the data"),
        "local_policy": _("Local policy"),
        "reference_local_policy": _("Local policy of the reference market"),
        "reference_prohibited_category": _("Prohibited product category of the reference market"),
    }
    status_labels = {
        "mapped": _("mapped"),
        "unmapped": _("no DSA category"),
        "local": _("local"),
        "counterpart": _("local counterpart"),
        "waived": _("waived"),
        "missing": _("missing"),
        "prohibited": _("prohibited here too"),
    }
    shown = pol[pol["kind"] != "observed_policy"]
    if shown.empty:
        sec.markdown(
            _(
                "Neither this market nor its reference market has local policies or prohibited product "
                "categories."
            )
        )
    else:
        sec.table(
            pd.DataFrame(
                {
                    _("Rule"): [kind_labels[k] for k in shown["kind"]],
                    _("Identifier"): [f"`{x}`" for x in shown["item"]],
                    _("DSA category"): [f"`{x}`" for x in shown["category"]],
                    _("Status"): [status_labels[s] for s in shown["status"]],
                    _("Decision"): [decision_label(ctx, d) for d in shown["decision"]],
                }
            ),
            _("Local rules against {reference}").format(
                reference=fmt.market_name(a.ref_code) if a.ref_code else fmt.na
            ),
        )
    unmapped = pol[(pol["kind"] == "observed_policy") & (pol["decision"] == "no_go")]
    return sec.markdown(
        _("All {n} policies used in the data have a DSA category.").format(
            n=fmt.count((pol["kind"] == "observed_policy").sum())
        )
        if unmapped.empty
        else _("{n} policies used in the data have no DSA category.").format(n=fmt.count(len(unmapped)))
    )


def reviewer_coverage(ctx: ReportContext) -> Section:
    """Content languages against reviewer languages (``data["reviewers"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    rev = a.rev
    sec = Section(data={"reviewers": rev}).markdown("## " + _("Reviewer language coverage"))
    return sec.table(
        pd.DataFrame(
            {
                _("Language"): [lang_name(ctx, x) for x in rev["language"]],
                _("Share of content"): [fmt.percent(v) for v in rev["content_share"]],
                _("Reviewers cover it"): [_("yes") if c else _("no") for c in rev["covered"]],
                _("Decision"): [decision_label(ctx, d) for d in rev["decision"]],
            }
        ),
        _("Content languages against reviewer languages ({languages})").format(
            languages=", ".join(lang_name(ctx, x) for x in ctx.params.reviewer_languages) or fmt.na
        ),
    )


def enforcement_thresholds(ctx: ReportContext) -> Section:
    """Whether health, alert and severity settings were calibrated locally (``data["calibration"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    cal = a.cal
    sec = Section(data={"calibration": cal, "history_weeks": a.history_weeks})
    sec.markdown("## " + _("Enforcement thresholds"))
    sec.markdown(
        _(
            "Account health milestones, alert sensitivity and severity weights start from global defaults. They count as "
            "calibrated when the market's params record the month they were last calibrated on local data. Alerts also "
            "need a local history at least as long as their baseline: {market} has {weeks} full weeks of history up to "
            "the end of {month}."
        ).format(
            market=fmt.market_name(ctx.market), weeks=fmt.count(a.history_weeks), month=fmt.month(ctx.month)
        )
    )
    reason_labels = {
        "defaults_uncalibrated": _("global defaults, not calibrated"),
        "short_history": _("history shorter than the alert baseline"),
        "": "–",
    }
    return sec.table(
        pd.DataFrame(
            {
                _("Mechanism"): [_(expansion.MECHANISM_LABELS[m]) for m in cal["mechanism"]],
                _("Differs from the defaults"): [
                    _("yes") if d else _("no") for d in cal["differs_from_default"]
                ],
                _("Calibrated in"): [fmt.month(c) if c else fmt.na for c in cal["calibrated_on"]],
                _("Finding"): [reason_labels[r] for r in cal["reason"]],
                _("Decision"): [decision_label(ctx, d) for d in cal["decision"]],
            }
        ),
        _("Calibration of the enforcement settings"),
    )


def gaps(ctx: ReportContext) -> Section:
    """Every no-go with what to do about it (``data["gaps"]``)."""
    _, fmt, a = ctx._, ctx.fmt, assessments(ctx)
    sec = Section(data={"gaps": a.gaps}).markdown("## " + _("Gaps and what to do"))
    if a.gaps.empty:
        return sec.markdown(_("No gap: every mechanism is ready."))
    described = [
        expansion.describe_gap(r, _, fmt, lambda code: lang_name(ctx, code)) for _i, r in a.gaps.iterrows()
    ]
    return sec.table(
        pd.DataFrame(
            {
                _("Mechanism"): [_(expansion.MECHANISM_LABELS[m]) for m in a.gaps["mechanism"]],
                _("Gap"): [f for f, _a in described],
                _("What to do"): [x for _f, x in described],
            }
        ),
        _("{n} gaps before {market} can rely on these mechanisms").format(
            n=fmt.count(len(a.gaps)), market=fmt.market_name(ctx.market)
        ),
    )
