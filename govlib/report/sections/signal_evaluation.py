"""Sections of the signal-evaluation report (``notebooks/signal_evaluation.ipynb``).

How well the market's main detection signal finds violating content: precision and recall by
language with intervals, transfer gaps against the reference, the precision-recall curve,
calibration and the threshold reaching a target precision. The labelled sample all sections
read is built once per context by :func:`evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlib.metrics import signals
from govlib.report import present, theme
from govlib.report.sections import quality
from govlib.report.sections.base import ReportContext, Section
from govlib.timeutil import month_bounds, shift_month

EVAL_MONTHS = 6  # evaluation window: content scored in the 6 local months ending with the report month
THRESHOLD = 0.5  # the signal's operating threshold: flagged when score >= 0.5
TARGET_PRECISION = 0.9  # precision a threshold must reach to be proposed
N_BINS = 10  # calibration bins of width 0.1
MIN_FLAGGED = 20  # a proposed threshold must flag at least this many reviewed items


@dataclass
class Evaluation:
    """The labelled sample of the report: ``labelled`` (own and reference market rows), ``own``, ``ref``."""

    has_signal: bool
    signal_name: str
    version: str | None
    first_month: str
    ref_market: str | None
    labelled: pd.DataFrame
    own: pd.DataFrame
    ref: pd.DataFrame
    own_languages: list[str]
    ref_language: str | None


def _pick_signal(counts: pd.DataFrame) -> tuple[str, str | None]:
    """The signal with the most scores in the window (ties: first by name) and its latest version."""
    if not len(counts):
        return "", None
    per_signal = counts.groupby("signal")["rows"].sum()
    name = sorted(per_signal[per_signal == per_signal.max()].index)[0]
    return name, sorted(counts.loc[counts["signal"] == name, "version"])[-1]


def _build_evaluation(ctx: ReportContext) -> Evaluation:
    from govlib.data.load import load_signal_evaluation_inputs, open_dataset
    from govlib.params import load_market

    market, params, cube = ctx.market, ctx.params, ctx.cube
    first_month = shift_month(ctx.month, -(EVAL_MONTHS - 1))
    start, _m_end = month_bounds(first_month, ctx.tz)
    _m_start, end = month_bounds(ctx.month, ctx.tz)
    ref_market = (
        params.reference_market if params.reference_market and params.reference_market != market else None
    )
    # Labels are read from the dataset, not the cube: a label reviewed (or imported with 'govlib labels import')
    # after the month still describes content scored in it. The reference market's rows come from the dataset too.
    # Only labelled content is evaluated, so the engine sends only its scores (load_signal_evaluation_inputs).
    ds = open_dataset(ctx.data_dir or None)
    has_signal = cube.has("signal_scores") and ds.has("review_labels")
    frames, signal_name, version = [], "", None
    if has_signal:
        signal_name, version = _pick_signal(cube.signal_counts)  # every score of the window
        for m in [market] + ([ref_market] if ref_market else []):
            if m == market:
                sc, lb = cube.table("signal_scores"), ds.load("review_labels", market=m)
                ct = cube.rows_in(
                    "content", "content_id", sc["content_id"], ["content_id", "market", "language"]
                )
            else:
                inputs = load_signal_evaluation_inputs(ds, m, start, end)
                sc, ct, lb = inputs["signal_scores"], inputs["content"], inputs["review_labels"]
            if signal_name and len(sc) and (sc["signal"] == signal_name).any():
                frames.append(
                    signals.prepare_signal_labels(
                        sc, lb, ct, signal=signal_name, version=version, market=m, start=start, end=end
                    )
                )
    labelled = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=signals.LABEL_COLUMNS)
    own = labelled[labelled["market"] == market]
    ref = labelled[labelled["market"] == ref_market] if ref_market else labelled.iloc[0:0]
    own_languages = [lg for lg in params.languages if (own["language"] == lg).any()]
    ref_language = (
        load_market(ref_market).languages[0]
        if ref_market
        else (own_languages[0] if len(own_languages) > 1 else None)
    )
    return Evaluation(
        has_signal,
        signal_name,
        version,
        first_month,
        ref_market,
        labelled,
        own,
        ref,
        own_languages,
        ref_language,
    )


def evaluation(ctx: ReportContext) -> Evaluation:
    """The report's labelled sample and its groups (memoised on the context)."""
    return ctx.memo("signal_evaluation", lambda: _build_evaluation(ctx))


def lang_name(ctx: ReportContext, code: str) -> str:
    """A language code's name in the report's locale (the code when Babel has none)."""
    from babel import Locale

    try:
        return Locale.parse(ctx.fmt.locale).languages.get(code, code)
    except Exception:
        return code


def group_label(ctx: ReportContext, row_market: str, code: str) -> str:
    """A language of the market, or "language (market)" for the reference market's rows."""
    return (
        lang_name(ctx, code)
        if row_market == ctx.market
        else f"{lang_name(ctx, code)} ({ctx.fmt.market_name(row_market)})"
    )


def intro(ctx: ReportContext) -> Section:
    """Title and what is evaluated (or why nothing can be)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown(
        "# "
        + _("Signal evaluation: {market}, {month}").format(
            market=fmt.market_name(ctx.market), month=fmt.month(ctx.month)
        )
    )
    if not ev.has_signal or ev.own.empty:
        return sec.markdown(
            _(
                "No labelled sample of scored content is available for this market and period, so "
                "the signal cannot be evaluated."
            )
        )
    return sec.markdown(
        _(
            "How well the detection signal {signal} (version {version}) finds violating content in {market}: its "
            "precision (the share of flagged items that reviewers found violating), its recall (the share of violating "
            "items it flags), how far its scores can be read as probabilities, and whether it works as well in the "
            "market's languages as where it was built. Evaluated on the random quality-assurance sample of content "
            "scored from {first} to {last}; an item's latest review is its truth. Shares carry 95% confidence "
            "intervals; an item is flagged when its score is at least {threshold}."
        ).format(
            signal=ev.signal_name,
            version=ev.version,
            market=fmt.market_name(ctx.market),
            first=fmt.month(ev.first_month),
            last=fmt.month(ctx.month),
            threshold=fmt.number(THRESHOLD, 2),
        )
    )


def precision_recall(ctx: ReportContext) -> Section:
    """Precision, recall and F1 at :data:`THRESHOLD` by language (``data["quality"]``)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown("## " + _("Precision and recall by language"))
    if ev.own.empty:
        return sec
    by_lang = signals.evaluate_thresholds(ev.labelled, THRESHOLD, by=["market", "language"])
    overall = signals.evaluate_thresholds(ev.own, THRESHOLD).assign(market=ctx.market, language="(all)")
    parts = [by_lang[by_lang["market"] == ctx.market]] + ([overall] if len(ev.own_languages) > 1 else [])
    table = sec.data["quality"] = pd.concat(
        parts + [by_lang[by_lang["market"] != ctx.market]], ignore_index=True
    )
    return sec.table(
        pd.DataFrame(
            {
                _("Language"): [
                    _("All languages") if lg == "(all)" else group_label(ctx, m, lg)
                    for m, lg in zip(table["market"], table["language"])
                ],
                _("Items reviewed"): [fmt.count(v) for v in table["n_labelled"]],
                _("Violating"): [fmt.count(v) for v in table["n_violating"]],
                _("Flagged"): [fmt.count(v) for v in table["n_flagged"]],
                _("Precision"): [
                    fmt.rate_with_interval(v, lo, hi)
                    for v, lo, hi in zip(table["precision"], table["precision_low"], table["precision_high"])
                ],
                _("Recall"): [
                    fmt.rate_with_interval(v, lo, hi)
                    for v, lo, hi in zip(table["recall"], table["recall_low"], table["recall_high"])
                ],
                _("F1 score"): [fmt.number(v, 2) for v in table["f1"]],
            }
        ),
        _("Signal quality at threshold {threshold}").format(threshold=fmt.number(THRESHOLD, 2)),
    )


def transfer(ctx: ReportContext) -> Section:
    """Transfer gaps of each language against the reference (``data["gaps"]``)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown("## " + _("Does the signal transfer to this market?"))
    if ev.own.empty:
        return sec.markdown(_("Not evaluated: no labelled sample."))
    if ev.ref_language is None:
        return sec.markdown(
            _("This market has one language and no reference market: there is nothing to compare with.")
        )
    res = signals.evaluate_thresholds(ev.labelled, THRESHOLD, by=["market", "language"])
    ref_rows = res[(res["market"] == (ev.ref_market or ctx.market)) & (res["language"] == ev.ref_language)]
    cmp_rows = res[
        (res["market"] == ctx.market) & (res["language"] != ev.ref_language if not ev.ref_market else True)
    ]
    if ref_rows.empty or cmp_rows.empty:
        return sec.markdown(
            _("The reference has no labelled sample in this period: the comparison is not possible.")
        )
    both = pd.concat([ref_rows.assign(group="reference"), cmp_rows.assign(group=cmp_rows["language"])])
    gaps = sec.data["gaps"] = signals.flag_transfer_gaps(both, "reference", by="group")
    ref_name = group_label(ctx, ev.ref_market or ctx.market, ev.ref_language)
    sec.markdown(
        _(
            "Each language of {market} against {reference}, where the signal is best established. A gap is flagged "
            "when the shortfall is at least 5 percentage points and significant (one-sided two-proportion test, "
            "Holm-adjusted p below 5%)."
        ).format(market=fmt.market_name(ctx.market), reference=ref_name)
    )
    sec.table(
        pd.DataFrame(
            {
                _("Language"): [lang_name(ctx, g) for g in gaps["group"]],
                _("Indicator"): [_("Precision") if m == "precision" else _("Recall") for m in gaps["metric"]],
                _("Value"): [fmt.percent(v) for v in gaps["value"]],
                _("Reference"): [fmt.percent(v) for v in gaps["reference_value"]],
                _("Gap"): [_("{value} pp").format(value=fmt.number(g * 100, 1)) for g in gaps["gap"]],
                _("Adjusted p-value"): [fmt.number(p, 3) for p in gaps["pvalue_adjusted"]],
                _("Gap flagged"): [_("yes") if f else _("no") for f in gaps["flagged"]],
            }
        ),
        _("Transfer gaps against {reference}").format(reference=ref_name),
    )
    flagged = gaps[gaps["flagged"]]
    if flagged.empty:
        return sec.markdown(
            _("No significant transfer gap: the signal works about as well here as in the reference.")
        )
    for g, rows in flagged.groupby("group", sort=True):
        what = " " + _("and") + " "
        sec.markdown(
            _(
                "**The signal does not transfer to {language}**: its {metrics} are significantly below the "
                "reference. Do not rely on it for automated enforcement in this language before it is "
                "retrained or recalibrated on local labelled data."
            ).format(
                language=lang_name(ctx, g),
                metrics=what.join(
                    _("precision") if m == "precision" else _("recall") for m in rows["metric"]
                ),
            )
        )
    return sec


def pr_curve(ctx: ReportContext) -> Section:
    """Precision-recall curves per language with the operating point (``data["average_precision"]``)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown("## " + _("Precision-recall curve"))
    if ev.own.empty:
        return sec
    sec.markdown(
        _(
            "Precision and recall at every threshold: moving the threshold up trades recall for precision. The dot "
            "marks the operating threshold {threshold}. Average precision summarises the curve (1 is perfect)."
        ).format(threshold=fmt.number(THRESHOLD, 2))
    )
    fig, ax = theme.new_figure(height_cm=8)
    groups = [(ctx.market, lg) for lg in ev.own_languages] + (
        [(ev.ref_market, ev.ref_language)] if ev.ref_market and len(ev.ref) else []
    )
    ap_rows = []
    for m, lg in groups:
        d = ev.labelled[(ev.labelled["market"] == m) & (ev.labelled["language"] == lg)]
        curve = signals.compute_pr_curve(d["is_violating"], d["score"])
        ap = signals.compute_average_precision(d["is_violating"], d["score"])
        ap_rows.append({"market": m, "language": lg, "average_precision": ap})
        (line,) = ax.plot(
            curve["recall"] * 100,
            curve["precision"] * 100,
            drawstyle="steps-post",
            label=_("{group}, average precision {ap}").format(
                group=group_label(ctx, m, lg), ap=fmt.number(ap, 2)
            ),
        )
        at = signals.count_confusion(d["is_violating"], d["score"], THRESHOLD).iloc[0]
        if at["n_flagged"] and at["n_violating"]:
            ax.plot(
                at["tp"] / at["n_violating"] * 100,
                at["tp"] / at["n_flagged"] * 100,
                "o",
                color=line.get_color(),
            )
    sec.data["average_precision"] = pd.DataFrame(ap_rows, columns=["market", "language", "average_precision"])
    ax.set_xlim(0, 101)
    ax.set_ylim(0, 101)
    ax.legend(fontsize="small", loc="lower left")
    theme.label_axes(ax, _("Precision against recall"), _("Recall"), _("Precision"), x_unit="%", y_unit="%")
    return sec.figure(fig)


def calibration(ctx: ReportContext) -> Section:
    """Observed violating share by score bin, with intervals (``data["calibration"]``, every bin)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown("## " + _("Calibration"))
    if ev.own.empty:
        return sec
    cal = sec.data["calibration"] = signals.compute_calibration(
        ev.own["is_violating"], ev.own["score"], n_bins=N_BINS
    )
    sec.markdown(
        _(
            "Reviewed items grouped by score: in a calibrated signal, items scored about 0.7 are violating about 70% "
            "of the time (points on the diagonal). Bars are 95% confidence intervals."
        )
    )
    shown = cal[cal["n"] > 0]
    fig, ax = theme.new_figure(width="half", height_cm=7.5)
    ax.plot([0, 100], [0, 100], color="#000000", linewidth=0.6, linestyle="--")
    # Wilson bounds can sit a rounding error past the estimate at 0 or 1: clip so error bars are never negative
    yerr = np.clip(
        np.vstack(
            [
                (shown["observed_rate"] - shown["ci_low"]) * 100,
                (shown["ci_high"] - shown["observed_rate"]) * 100,
            ]
        ),
        0,
        None,
    )
    ax.errorbar(shown["mean_score"] * 100, shown["observed_rate"] * 100, yerr=yerr, fmt="o", markersize=3)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    theme.label_axes(
        ax, _("Calibration of the scores"), _("Mean score"), _("Share violating"), x_unit="%", y_unit="%"
    )
    sec.figure(fig)
    return sec.table(
        pd.DataFrame(
            {
                _("Score from"): [fmt.number(v, 1) for v in shown["lower"]],
                _("Score to"): [fmt.number(v, 1) for v in shown["upper"]],
                _("Items reviewed"): [fmt.count(v) for v in shown["n"]],
                _("Mean score"): [fmt.number(v, 2) for v in shown["mean_score"]],
                _("Share violating"): [
                    fmt.rate_with_interval(v, lo, hi)
                    for v, lo, hi in zip(shown["observed_rate"], shown["ci_low"], shown["ci_high"])
                ],
            }
        ),
        _("Calibration table"),
    )


def target_threshold(ctx: ReportContext) -> Section:
    """Lowest threshold reaching :data:`TARGET_PRECISION` per language (``data["thresholds"]``)."""
    _, fmt, ev = ctx._, ctx.fmt, evaluation(ctx)
    sec = Section().markdown("## " + _("Threshold for a target precision"))
    if ev.own.empty:
        return sec
    rows, raw = [], []
    for lg in ev.own_languages:
        d = ev.own[ev.own["language"] == lg]
        for crit, name in (("estimate", _("estimate")), ("lower_bound", _("lower confidence bound"))):
            r = signals.find_threshold_for_precision(
                d["is_violating"], d["score"], TARGET_PRECISION, criterion=crit, min_flagged=MIN_FLAGGED
            ).iloc[0]
            raw.append({"language": lg, "criterion": crit, **r.to_dict()})
            threshold = fmt.number(r["threshold"], 2) if not present.is_nan(r["threshold"]) else fmt.na
            rows.append(
                {
                    _("Language"): lang_name(ctx, lg),
                    _("Precision reaches the target by its"): name,
                    _("Threshold"): threshold,
                    _("Precision"): fmt.rate_with_interval(
                        r["precision"], r["precision_low"], r["precision_high"]
                    ),
                    _("Recall kept"): fmt.rate_with_interval(r["recall"], r["recall_low"], r["recall_high"]),
                }
            )
    sec.data["thresholds"] = pd.DataFrame(raw)
    sec.markdown(
        _(
            "The lowest threshold at which precision reaches {target} while flagging at least {min} reviewed items, and "
            "the recall it keeps. The conservative choice asks the lower end of the 95% interval to reach the target. "
            '"{na}" means no threshold reaches it.'
        ).format(target=fmt.percent(TARGET_PRECISION, 0), min=fmt.count(MIN_FLAGGED), na=fmt.na)
    )
    return sec.table(
        pd.DataFrame(rows),
        _("Thresholds reaching {target} precision").format(target=fmt.percent(TARGET_PRECISION, 0)),
    )


def label_trust(ctx: ReportContext) -> Section:
    """How far can these labels be trusted: the reviewers behind the evaluation's labels (:func:`.quality.label_trust`)."""
    return quality.label_trust(ctx)
