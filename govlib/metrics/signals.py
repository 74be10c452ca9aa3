"""Evaluation of detection signals against reviewer labels: the evidence for a new signal.

A *signal* is a model score in [0, 1] per content item (``signal_scores``); an item is
*flagged* when ``score >= threshold``. Reviewers' verdicts (``review_labels``) are the
ground truth. This module answers: how precise is the signal and how much violating
content does it find (at each threshold, per market and per language, with intervals),
how well calibrated are its scores, which threshold reaches a target precision, and where
does a signal built for one language fail to transfer to another market's language.

Functions
---------
prepare_signal_labels
    Join scores, labels and the content's language into one row per labelled item.
count_confusion
    Confusion counts (TP, FP, FN, TN) at several thresholds.
evaluate_thresholds
    Precision, recall and F1 with Wilson intervals at thresholds, by group.
compute_pr_curve
    Precision-recall curve at every distinct score.
compute_average_precision
    Area under the step-wise precision-recall curve.
compute_calibration
    Binned reliability table: mean score against the observed violating share.
find_threshold_for_precision
    The lowest threshold reaching a target precision, with the recall it keeps.
flag_transfer_gaps
    Groups (languages, markets) whose precision or recall is significantly below a reference.

Which labels count
------------------
Precision and recall are estimated on a *random sample* of scored content; labels from
targeted queues (investigations, appeals) are not representative (they over-represent
what looked suspicious) and would bias both. :func:`prepare_signal_labels` therefore takes
the sample from the sources in ``sample_sources`` (default ``("qa_sample",)``, the random QA
sample) and the verdict of each sampled item from its *latest* label of any source, so a
later investigation that corrects a QA verdict is used. Labels imported with
``govlib labels import`` are picked up on the next run the same way.

All functions are pure (DataFrames or arrays in, DataFrames out; no I/O, no printing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from govlib.metrics.frames import MetricInputError, as_utc, require_columns
from govlib.stats import proportion_interval, test_proportions_2indep

__all__ = [
    "UNKNOWN_LANGUAGE",
    "compute_average_precision",
    "compute_calibration",
    "compute_pr_curve",
    "count_confusion",
    "evaluate_thresholds",
    "find_threshold_for_precision",
    "flag_transfer_gaps",
    "prepare_signal_labels",
]

UNKNOWN_LANGUAGE = "(unknown)"
LABEL_COLUMNS = [
    "content_id",
    "market",
    "language",
    "signal",
    "version",
    "score",
    "scored_at",
    "is_violating",
    "label_source",
    "reviewed_at",
]
EVALUATION_COLUMNS = [
    "threshold",
    "n_labelled",
    "n_violating",
    "n_flagged",
    "tp",
    "fp",
    "fn",
    "tn",
    "precision",
    "precision_low",
    "precision_high",
    "recall",
    "recall_low",
    "recall_high",
    "f1",
]


# ---------------------------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------------------------


def _examples(df: pd.DataFrame, mask: np.ndarray, column: str) -> list[str]:
    return df.loc[mask, column].astype(str).head(5).tolist()


def _check_scores(scores: pd.DataFrame) -> None:
    s = pd.to_numeric(scores["score"], errors="coerce")
    bad = (s.isna() | (s < 0) | (s > 1)).to_numpy()
    if bad.any():
        raise MetricInputError(
            f"table 'signal_scores' column 'score': {int(bad.sum())} row(s) are missing or outside [0, 1]; "
            f"examples (content_id): {_examples(scores, bad, 'content_id')}, values: "
            f"{scores.loc[bad, 'score'].astype(str).head(5).tolist()}. Scores must be probabilities in [0, 1]; "
            "fix the scoring export."
        )


def _as_bool(labels: pd.DataFrame) -> pd.Series:
    v = labels["is_violating"]
    bad = v.isna().to_numpy()
    if not bad.any():
        try:
            ok = v.map(lambda x: isinstance(x, (bool, np.bool_)) or x in (0, 1)).to_numpy(dtype=bool)
        except TypeError:
            ok = np.zeros(len(v), bool)
        bad = ~ok
    if bad.any():
        raise MetricInputError(
            f"table 'review_labels' column 'is_violating': {int(bad.sum())} row(s) are missing or not true/false; "
            f"examples (content_id): {_examples(labels, bad, 'content_id')}. Every label needs a verdict; "
            "drop unreviewed rows or import them with 'govlib labels import', which validates them."
        )
    return v.astype(bool)


def _utc(ts) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _pick_one(values: pd.Series, what: str, given: str | None, table: str) -> str:
    found = sorted(values.dropna().astype(str).unique())
    if given is not None:
        if given not in found:
            raise MetricInputError(
                f"table {table!r}: no rows with {what} {given!r}; {what}s present: {found or 'none'}"
            )
        return given
    if len(found) > 1:
        raise MetricInputError(
            f"table {table!r} holds {len(found)} {what}s ({', '.join(found)}); evaluate one at a time: "
            f"pass {what}=... "
        )
    if not found:
        raise MetricInputError(f"table {table!r} is empty: there is no signal to evaluate")
    return found[0]


def prepare_signal_labels(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    content: pd.DataFrame | None = None,
    *,
    signal: str | None = None,
    version: str | None = None,
    market: str | Sequence[str] | None = None,
    start=None,
    end=None,
    sample_sources: Sequence[str] | None = ("qa_sample",),
) -> pd.DataFrame:
    """One row per labelled, scored item: its score, verdict and language.

    Parameters
    ----------
    scores : DataFrame
        ``signal_scores`` (``content_id, market, signal, version, score, scored_at``).
    labels : DataFrame
        ``review_labels`` (``content_id, market, is_violating, reviewed_at, source``).
    content : DataFrame, optional
        ``content`` (``content_id, market, language``) for the item's language; items not
        found get language ``"(unknown)"``. Without it every item's language is unknown.
    signal, version : str, optional
        Which signal (and version) to evaluate. Required when the table holds several;
        when an item was scored more than once, its latest score (``scored_at``) is used.
    market : str or list of str, optional
        Keep these markets only.
    start, end : timestamp-like, optional
        Keep items scored in ``[start, end)`` (UTC; use :func:`govlib.timeutil.month_bounds`
        for local months). The evaluation describes the signal on the content it scored then.
    sample_sources : list of str or None, default ``("qa_sample",)``
        Label sources that define the *sample*: an item is evaluated when it has at least one
        label from these sources. ``None`` uses every labelled item (biased when some labels
        come from targeted review; see the module notes).

    Returns
    -------
    DataFrame
        Columns ``content_id, market, language, signal, version, score, scored_at,
        is_violating, label_source, reviewed_at`` (the verdict and source of the latest
        label), sorted by market and content_id.

    Notes
    -----
    The latest label of an item is the one with the largest ``reviewed_at``; ties are broken
    by source then verdict (``True`` last), so the result does not depend on row order. Items
    labelled but never scored are left out (they say nothing about the signal).

    Raises
    ------
    govlib.metrics.frames.MetricInputError
        Missing columns, scores outside [0, 1], labels without a verdict, an ambiguous signal.
    """
    require_columns(
        scores, "signal_scores", ["content_id", "market", "signal", "version", "score", "scored_at"]
    )
    require_columns(
        labels, "review_labels", ["content_id", "market", "is_violating", "reviewed_at", "source"]
    )
    markets = None if market is None else ([market] if isinstance(market, str) else list(market))
    sc = scores
    if markets is not None:
        sc = sc.loc[sc["market"].isin(markets).to_numpy(dtype=bool, na_value=False)]
    if len(sc) or signal is not None:
        signal = _pick_one(sc["signal"], "signal", signal, "signal_scores")
        sc = sc.loc[(sc["signal"] == signal).to_numpy(dtype=bool, na_value=False)]
        version = _pick_one(sc["version"], "version", version, "signal_scores")
        sc = sc.loc[(sc["version"] == version).to_numpy(dtype=bool, na_value=False)]
    sc = sc[["content_id", "market", "signal", "version", "score", "scored_at"]].copy()
    _check_scores(sc)
    sc["score"] = pd.to_numeric(sc["score"]).astype("float64")
    sc["scored_at"] = as_utc(sc["scored_at"])
    if start is not None:
        sc = sc.loc[(sc["scored_at"] >= _utc(start)).to_numpy(dtype=bool, na_value=False)]
    if end is not None:
        sc = sc.loc[(sc["scored_at"] < _utc(end)).to_numpy(dtype=bool, na_value=False)]
    sc = sc.sort_values(["market", "content_id", "scored_at", "score"], kind="mergesort")
    sc = sc.drop_duplicates(["market", "content_id"], keep="last")

    lb = labels
    if markets is not None:
        lb = lb.loc[lb["market"].isin(markets).to_numpy(dtype=bool, na_value=False)]
    lb = lb[["content_id", "market", "is_violating", "reviewed_at", "source"]].copy()
    lb["is_violating"] = _as_bool(lb)
    lb["reviewed_at"] = as_utc(lb["reviewed_at"])
    if sample_sources is not None:
        sampled = lb.loc[
            lb["source"].isin(list(sample_sources)).to_numpy(dtype=bool, na_value=False),
            ["market", "content_id"],
        ].drop_duplicates()
    else:
        sampled = lb[["market", "content_id"]].drop_duplicates()
    latest = lb.sort_values(
        ["market", "content_id", "reviewed_at", "source", "is_violating"], kind="mergesort"
    )
    latest = latest.drop_duplicates(["market", "content_id"], keep="last")
    latest = latest.merge(sampled, on=["market", "content_id"], how="inner")
    latest = latest.rename(columns={"source": "label_source"})

    out = sc.merge(latest, on=["market", "content_id"], how="inner")
    if content is not None:
        require_columns(content, "content", ["content_id", "market", "language"])
        lang = content[["content_id", "market", "language"]].drop_duplicates(["market", "content_id"])
        out = out.merge(lang, on=["market", "content_id"], how="left")
        out["language"] = out["language"].astype(object).where(out["language"].notna(), UNKNOWN_LANGUAGE)
    else:
        out["language"] = UNKNOWN_LANGUAGE
    out = out.sort_values(["market", "content_id"], kind="mergesort").reset_index(drop=True)
    for c in ("content_id", "market", "language", "signal", "version", "label_source"):
        out[c] = out[c].astype(object)
    return out[LABEL_COLUMNS]


# ---------------------------------------------------------------------------------------------
# counts and rates
# ---------------------------------------------------------------------------------------------


def _arrays(is_violating, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(is_violating)
    s = np.asarray(score, dtype="float64")
    if y.shape != s.shape or y.ndim != 1:
        raise MetricInputError(
            f"is_violating and score must be 1-d of equal length, got {y.shape} and {s.shape}"
        )
    if len(y) and pd.isna(pd.Series(y)).any():
        raise MetricInputError("is_violating has missing values; every evaluated item needs a verdict")
    if np.isnan(s).any():
        raise MetricInputError(
            f"score has {int(np.isnan(s).sum())} missing value(s); drop unscored items first"
        )
    return y.astype(bool), s


def _thresholds(thresholds) -> np.ndarray:
    t = np.atleast_1d(np.asarray(thresholds, dtype="float64"))
    if t.size == 0 or np.isnan(t).any():
        raise MetricInputError(f"thresholds must be numbers, got {list(np.atleast_1d(thresholds))}")
    return t


def count_confusion(is_violating, score, thresholds) -> pd.DataFrame:
    """Confusion counts of the rule ``flagged = score >= threshold`` at each threshold.

    Parameters
    ----------
    is_violating : array of bool
        Reviewer verdicts (the truth).
    score : array of float
        Signal scores of the same items.
    thresholds : float or list of float

    Returns
    -------
    DataFrame
        ``threshold, n_labelled, n_violating, n_flagged, tp, fp, fn, tn`` (int64 counts),
        one row per threshold in the order given.
    """
    y, s = _arrays(is_violating, score)
    t = _thresholds(thresholds)
    flagged = s[None, :] >= t[:, None]
    tp = (flagged & y[None, :]).sum(axis=1)
    fp = (flagged & ~y[None, :]).sum(axis=1)
    n_pos = int(y.sum())
    return pd.DataFrame(
        {
            "threshold": t,
            "n_labelled": np.full(len(t), len(y), dtype="int64"),
            "n_violating": np.full(len(t), n_pos, dtype="int64"),
            "n_flagged": (tp + fp).astype("int64"),
            "tp": tp.astype("int64"),
            "fp": fp.astype("int64"),
            "fn": (n_pos - tp).astype("int64"),
            "tn": (len(y) - n_pos - fp).astype("int64"),
        }
    )


def _rates(conf: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = conf.copy()
    prec, p_lo, p_hi, rec, r_lo, r_hi, f1 = ([] for _ in range(7))
    for tp, fl, pos, fn, fp in zip(out["tp"], out["n_flagged"], out["n_violating"], out["fn"], out["fp"]):
        prec.append(tp / fl if fl else math.nan)
        lo, hi = proportion_interval(int(tp), int(fl), alpha=alpha)
        p_lo.append(lo)
        p_hi.append(hi)
        rec.append(tp / pos if pos else math.nan)
        lo, hi = proportion_interval(int(tp), int(pos), alpha=alpha)
        r_lo.append(lo)
        r_hi.append(hi)
        # F1 = 2TP / (2TP + FP + FN): defined whenever anything is violating or flagged
        den = 2 * tp + fp + fn
        f1.append(2 * tp / den if den else math.nan)
    out["precision"], out["precision_low"], out["precision_high"] = prec, p_lo, p_hi
    out["recall"], out["recall_low"], out["recall_high"] = rec, r_lo, r_hi
    out["f1"] = f1
    return out


def _groups(frame: pd.DataFrame, by) -> tuple[list[str], Iterable]:
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    require_columns(frame, "signal labels", keys + ["score", "is_violating"])
    if not keys:
        return keys, [((), frame)]
    return keys, frame.groupby(keys, sort=True, dropna=False)


def evaluate_thresholds(
    frame: pd.DataFrame, thresholds=(0.5,), by: str | Sequence[str] | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Precision, recall and F1 of ``score >= threshold`` with Wilson intervals, by group.

    Definitions: precision = TP / flagged (denominator: labelled items the signal flags);
    recall = TP / violating (denominator: labelled items reviewers found violating);
    F1 = 2 TP / (2 TP + FP + FN), their harmonic mean. An empty denominator gives NaN,
    never 0.

    Parameters
    ----------
    frame : DataFrame
        From :func:`prepare_signal_labels` (needs ``score``, ``is_violating`` and the ``by`` columns).
    thresholds : float or list of float, default ``(0.5,)``
    by : str or list of str, optional
        Group columns, e.g. ``"language"``, ``"market"`` or ``["market", "language"]``;
        None evaluates all rows together.
    alpha : float, default 0.05
        Intervals have coverage ``1 - alpha``.

    Returns
    -------
    DataFrame
        The ``by`` columns then ``threshold, n_labelled, n_violating, n_flagged, tp, fp, fn,
        tn, precision, precision_low, precision_high, recall, recall_low, recall_high, f1``;
        groups sorted, thresholds in the order given.

    Notes
    -----
    The Wilson intervals (:func:`govlib.stats.intervals.proportion_interval`) treat the
    labelled items as a simple random sample of the scored content of each group, which the
    QA sample is. F1 is reported without an interval (no closed form; bootstrap if needed).

    References
    ----------
    .. [1] Davis, J., Goadrich, M. (2006). The relationship between precision-recall and ROC
       curves. ICML.
    """
    keys, groups = _groups(frame, by)
    parts = []
    for key, g in groups:
        conf = count_confusion(g["is_violating"].to_numpy(), g["score"].to_numpy(), thresholds)
        key = key if isinstance(key, tuple) else (key,)
        for k, v in zip(keys, key):
            conf.insert(keys.index(k), k, v)
        parts.append(_rates(conf, alpha))
    if not parts:
        return pd.DataFrame(columns=keys + EVALUATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[keys + EVALUATION_COLUMNS]


# ---------------------------------------------------------------------------------------------
# curves
# ---------------------------------------------------------------------------------------------


def compute_pr_curve(is_violating, score) -> pd.DataFrame:
    """Precision and recall of ``score >= t`` at every distinct score ``t``.

    Parameters
    ----------
    is_violating : array of bool
    score : array of float

    Returns
    -------
    DataFrame
        ``threshold`` (distinct scores, descending), ``n_flagged, tp, fp, precision, recall``.
        Recall is NaN when nothing is violating. No artificial end points are added (no
        ``recall = 0, precision = 1`` point; plot from the first row).

    Notes
    -----
    Same points as ``sklearn.metrics.precision_recall_curve`` (which adds the end point and
    lists thresholds ascending), computed with a sort and cumulative sums in O(n log n).
    """
    y, s = _arrays(is_violating, score)
    if len(y) == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="float64")
                for c in ("threshold", "n_flagged", "tp", "fp", "precision", "recall")
            }
        )
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]  # last index of each distinct score
    tp, fp = tp[last].astype("int64"), fp[last].astype("int64")
    n_pos = int(y.sum())
    return pd.DataFrame(
        {
            "threshold": s_sorted[last],
            "n_flagged": tp + fp,
            "tp": tp,
            "fp": fp,
            "precision": tp / (tp + fp),
            "recall": tp / n_pos if n_pos else np.full(len(tp), np.nan),
        }
    )


def compute_average_precision(is_violating, score) -> float:
    """Average precision: ``sum_k (R_k - R_{k-1}) P_k`` over the distinct-score thresholds.

    The area under the step-wise precision-recall curve, as
    ``sklearn.metrics.average_precision_score`` defines it (no interpolation). NaN when
    nothing is violating. A random score gives about the violating share; a perfect one 1.
    """
    curve = compute_pr_curve(is_violating, score)
    if curve.empty or curve["recall"].isna().all():
        return math.nan
    r = curve["recall"].to_numpy()
    return float(np.sum(np.diff(np.r_[0.0, r]) * curve["precision"].to_numpy()))


def compute_calibration(
    is_violating, score, n_bins: int = 10, strategy: str = "uniform", alpha: float = 0.05
) -> pd.DataFrame:
    """Reliability table: in each score bin, the mean score against the observed violating share.

    A calibrated signal's items scored about 0.7 are violating about 70% of the time.

    Parameters
    ----------
    is_violating : array of bool
    score : array of float in [0, 1]
    n_bins : int, default 10
    strategy : {"uniform", "quantile"}
        ``"uniform"``: equal-width bins on [0, 1] (empty bins kept, with NaN rates);
        ``"quantile"``: bins with about equal counts (edges at score quantiles; repeated
        edges merged).
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        ``bin, lower, upper, n, n_violating, mean_score, observed_rate, ci_low, ci_high``;
        bin ``[lower, upper)``, the last bin closed. ``observed_rate`` has a Wilson interval.

    Notes
    -----
    The binned reliability diagram of DeGroot and Fienberg (1983); ``uniform`` matches
    ``sklearn.calibration.calibration_curve(strategy="uniform")`` on non-empty bins.
    """
    if strategy not in ("uniform", "quantile"):
        raise MetricInputError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    if int(n_bins) < 1:
        raise MetricInputError(f"n_bins must be at least 1, got {n_bins}")
    y, s = _arrays(is_violating, score)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    else:
        edges = (
            np.unique(np.quantile(s, np.linspace(0, 1, int(n_bins) + 1))) if len(s) else np.array([0.0, 1.0])
        )
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
    # bin index: edges[i] <= s < edges[i+1], the top edge included in the last bin
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        m = idx == b
        n, k = int(m.sum()), int(y[m].sum())
        lo, hi = proportion_interval(k, n, alpha=alpha)
        rows.append(
            {
                "bin": b,
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "n": n,
                "n_violating": k,
                "mean_score": float(s[m].mean()) if n else math.nan,
                "observed_rate": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return pd.DataFrame(rows)


def find_threshold_for_precision(
    is_violating, score, target: float, criterion: str = "estimate", alpha: float = 0.05, min_flagged: int = 1
) -> pd.DataFrame:
    """The lowest threshold whose precision reaches ``target``, and the recall it keeps.

    Recall only falls as the threshold rises, so the lowest qualifying threshold keeps the
    most recall. Precision is not monotone in the threshold; every distinct score is tried.

    Parameters
    ----------
    is_violating : array of bool
    score : array of float
    target : float in (0, 1]
        Precision wanted, e.g. 0.9.
    criterion : {"estimate", "lower_bound"}
        ``"estimate"``: the precision estimate reaches ``target``; ``"lower_bound"``: the
        lower end of its Wilson ``1 - alpha`` interval does (conservative: the signal is
        at least that precise with ``1 - alpha/2`` confidence).
    alpha : float, default 0.05
    min_flagged : int, default 1
        Ignore thresholds that flag fewer labelled items than this (tiny denominators).

    Returns
    -------
    DataFrame
        One row: ``target, criterion, threshold, n_flagged, tp, precision, precision_low,
        precision_high, recall, recall_low, recall_high``. When no threshold qualifies,
        ``threshold`` and the rates are NaN (and ``n_flagged`` 0).
    """
    if not (0 < float(target) <= 1):
        raise MetricInputError(f"target precision must be in (0, 1], got {target}")
    if criterion not in ("estimate", "lower_bound"):
        raise MetricInputError(f"criterion must be 'estimate' or 'lower_bound', got {criterion!r}")
    y, _s = _arrays(is_violating, score)
    curve = compute_pr_curve(y, _s)
    n_pos = int(y.sum())
    row = {
        "target": float(target),
        "criterion": criterion,
        "threshold": math.nan,
        "n_flagged": 0,
        "tp": 0,
        "precision": math.nan,
        "precision_low": math.nan,
        "precision_high": math.nan,
        "recall": math.nan,
        "recall_low": math.nan,
        "recall_high": math.nan,
    }
    if not curve.empty:
        lows = (
            np.array(
                [
                    proportion_interval(int(t), int(f), alpha=alpha)[0]
                    for t, f in zip(curve["tp"], curve["n_flagged"])
                ]
            )
            if criterion == "lower_bound"
            else None
        )
        value = lows if criterion == "lower_bound" else curve["precision"].to_numpy()
        ok = (value >= float(target) - 1e-12) & (curve["n_flagged"].to_numpy() >= int(min_flagged))
        if ok.any():
            i = int(np.nonzero(ok)[0][-1])  # thresholds descend: the last qualifying row is the lowest
            r = curve.iloc[i]
            tp, fl = int(r["tp"]), int(r["n_flagged"])
            p_lo, p_hi = proportion_interval(tp, fl, alpha=alpha)
            r_lo, r_hi = proportion_interval(tp, n_pos, alpha=alpha)
            row.update(
                threshold=float(r["threshold"]),
                n_flagged=fl,
                tp=tp,
                precision=tp / fl,
                precision_low=p_lo,
                precision_high=p_hi,
                recall=tp / n_pos if n_pos else math.nan,
                recall_low=r_lo,
                recall_high=r_hi,
            )
    return pd.DataFrame([row])


# ---------------------------------------------------------------------------------------------
# transfer
# ---------------------------------------------------------------------------------------------


def flag_transfer_gaps(
    evaluation: pd.DataFrame,
    reference: str,
    by: str = "language",
    alpha: float = 0.05,
    min_gap: float = 0.05,
    correction: str = "holm",
) -> pd.DataFrame:
    """Groups where the signal is significantly and materially worse than in ``reference``.

    For each threshold and each group of ``by`` other than ``reference``, precision and
    recall are compared with the reference group's by a one-sided two-proportion score test
    (``H1: group < reference``; :func:`govlib.stats.intervals.test_proportions_2indep`).
    A gap is flagged when its p-value, adjusted for the number of comparisons, is below
    ``alpha`` *and* the shortfall is at least ``min_gap`` (absolute).

    Parameters
    ----------
    evaluation : DataFrame
        From :func:`evaluate_thresholds` with ``by`` as a group column (one row per group
        and threshold).
    reference : str
        Value of ``by`` to compare with, e.g. the language the signal was built for (``"de"``).
    by : str, default ``"language"``
    alpha : float, default 0.05
    min_gap : float, default 0.05
        Minimum shortfall (5 percentage points) for a gap to matter.
    correction : {"holm", "bonferroni", "fdr_bh", "none"}
        Multiple-comparison adjustment across all groups x thresholds x {precision, recall}
        (``statsmodels.stats.multitest.multipletests``).

    Returns
    -------
    DataFrame
        ``by, threshold, metric`` (``precision`` or ``recall``), ``value, reference_value,
        gap`` (value - reference), ``count, nobs, reference_count, reference_nobs, pvalue,
        pvalue_adjusted, flagged``; sorted by threshold, group, metric.

    Raises
    ------
    MetricInputError
        ``reference`` is not a group of ``evaluation`` at some threshold.
    """
    if correction not in ("holm", "bonferroni", "fdr_bh", "none"):
        raise MetricInputError(f"correction must be holm, bonferroni, fdr_bh or none, got {correction!r}")
    require_columns(evaluation, "signal evaluation", [by, "threshold", "tp", "n_flagged", "n_violating"])
    rows = []
    for thr, g in evaluation.groupby("threshold", sort=True):
        ref = g[g[by] == reference]
        if ref.empty:
            raise MetricInputError(
                f"reference {by} {reference!r} is not in the evaluation at threshold {thr}; "
                f"{by}s present: {sorted(map(str, g[by].unique()))}"
            )
        ref = ref.iloc[0]
        for _, r in g[g[by] != reference].sort_values(by).iterrows():
            for metric, den in (("precision", "n_flagged"), ("recall", "n_violating")):
                res = test_proportions_2indep(
                    int(r["tp"]), int(r[den]), int(ref["tp"]), int(ref[den]), alternative="smaller"
                )
                rows.append(
                    {
                        by: r[by],
                        "threshold": float(thr),
                        "metric": metric,
                        "value": res.estimate1,
                        "reference_value": res.estimate2,
                        "gap": res.estimate1 - res.estimate2,
                        "count": int(r["tp"]),
                        "nobs": int(r[den]),
                        "reference_count": int(ref["tp"]),
                        "reference_nobs": int(ref[den]),
                        "pvalue": res.pvalue,
                    }
                )
    cols = [
        by,
        "threshold",
        "metric",
        "value",
        "reference_value",
        "gap",
        "count",
        "nobs",
        "reference_count",
        "reference_nobs",
        "pvalue",
        "pvalue_adjusted",
        "flagged",
    ]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    p = out["pvalue"].to_numpy(dtype="float64")
    adj = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        if correction != "none":
            from statsmodels.stats.multitest import multipletests  # lazy: statsmodels is a slow import

            adj[ok] = multipletests(p[ok], alpha=alpha, method=correction)[1]
        else:
            adj[ok] = p[ok]
    out["pvalue_adjusted"] = adj
    out["flagged"] = (np.nan_to_num(adj, nan=1.0) < alpha) & (
        np.nan_to_num(-out["gap"].to_numpy(), nan=0.0) >= min_gap - 1e-12
    )
    return out[cols]
