"""Expansion readiness: is each detection and enforcement mechanism ready for a new market?

A new market (PL in the demo) is compared with its *reference market* (``reference_market``
in ``params/markets/<CC>.yaml``, DE for PL), where the mechanisms are established. Each
mechanism gets a **go** or **no-go** and every no-go comes with the gap and what to do
about it (``docs/localisation.md``):

* ``detection_signal`` - per signal and local language: enough labelled examples in the
  language, and precision and recall not significantly and materially below the reference
  market's main language (:func:`govlib.metrics.signals.evaluate_thresholds`,
  :func:`govlib.metrics.signals.flag_transfer_gaps`);
* ``policy_mapping`` - every policy seen in the market's data has a DSA category; every
  local policy of the reference market has a local counterpart in the same DSA category,
  and every prohibited product category of the reference market is prohibited here too,
  unless a waiver records why not (``local_policy_waivers``);
* ``reviewer_coverage`` - every language content is published in is a reviewer language;
* ``health_thresholds``, ``alert_sensitivity``, ``severity_weights`` - the settings were
  calibrated on local data (``calibrated_on``), not just copied from the global defaults,
  and there is enough local history for the alarm baseline.

Functions
---------
is_expansion_market
    Whether a market gets the readiness report in a month (used by the report runner).
assess_signal_readiness
    Labelled examples and precision/recall per signal and local language against the reference.
assess_policy_mapping
    Policies without a DSA category, reference local rules without a local counterpart.
assess_reviewer_coverage
    Market languages against reviewer languages.
count_history_weeks
    Full weeks of local data before the end of the report month.
assess_calibration
    Health, alert and severity settings: calibrated on local data, or defaults; history length.
decide_mechanisms
    One go/no-go row per mechanism.
list_gaps
    The no-go findings with what to do about each.
describe_gap
    Translated finding and action texts of one gap row (for reports).

All functions are pure: params objects and DataFrames in, DataFrames out; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from govlib.contract import POLICY_DSA_CATEGORY
from govlib.errors import GovlibError
from govlib.metrics import signals
from govlib.params import AlertSettings, HealthSettings, MarketParams
from govlib.text import N_
from govlib.timeutil import parse_month

__all__ = [
    "GAP_COLUMNS",
    "MECHANISMS",
    "ExpansionInputError",
    "assess_calibration",
    "assess_policy_mapping",
    "assess_reviewer_coverage",
    "assess_signal_readiness",
    "count_history_weeks",
    "decide_mechanisms",
    "describe_gap",
    "is_expansion_market",
    "list_gaps",
]

GO, NO_GO = "go", "no_go"
MECHANISMS: tuple[str, ...] = (
    "detection_signal",
    "policy_mapping",
    "reviewer_coverage",
    "health_thresholds",
    "alert_sensitivity",
    "severity_weights",
)
MECHANISM_LABELS: dict[str, str] = {
    "detection_signal": N_("Detection signals"),
    "policy_mapping": N_("Local policies and DSA mapping"),
    "reviewer_coverage": N_("Reviewer language coverage"),
    "health_thresholds": N_("Account health thresholds"),
    "alert_sensitivity": N_("Emerging-risk alert sensitivity"),
    "severity_weights": N_("Severity weights"),
}
GAP_COLUMNS = ["mechanism", "item", "reason", "decision"]

# reason code -> (finding, action); placeholders are filled by describe_gap from the gap row
REASONS: dict[str, tuple[str, str]] = {
    "too_few_labels": (
        N_(
            "{item}: only {n_labelled} labelled examples ({n_violating} violating) in the local language; at least "
            "{min_labelled} ({min_violating} violating) are needed to measure precision and recall."
        ),
        N_("Label a random quality-assurance sample of local-language content before relying on the signal."),
    ),
    "transfer_gap": (
        N_(
            "{item}: {metrics} significantly below the reference (precision {precision} against {ref_precision}, "
            "recall {recall} against {ref_recall})."
        ),
        N_(
            "Do not use the signal for automated enforcement in this language: retrain or recalibrate it on local "
            "labelled data and route its flags to human review meanwhile."
        ),
    ),
    "no_reference_sample": (
        N_("{item}: the reference market has no labelled sample to compare with."),
        N_("Evaluate the signal in the reference market first, or choose another reference market."),
    ),
    "unmapped_policy": (
        N_("Policy {item} is used in this market's data but has no DSA category."),
        N_("Add it to local_policies with its DSA category, or correct the policy name in the data."),
    ),
    "no_local_counterpart": (
        N_("The reference market's local policy {item} ({category}) has no local counterpart."),
        N_(
            "Check the local law: add a local policy mapped to the same DSA category, or record in "
            "local_policy_waivers why none is needed."
        ),
    ),
    "product_not_prohibited": (
        N_("Product category {item} is prohibited in the reference market but not here."),
        N_(
            "Check the local law: add it to prohibited_product_categories, or record in local_policy_waivers why it "
            "is allowed."
        ),
    ),
    "language_not_covered": (
        N_("Language {item} ({share} of content) is not among the reviewers' languages."),
        N_(
            "Hire or train reviewers for this language, or contract a vendor, before enforcement relies on human "
            "review."
        ),
    ),
    "defaults_uncalibrated": (
        N_("{item}: global default settings, never calibrated on local data."),
        N_(
            "Calibrate on local data (backtest the thresholds on the market's history and labels), then record the "
            "month in calibrated_on."
        ),
    ),
    "short_history": (
        N_(
            "{item}: {weeks} weeks of local history, fewer than the {required} weeks the alert baseline needs."
        ),
        N_(
            "Treat alerts as provisional until the history is long enough, or borrow the reference market's "
            "baseline shape."
        ),
    ),
}


class ExpansionInputError(GovlibError):
    """Inputs of the expansion readiness checks are missing or inconsistent."""


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)) if rows else pd.DataFrame(columns=list(columns))


# ---------------------------------------------------------------------------------------------
# which markets
# ---------------------------------------------------------------------------------------------


def is_expansion_market(params: MarketParams, month: str, within_months: int = 12) -> bool:
    """Whether ``params``' market gets the expansion readiness report for ``month``.

    True when the market has a ``reference_market`` (other than itself) and launched at
    most ``within_months`` months before ``month`` (launch month = month 0), and not after it.

    Parameters
    ----------
    params : MarketParams
    month : str
        Report month, ``YYYY-MM``.
    within_months : int, default 12
        ``ReportsParams.expansion_months``.
    """
    month = parse_month(month)
    if not params.reference_market or params.reference_market == params.code:
        return False
    launched = parse_month(params.launched)
    y1, m1 = map(int, launched.split("-"))
    y2, m2 = map(int, month.split("-"))
    age = (y2 - y1) * 12 + (m2 - m1)
    return 0 <= age <= within_months


# ---------------------------------------------------------------------------------------------
# detection signals
# ---------------------------------------------------------------------------------------------

SIGNAL_COLUMNS = [
    "signal",
    "language",
    "n_labelled",
    "n_violating",
    "n_flagged",
    "precision",
    "precision_low",
    "precision_high",
    "recall",
    "recall_low",
    "recall_high",
    "reference_market",
    "reference_language",
    "reference_n_labelled",
    "reference_precision",
    "reference_recall",
    "precision_pvalue",
    "recall_pvalue",
    "precision_gap_flagged",
    "recall_gap_flagged",
    "enough_labels",
    "min_labelled",
    "min_violating",
    "decision",
    "reason",
]


def _gap_of(gaps: pd.DataFrame, metric: str) -> tuple[bool, float]:
    """(flagged, adjusted p-value) of one metric in a group's flag_transfer_gaps rows."""
    s = gaps[gaps["metric"] == metric] if len(gaps) else gaps
    return (bool(s["flagged"].iloc[0]), float(s["pvalue_adjusted"].iloc[0])) if len(s) else (False, math.nan)


def _evaluate_signal(
    d: pd.DataFrame,
    market: str,
    reference_market: str,
    reference_language: str,
    threshold: float,
    alpha: float,
    min_gap: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """One signal's precision/recall per group (reference and the market's languages) and its transfer gaps.

    Returns the evaluation per group, the flagged gaps (empty without both samples) and the
    reference row (None when the reference has no labelled items).
    """
    ref = d[(d["market"] == reference_market) & (d["language"] == reference_language)]
    own = d[d["market"] == market]
    frame = pd.concat(
        [ref.assign(group="__reference__"), own.assign(group=own["language"].astype(str))],
        ignore_index=True,
    )
    ev = signals.evaluate_thresholds(frame, threshold, by="group") if len(frame) else pd.DataFrame()
    gaps = pd.DataFrame()
    if len(ref) and len(own):
        gaps = signals.flag_transfer_gaps(ev, "__reference__", by="group", alpha=alpha, min_gap=min_gap)
    ref_row = ev[ev["group"] == "__reference__"].iloc[0] if len(ref) else None
    return ev, gaps, ref_row


def _readiness_row(
    sig: str,
    lg: str,
    ev: pd.DataFrame,
    gaps: pd.DataFrame,
    ref_row: pd.Series | None,
    reference_market: str,
    reference_language: str,
    min_labelled: int,
    min_violating: int,
) -> dict:
    """One signal x language row of :func:`assess_signal_readiness`, with its go/no-go decision."""
    r = ev[ev["group"] == lg].iloc[0] if len(ev) and (ev["group"] == lg).any() else None
    g = gaps[gaps["group"] == lg] if len(gaps) else gaps

    p_flag, p_p = _gap_of(g, "precision")
    r_flag, r_p = _gap_of(g, "recall")
    n_lab = int(r["n_labelled"]) if r is not None else 0
    n_vio = int(r["n_violating"]) if r is not None else 0
    enough = n_lab >= min_labelled and n_vio >= min_violating
    if not enough:
        decision, reason = NO_GO, "too_few_labels"
    elif ref_row is None:
        decision, reason = NO_GO, "no_reference_sample"
    elif p_flag or r_flag:
        decision, reason = NO_GO, "transfer_gap"
    else:
        decision, reason = GO, ""
    return {
        "signal": sig,
        "language": lg,
        "n_labelled": n_lab,
        "n_violating": n_vio,
        "n_flagged": int(r["n_flagged"]) if r is not None else 0,
        **{
            k: float(r[k]) if r is not None else math.nan
            for k in (
                "precision",
                "precision_low",
                "precision_high",
                "recall",
                "recall_low",
                "recall_high",
            )
        },
        "reference_market": reference_market,
        "reference_language": reference_language,
        "reference_n_labelled": int(ref_row["n_labelled"]) if ref_row is not None else 0,
        "reference_precision": float(ref_row["precision"]) if ref_row is not None else math.nan,
        "reference_recall": float(ref_row["recall"]) if ref_row is not None else math.nan,
        "precision_pvalue": p_p,
        "recall_pvalue": r_p,
        "precision_gap_flagged": p_flag,
        "recall_gap_flagged": r_flag,
        "enough_labels": enough,
        "min_labelled": int(min_labelled),
        "min_violating": int(min_violating),
        "decision": decision,
        "reason": reason,
    }


def assess_signal_readiness(
    labelled: pd.DataFrame,
    market: str,
    reference_market: str,
    languages: Sequence[str],
    reference_language: str,
    threshold: float = 0.5,
    min_labelled: int = 200,
    min_violating: int = 30,
    alpha: float = 0.05,
    min_gap: float = 0.05,
) -> pd.DataFrame:
    """Per signal and local language: labelled examples and precision/recall against the reference.

    The reference is the reference market's main language (``reference_language``) in
    ``reference_market``, where the signal is established. Decision per row:

    * **no-go, too_few_labels** - fewer than ``min_labelled`` labelled items or fewer than
      ``min_violating`` violating ones in the language: quality cannot be shown;
    * **no-go, transfer_gap** - precision or recall is flagged by
      :func:`govlib.metrics.signals.flag_transfer_gaps` (one-sided two-proportion score test, Holm
      adjustment over the market's languages x {precision, recall}, shortfall at least
      ``min_gap``);
    * **no-go, no_reference_sample** - the reference has no labelled items;
    * **go** otherwise.

    Parameters
    ----------
    labelled : DataFrame
        :func:`govlib.metrics.signals.prepare_signal_labels` rows of both markets (columns ``signal,
        market, language, score, is_violating``), from the random QA sample.
    market, reference_market : str
    languages : list of str
        The market's languages (``MarketParams.languages``); a language without labelled
        items gets a row with zero counts (no-go).
    reference_language : str
        Usually ``load_market(reference_market).languages[0]``.
    threshold : float, default 0.5
        Operating threshold: flagged when ``score >= threshold``.
    min_labelled, min_violating : int, default 200 and 30
        Smallest sample for a go. With 30 violating items a Wilson 95% interval of a recall
        near 0.9 is about +-0.11 wide.
    alpha, min_gap : float, default 0.05 and 0.05
        Passed to :func:`govlib.metrics.signals.flag_transfer_gaps`.

    Returns
    -------
    DataFrame
        One row per signal and language, columns ``SIGNAL_COLUMNS``; rates NaN when their
        denominator is empty.

    Notes
    -----
    Precision = TP / flagged, recall = TP / violating, on the QA sample (see
    :mod:`govlib.metrics.signals` for why targeted labels are excluded).
    """
    need = ["signal", "market", "language", "score", "is_violating"]
    missing = [c for c in need if c not in labelled.columns]
    if missing:
        raise ExpansionInputError(
            f"labelled sample lacks column(s) {', '.join(missing)}; build it with govlib.metrics.signals.prepare_signal_labels"
        )
    rows = []
    for sig in sorted(labelled["signal"].dropna().astype(str).unique()):
        d = labelled[labelled["signal"].astype(str) == sig]
        ev, gaps, ref_row = _evaluate_signal(
            d, market, reference_market, reference_language, threshold, alpha, min_gap
        )
        for lg in languages:
            rows.append(
                _readiness_row(
                    sig,
                    lg,
                    ev,
                    gaps,
                    ref_row,
                    reference_market,
                    reference_language,
                    min_labelled,
                    min_violating,
                )
            )
    return _frame(rows, SIGNAL_COLUMNS)


# ---------------------------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------------------------

POLICY_COLUMNS = ["kind", "item", "category", "status", "decision", "reason"]


def assess_policy_mapping(
    params: MarketParams,
    reference: MarketParams | None,
    observed_policies: Iterable[str] = (),
) -> pd.DataFrame:
    """Policies without a local mapping: what enforcement in the new market cannot yet classify.

    Rows (``kind``):

    * ``observed_policy`` - each distinct policy in the market's data (actions, notices,
      labels): **no-go** ``unmapped_policy`` when it is neither in the taxonomy
      (:data:`govlib.contract.POLICY_DSA_CATEGORY`) nor a local policy, because its
      statements of reasons would have no DSA category;
    * ``reference_local_policy`` - each local policy of the reference market: **go** when
      the market has a local policy mapped to the same DSA category (status
      ``counterpart``) or a waiver (``waived``), else **no-go** ``no_local_counterpart``;
    * ``reference_prohibited_category`` - each prohibited product category of the
      reference market: **go** when also prohibited here or waived, else **no-go**
      ``product_not_prohibited``;
    * ``local_policy`` - each of the market's own local policies with its category (**go**).

    Parameters
    ----------
    params : MarketParams
        The new market.
    reference : MarketParams or None
        Its reference market; None checks only the observed policies.
    observed_policies : iterable of str
        Policy values found in the market's data; missing values are ignored.
    """
    rows = []
    local = dict(params.local_policies)
    waivers = dict(params.local_policy_waivers)
    for pol in sorted({str(p) for p in observed_policies if p is not None and not pd.isna(p)}):
        cat = local.get(pol, POLICY_DSA_CATEGORY.get(pol))
        rows.append(
            {
                "kind": "observed_policy",
                "item": pol,
                "category": cat or "",
                "status": "mapped" if cat else "unmapped",
                "decision": GO if cat else NO_GO,
                "reason": "" if cat else "unmapped_policy",
            }
        )
    for pol, cat in sorted(local.items()):
        rows.append(
            {
                "kind": "local_policy",
                "item": pol,
                "category": cat,
                "status": "local",
                "decision": GO,
                "reason": "",
            }
        )
    if reference is not None:
        own_cats = set(local.values())
        for pol, cat in sorted(reference.local_policies.items()):
            if pol in waivers:
                status = "waived"
            elif cat in own_cats:
                status = "counterpart"
            else:
                status = "missing"
            rows.append(
                {
                    "kind": "reference_local_policy",
                    "item": pol,
                    "category": cat,
                    "status": status,
                    "decision": NO_GO if status == "missing" else GO,
                    "reason": "no_local_counterpart" if status == "missing" else "",
                }
            )
        own_products = set(params.prohibited_product_categories)
        for prod in sorted(set(reference.prohibited_product_categories)):
            status = "prohibited" if prod in own_products else ("waived" if prod in waivers else "missing")
            rows.append(
                {
                    "kind": "reference_prohibited_category",
                    "item": prod,
                    "category": POLICY_DSA_CATEGORY["prohibited_product"],
                    "status": status,
                    "decision": NO_GO if status == "missing" else GO,
                    "reason": "product_not_prohibited" if status == "missing" else "",
                }
            )
    return _frame(rows, POLICY_COLUMNS)


# ---------------------------------------------------------------------------------------------
# reviewers
# ---------------------------------------------------------------------------------------------

REVIEWER_COLUMNS = ["language", "content_share", "covered", "decision", "reason"]


def assess_reviewer_coverage(
    languages: Sequence[str],
    reviewer_languages: Sequence[str],
    content_languages: pd.Series | None = None,
    min_share: float = 0.01,
) -> pd.DataFrame:
    """Market languages against the languages its reviewers work in.

    A language is a gap (**no-go**, ``language_not_covered``) when it is not in
    ``reviewer_languages`` and carries at least ``min_share`` of the market's content (or,
    without content data, whenever it is one of the market's languages). Languages that
    appear in the content but not in ``languages`` are added, so params that forgot a
    language do not hide it.

    Parameters
    ----------
    languages : list of str
        ``MarketParams.languages`` (ISO 639-1).
    reviewer_languages : list of str
        ``MarketParams.reviewer_languages``.
    content_languages : Series, optional
        The ``language`` column of the market's content; gives each language's share
        (denominator: items with a language). Without it the share is NaN.
    min_share : float, default 0.01
        Languages below this share of content are reported but not a gap.
    """
    reviewers = {str(x).lower() for x in reviewer_languages}
    shares: dict[str, float] = {}
    if content_languages is not None:
        s = content_languages.dropna().astype(str).str.lower()
        if len(s):
            shares = (s.value_counts() / len(s)).to_dict()
    langs = list(dict.fromkeys([str(x).lower() for x in languages] + sorted(shares)))
    rows = []
    for lg in langs:
        share = float(shares.get(lg, 0.0)) if content_languages is not None else math.nan
        covered = lg in reviewers
        material = math.isnan(share) or share >= min_share
        gap = not covered and material
        rows.append(
            {
                "language": lg,
                "content_share": share,
                "covered": covered,
                "decision": NO_GO if gap else GO,
                "reason": "language_not_covered" if gap else "",
            }
        )
    return _frame(rows, REVIEWER_COLUMNS)


# ---------------------------------------------------------------------------------------------
# enforcement thresholds
# ---------------------------------------------------------------------------------------------

CALIBRATION_COLUMNS = [
    "mechanism",
    "group",
    "differs_from_default",
    "calibrated_on",
    "history_weeks",
    "required_weeks",
    "decision",
    "reason",
]
_GROUP_MECHANISM = {
    "health": "health_thresholds",
    "alerts": "alert_sensitivity",
    "severity_weights": "severity_weights",
}


def count_history_weeks(first_activity: Any, month_end: Any) -> int:
    """Full weeks (7 days) from a market's first activity to the end of the report month.

    Parameters
    ----------
    first_activity : timestamp or None
        Earliest local activity of the market (e.g. the first ``published_at``). None or
        NaT gives 0.
    month_end : timestamp
        Exclusive end of the report month (:func:`govlib.timeutil.month_bounds`).
    """
    if first_activity is None or pd.isna(first_activity):
        return 0
    days = (pd.Timestamp(month_end) - pd.Timestamp(first_activity)) / pd.Timedelta(days=1)
    return max(0, math.floor(days / 7.0))


def _default_severity_weights() -> dict[str, float]:
    return MarketParams.model_fields["severity_weights"].default_factory()


def assess_calibration(params: MarketParams, history_weeks: int) -> pd.DataFrame:
    """Health, alert and severity settings of a market: calibrated locally, or global defaults?

    For each settings group (``health`` -> mechanism ``health_thresholds``, ``alerts`` ->
    ``alert_sensitivity``, ``severity_weights``):

    * **no-go, defaults_uncalibrated** - the group has no ``calibrated_on`` month in the
      market's params *and* equals the global defaults (the schema defaults of
      :class:`govlib.params.HealthSettings`, :class:`~govlib.params.AlertSettings` and
      ``MarketParams.severity_weights``): they were copied, not fitted. Settings that differ
      from the defaults without a ``calibrated_on`` month are taken as locally set (go);
    * **no-go, short_history** (alerts only) - fewer than ``baseline_weeks +
      current_weeks`` weeks of local history: the alarm baseline of
      :func:`govlib.metrics.trends.detect_emerging_risks` is shorter than configured, so alarms
      rest on a few weeks. Checked even when the settings are calibrated;
    * **go** otherwise. A group can have two rows (alerts: defaults and short history).

    Parameters
    ----------
    params : MarketParams
    history_weeks : int
        From :func:`count_history_weeks`.
    """
    groups = {
        "health": (params.health.model_dump(), HealthSettings().model_dump()),
        "alerts": (params.alerts.model_dump(), AlertSettings().model_dump()),
        "severity_weights": (dict(params.severity_weights), _default_severity_weights()),
    }
    required = params.alerts.baseline_weeks + params.alerts.current_weeks
    rows = []
    for group, (value, default) in groups.items():
        mech = _GROUP_MECHANISM[group]
        differs = value != default
        cal = params.calibrated_on.get(group, "")
        base = {
            "mechanism": mech,
            "group": group,
            "differs_from_default": differs,
            "calibrated_on": cal,
            "history_weeks": int(history_weeks),
            "required_weeks": required if group == "alerts" else 0,
        }
        if not cal and not differs:
            rows.append({**base, "decision": NO_GO, "reason": "defaults_uncalibrated"})
        if group == "alerts" and history_weeks < required:
            rows.append({**base, "decision": NO_GO, "reason": "short_history"})
        if not any(r["group"] == group for r in rows):
            rows.append({**base, "decision": GO, "reason": ""})
    return _frame(rows, CALIBRATION_COLUMNS)


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------


def list_gaps(
    signal: pd.DataFrame | None = None,
    policies: pd.DataFrame | None = None,
    reviewers: pd.DataFrame | None = None,
    calibration: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The no-go findings of the four assessments, one row each, in mechanism order.

    Returns
    -------
    DataFrame
        ``mechanism, item, reason, decision`` plus the fields :func:`describe_gap` needs
        (counts, rates, shares, weeks), NaN where a field does not apply.
    """
    parts = []
    if signal is not None and len(signal):
        s = signal[signal["decision"] == NO_GO]
        parts.append(
            s.assign(
                mechanism="detection_signal", item=s["signal"].astype(str) + " / " + s["language"].astype(str)
            )
        )
    if policies is not None and len(policies):
        s = policies[policies["decision"] == NO_GO]
        parts.append(s.assign(mechanism="policy_mapping"))
    if reviewers is not None and len(reviewers):
        s = reviewers[reviewers["decision"] == NO_GO]
        parts.append(s.assign(mechanism="reviewer_coverage", item=s["language"]))
    if calibration is not None and len(calibration):
        s = calibration[calibration["decision"] == NO_GO]
        parts.append(s.assign(item=s["group"]))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=GAP_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(MECHANISMS)}
    out["_o"] = out["mechanism"].map(order)
    out = out.sort_values(["_o", "item", "reason"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return out[GAP_COLUMNS + [c for c in out.columns if c not in GAP_COLUMNS]]


def decide_mechanisms(gaps: pd.DataFrame, assessed: Iterable[str] = MECHANISMS) -> pd.DataFrame:
    """Go/no-go per mechanism: no-go when the mechanism has at least one gap.

    Parameters
    ----------
    gaps : DataFrame
        From :func:`list_gaps`.
    assessed : list of str
        Mechanisms that were assessed (a mechanism not assessed is absent from the result).

    Returns
    -------
    DataFrame
        ``mechanism, decision, n_gaps`` in :data:`MECHANISMS` order.
    """
    counts = gaps["mechanism"].value_counts() if len(gaps) else pd.Series(dtype="int64")
    rows = [
        {"mechanism": m, "decision": NO_GO if counts.get(m, 0) else GO, "n_gaps": int(counts.get(m, 0))}
        for m in MECHANISMS
        if m in set(assessed)
    ]
    return _frame(rows, ["mechanism", "decision", "n_gaps"])


def describe_gap(
    row: Mapping[str, Any],
    _: Callable[[str], str],
    fmt: Any,
    language_name: Callable[[str], str] | None = None,
) -> tuple[str, str]:
    """Translated (finding, action) of one :func:`list_gaps` row, numbers formatted by ``fmt``.

    ``_`` is a gettext function (``get_translator(lang).gettext``), ``fmt`` a
    :class:`govlib.report.i18n.Formatter`; ``language_name`` turns an ISO 639-1 code into
    a display name (reviewer and signal rows), default the code itself.
    """
    reason = row["reason"]
    if reason not in REASONS:
        raise ExpansionInputError(f"unknown gap reason {reason!r}; known: {', '.join(REASONS)}")
    finding, action = REASONS[reason]

    def num(key, digits=None):
        v = row.get(key, math.nan)
        return fmt.count(v) if digits is None else fmt.number(v, digits)

    def pct(key):
        return fmt.percent(row.get(key, math.nan))

    metrics = [
        m
        for m, k in (("precision", "precision_gap_flagged"), ("recall", "recall_gap_flagged"))
        if bool(row.get(k, False)) is True
    ]
    name = language_name or (lambda code: code)
    item = str(row["item"])
    mech = row["mechanism"]
    if mech in ("health_thresholds", "alert_sensitivity", "severity_weights"):
        item = _(MECHANISM_LABELS[mech])
    elif mech == "reviewer_coverage":
        item = name(item)
    elif mech == "detection_signal":
        item = "{signal} ({language})".format(signal=row["signal"], language=name(str(row["language"])))
    values = {
        "item": item,
        "category": str(row.get("category", "")),
        "n_labelled": num("n_labelled"),
        "n_violating": num("n_violating"),
        "min_labelled": num("min_labelled"),
        "min_violating": num("min_violating"),
        "metrics": (" " + _("and") + " ").join(
            _("precision") if m == "precision" else _("recall") for m in metrics
        ),
        "precision": pct("precision"),
        "ref_precision": pct("reference_precision"),
        "recall": pct("recall"),
        "ref_recall": pct("reference_recall"),
        "share": pct("content_share"),
        "weeks": num("history_weeks"),
        "required": num("required_weeks"),
    }
    return _(finding).format(**values), _(action).format(**values)
