"""How far the labels can be trusted: agreement between reviewers and accuracy on golden items.

Reads the optional contract table ``qa_reviews`` (one row per review: item, policy, language,
reviewer pseudonym, review round, label, golden answer). Per-review work runs on the engine
(an Ibis expression, e.g. ``ReportContext.expr("qa_reviews")``; a pandas DataFrame is wrapped
in ``ibis.memtable``); what reaches pandas is counts per group, turned into statistics by
:mod:`govlib.stats.agreement` and :func:`govlib.stats.intervals.proportion_interval`.

- **Agreement** (:func:`review_agreement`): an item is a (content, policy) pair; its rounds are
  independent reviews by different reviewers. Cohen's kappa compares round 1 with round 2 over
  the items with both (analytic interval); Fleiss' kappa the first three rounds over the items
  with three (seeded bootstrap interval). An item belongs to the local month of its first review.
- **Accuracy** (:func:`reviewer_accuracy`): the share of reviews of golden items whose label
  equals ``golden_label``, per reviewer pseudonym or per language, with Wilson intervals.
- **Calibration** (:func:`reviewers_for_calibration`): reviewers whose accuracy in the month is
  below the market's ``review_quality.min_accuracy`` (with at least ``min_golden_reviews``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from govlib.stats.agreement import cohens_kappa, fleiss_kappa
from govlib.stats.intervals import proportion_interval

__all__ = [
    "ALL",
    "review_agreement",
    "review_disagreement",
    "reviewer_accuracy",
    "reviewers_for_calibration",
]

ALL = "(all)"
VIOLATING = "violating"
AGREEMENT_COLUMNS = [
    "policy",
    "language",
    "measure",
    "raters",
    "n_items",
    "kappa",
    "ci_low",
    "ci_high",
    "observed_agreement",
    "interval",
]


def _expr(reviews: Any):
    import ibis

    return ibis.memtable(reviews) if isinstance(reviews, pd.DataFrame) else reviews


def _bounds(month: str | None, tz: str):
    from govlib.data.dataset import utc_literal
    from govlib.timeutil import month_bounds

    if month is None:
        return None
    start, end = month_bounds(month, tz)
    return utc_literal(start), utc_literal(end)


def _items(reviews: Any, market: str, month: str | None, tz: str):
    """One row per item: its policy, language, first review time and round 1-3 labels (1 = violating)."""
    t = _expr(reviews)
    t = t.filter(t.market == market)
    v = (t.label == VIOLATING).cast("int64")
    items = t.group_by(["content_id", "policy", "language"]).aggregate(
        first=t.reviewed_at.min(),
        n_rounds=t.review_round.nunique(),
        n_yes=v.sum(),
        n_reviews=t.count(),
        **{f"r{r}": v.max(where=t.review_round == r) for r in (1, 2, 3)},
    )
    b = _bounds(month, tz)
    return items if b is None else items.filter((items.first >= b[0]) & (items.first < b[1]))


def _levels(df: pd.DataFrame, keys: list[str]):
    """(policy, language, rows) for every policy x language, each policy, each language and all."""
    for by in (["policy", "language"], ["policy"], ["language"], []):
        groups = df.groupby(by, sort=True) if by else [((), df)]
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            named = dict(zip(by, key))
            yield named.get("policy", ALL), named.get("language", ALL), g.groupby(keys)["n"].sum()


def review_agreement(
    reviews: Any, market: str, month: str | None, tz: str, *, alpha: float = 0.05, seed: int = 0
) -> pd.DataFrame:
    """Agreement between reviewers per policy x language, per policy, per language and overall.

    Parameters
    ----------
    reviews : ibis.Table or DataFrame
        ``qa_reviews`` (contract columns).
    market, month, tz : str
        The market and local month (``None``: every month) of the items' first reviews.
    alpha : float, default 0.05
    seed : int, default 0
        Seed of Fleiss' bootstrap.

    Returns
    -------
    DataFrame
        :data:`AGREEMENT_COLUMNS`: ``measure`` ``"cohen"`` (round 1 vs round 2, ``raters`` 2,
        ``interval`` ``"analytic"``) or ``"fleiss"`` (rounds 1-3, ``raters`` 3,
        ``"bootstrap"``); ``"(all)"`` marks a pooled policy or language. Groups without
        re-reviewed items are left out.

    Notes
    -----
    Kappa corrects agreement for what the label shares alone would produce: two reviewers who
    both say "not violating" to 95 % of items agree on 90 % by chance. Landis and Koch's
    reading: below 0.4 poor to fair, 0.4-0.6 moderate, 0.6-0.8 substantial, above 0.8 almost
    perfect.

    References
    ----------
    .. [1] Landis, J. R., Koch, G. G. (1977). The measurement of observer agreement for
       categorical data. Biometrics 33(1), 159-174.
    """
    items = _items(reviews, market, month, tz)
    two = items.filter(items.r1.notnull() & items.r2.notnull())
    pairs = two.group_by(["policy", "language", "r1", "r2"]).aggregate(n=two.count()).to_pandas()
    three = items.filter(items.r1.notnull() & items.r2.notnull() & items.r3.notnull())
    three = three.mutate(yes=three.r1 + three.r2 + three.r3)
    triples = three.group_by(["policy", "language", "yes"]).aggregate(n=three.count()).to_pandas()
    rows = []
    for policy, language, cells in _levels(pairs, ["r1", "r2"]):
        table = np.zeros((2, 2))
        for (a, b), n in cells.items():
            table[int(a), int(b)] = n
        rows.append((policy, language, "cohen", 2, cohens_kappa(table, alpha=alpha), "analytic"))
    for policy, language, cells in _levels(triples, ["yes"]):
        yes = np.asarray(cells.index, dtype=float)
        est = fleiss_kappa(np.column_stack([yes, 3 - yes]), cells.to_numpy(), alpha=alpha, seed=seed)
        rows.append((policy, language, "fleiss", 3, est, "bootstrap"))
    out = pd.DataFrame(
        [
            (p, lang, m, r, e.n_items, e.kappa, e.ci_low, e.ci_high, e.observed_agreement, how)
            for p, lang, m, r, e, how in rows
        ],
        columns=AGREEMENT_COLUMNS,
    )
    out = out[out["n_items"] > 0]
    return out.sort_values(["measure", "policy", "language"], kind="mergesort").reset_index(drop=True)


def review_disagreement(reviews: Any, market: str, month: str | None, tz: str) -> dict:
    """Items reviewed at least twice, and those whose labels were not all equal.

    Returns
    -------
    dict
        ``items``, ``items_multi_reviewed``, ``items_disagreed`` and ``share_disagreed``
        (NaN without re-reviewed items).
    """
    items = _items(reviews, market, month, tz)
    multi = items.n_reviews >= 2
    split = multi & (items.n_yes > 0) & (items.n_yes < items.n_reviews)
    agg = items.aggregate(
        items=items.count(), multi=multi.cast("int64").sum(), split=split.cast("int64").sum()
    ).to_pandas()
    n, m, s = (int(v) if pd.notna(v) else 0 for v in (agg[c].iloc[0] for c in ("items", "multi", "split")))
    return {
        "items": n,
        "items_multi_reviewed": m,
        "items_disagreed": s,
        "share_disagreed": s / m if m else math.nan,
    }


def reviewer_accuracy(
    reviews: Any, market: str, month: str | None, tz: str, *, by: str = "reviewer", alpha: float = 0.05
) -> pd.DataFrame:
    """Accuracy on golden items per reviewer pseudonym (or per ``language``) with Wilson intervals.

    Parameters
    ----------
    reviews : ibis.Table or DataFrame
        ``qa_reviews``.
    market, month, tz : str
        Reviews of the market with ``reviewed_at`` in the local month (``None``: all).
    by : {"reviewer", "language", "policy"}
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        ``<by>, golden_reviews, correct, accuracy, ci_low, ci_high``, sorted by ``by``.

    Notes
    -----
    A review of a golden item is correct when ``label == golden_label``. The interval is
    Wilson's (:func:`govlib.stats.intervals.proportion_interval`); reviews of one reviewer are
    taken as independent trials.
    """
    if by not in ("reviewer", "language", "policy"):
        raise ValueError(f"by must be reviewer, language or policy, got {by!r}")
    t = _expr(reviews)
    t = t.filter((t.market == market) & t.golden_label.notnull())
    b = _bounds(month, tz)
    if b is not None:
        t = t.filter((t.reviewed_at >= b[0]) & (t.reviewed_at < b[1]))
    agg = (
        t.group_by(by)
        .aggregate(golden_reviews=t.count(), correct=(t.label == t.golden_label).cast("int64").sum())
        .to_pandas()
    )
    agg = agg.sort_values(by, kind="mergesort").reset_index(drop=True)
    agg["golden_reviews"] = agg["golden_reviews"].astype("int64")
    agg["correct"] = agg["correct"].astype("int64")
    agg["accuracy"] = agg["correct"] / agg["golden_reviews"]
    ci = [proportion_interval(c, n, alpha=alpha) for c, n in zip(agg["correct"], agg["golden_reviews"])]
    agg["ci_low"] = [lo for lo, _ in ci]
    agg["ci_high"] = [hi for _, hi in ci]
    return agg[[by, "golden_reviews", "correct", "accuracy", "ci_low", "ci_high"]]


def reviewers_for_calibration(
    accuracy: pd.DataFrame, min_accuracy: float, min_golden_reviews: int
) -> pd.DataFrame:
    """Reviewers of :func:`reviewer_accuracy` below ``min_accuracy`` (pseudonyms only), lowest first.

    Only reviewers with at least ``min_golden_reviews`` golden reviews are judged; the column
    ``clearly_below`` is True when the whole interval lies below the threshold.
    """
    sel = accuracy[(accuracy["golden_reviews"] >= min_golden_reviews) & (accuracy["accuracy"] < min_accuracy)]
    sel = sel.assign(clearly_below=sel["ci_high"] < min_accuracy)
    return sel.sort_values(["accuracy", "reviewer"], kind="mergesort").reset_index(drop=True)
