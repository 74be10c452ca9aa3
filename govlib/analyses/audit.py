"""Audit-sample planner: how many items to review, per stratum, to know a rate within ± a margin.

::

    govlib qa plan --market DE --month 2026-10 --precision 0.02 [--target precision|prevalence]
                   [--expected 0.5] [--confidence 0.95] [--data DIR] [--out DIR] [--format csv|xlsx]

Targets and strata:

- ``precision`` (default): the share of the month's enforcement actions on content that were
  right, per policy. Population of a stratum *policy x language*: the distinct content items
  actioned under the policy in the local month, by the item's language.
- ``prevalence``: the share of the month's published content that violates, per language.
  Population of a stratum: the content published in the month in that language.

Each stratum gets the sample size that estimates its proportion within ± ``margin``
(:func:`govlib.stats.agreement.sample_size_proportion`: n0 = z² p (1 − p) / e², with the
finite-population correction n = n0 / (1 + (n0 − 1) / N), rounded up, at most N), drawn
uniformly without replacement with a seed derived from market, month, target and stratum
(the same inputs give the same sample). The plan (``audit_plan_<M>_<month>_<target>.csv``)
lists each stratum's population, sample size and weight N / n; the sample is a review queue
(``audit_sample_<M>_<month>_<target>.csv`` or ``.xlsx``) written through
:func:`govlib.analyses.feedback.write_queue` with ``source = audit_sample``: filled in, it
imports with ``govlib labels import`` like any queue (formulas neutralised, creators
pseudonymised).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from govlib import config
from govlib.errors import UsageError
from govlib.stats.agreement import sample_size_proportion
from govlib.timeutil import month_bounds, parse_month

__all__ = ["AUDIT_TARGETS", "PLAN_COLUMNS", "draw_audit_sample", "export_audit_sample", "plan_audit"]

AUDIT_TARGETS = ("precision", "prevalence")
PLAN_COLUMNS = [
    "market",
    "month",
    "target",
    "policy",
    "language",
    "population",
    "sample_size",
    "weight",
    "expected",
    "margin",
    "confidence",
]
ANY_POLICY = "(any)"


def _population(tables: dict, market: str, month: str, tz: str, target: str) -> pd.DataFrame:
    """One row per population item: ``content_id``, ``policy``, ``language``."""
    start, end = month_bounds(month, tz)
    content = tables["content"][["content_id", "language", "published_at", "market"]]
    if target == "prevalence":
        pub = pd.to_datetime(content["published_at"], utc=True)
        sel = ((content["market"] == market) & (pub >= start) & (pub < end)).to_numpy(
            dtype=bool, na_value=False
        )
        return content.loc[sel, ["content_id", "language"]].assign(policy=ANY_POLICY)
    acts = tables["enforcement_actions"]
    at = pd.to_datetime(acts["actioned_at"], utc=True)
    sel = ((acts["market"] == market) & (at >= start) & (at < end)).to_numpy(dtype=bool, na_value=False)
    acts = acts.loc[sel & acts["content_id"].notna().to_numpy(), ["content_id", "policy"]]
    items = acts.drop_duplicates().merge(
        content[["content_id", "language"]].drop_duplicates("content_id"), on="content_id"
    )
    return items[["content_id", "policy", "language"]]


def plan_audit(
    tables: dict,
    market: str,
    month: str,
    tz: str,
    margin: float,
    *,
    target: str = "precision",
    expected: float = 0.5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Sample size per stratum (:data:`PLAN_COLUMNS`) to estimate ``target`` within ± ``margin``.

    Parameters
    ----------
    tables : dict of DataFrame
        ``content`` and (for precision) ``enforcement_actions`` of the market's month
        (:func:`govlib.data.load.load_market_window`).
    market, month, tz : str
    margin : float
        Half-width wanted, e.g. 0.02 for ± 2 points.
    target : {"precision", "prevalence"}
    expected : float, default 0.5
        Expected proportion; 0.5 is the worst case (the largest sample).
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        One row per stratum with items, sorted by policy and language; ``weight`` = N / n
        (NaN when n = 0).

    Notes
    -----
    Strata are estimated separately; the overall rate of a policy is their N-weighted mean.
    """
    if target not in AUDIT_TARGETS:
        raise UsageError(f"target must be one of {', '.join(AUDIT_TARGETS)}, got {target!r}")
    pop = _population(tables, market, month, tz, target)
    sizes = pop.groupby(["policy", "language"]).size().rename("population").reset_index()
    n = sample_size_proportion(margin, sizes["population"].to_numpy(), p=expected, confidence=confidence)
    sizes["sample_size"] = np.asarray(n, dtype=np.int64)
    sizes["weight"] = sizes["population"] / sizes["sample_size"].where(sizes["sample_size"] > 0)
    plan = sizes.assign(
        market=market, month=month, target=target, expected=expected, margin=margin, confidence=confidence
    )
    return plan.sort_values(["policy", "language"], kind="mergesort")[PLAN_COLUMNS].reset_index(drop=True)


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(("govlib-audit", *parts)).encode()).digest()[:8], "big")


def draw_audit_sample(tables: dict, plan: pd.DataFrame, tz: str) -> list[dict]:
    """The items of each stratum of ``plan``, drawn uniformly without replacement (seeded), as queue items."""
    if plan.empty:
        return []
    market, month, target = (str(plan[c].iloc[0]) for c in ("market", "month", "target"))
    pop = _population(tables, market, month, tz, target).sort_values("content_id", kind="mergesort")
    items = []
    for row in plan.itertuples():
        stratum = pop[(pop["policy"] == row.policy) & (pop["language"] == row.language)]
        rng = np.random.default_rng(_seed(market, month, target, row.policy, row.language))
        picked = np.sort(rng.choice(len(stratum), size=int(row.sample_size), replace=False))
        reason = (
            f"audit sample ({target}): stratum {row.policy} / {row.language}, "
            f"{int(row.sample_size)} of {int(row.population)} (weight {row.weight:.3f})"
        )
        for rank, cid in enumerate(stratum["content_id"].to_numpy()[picked], start=1):
            suggested = None if row.policy == ANY_POLICY else row.policy
            items.append(
                {
                    "source": "audit_sample",
                    "rank": rank,
                    "reason": reason,
                    "content_id": cid,
                    "suggested_policy": suggested,
                }
            )
    return items


def export_audit_sample(
    market: str,
    month: str,
    margin: float,
    *,
    target: str = "precision",
    expected: float = 0.5,
    confidence: float = 0.95,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    fmt: str = "csv",
    exported_at: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Plan the audit of ``market``'s ``month``, write the plan and the sample queue; return both.

    Files in ``out_dir`` (default ``<reports>/queues``): ``audit_plan_<M>_<month>_<target>.csv``
    and ``audit_sample_<M>_<month>_<target>.<fmt>``. Bad margins, targets and formats raise
    :class:`~govlib.errors.UsageError`.
    """
    from govlib.analyses.feedback import check_month_has_data, export_stamp, queue_frame, write_queue
    from govlib.data.load import load_market_window, open_dataset
    from govlib.io import write_bytes_atomic
    from govlib.params import load_market
    from govlib.privacy import load_pseudonym_key, neutralise_formulas

    _check_arguments(margin, target, expected, confidence, fmt)
    parse_month(month, allow_future=False)
    params = load_market(market)
    data = Path(data_dir or config.DATA_DIR)
    out = Path(out_dir or Path(config.REPORTS_DIR) / "queues")
    key = load_pseudonym_key(data)
    stamp = export_stamp(exported_at)
    ds = open_dataset(data)
    check_month_has_data(ds, market, month, params.timezone)
    wanted = ("content", "creators", "enforcement_actions", "signal_scores")
    tables = load_market_window(ds, market, month, params.timezone, months_back=0, tables=wanted)
    plan = plan_audit(
        tables,
        market,
        month,
        params.timezone,
        margin,
        target=target,
        expected=expected,
        confidence=confidence,
    )
    items = draw_audit_sample(tables, plan, params.timezone)
    q = queue_frame(items, tables, market, month, params, key=key, exported_at=stamp)
    plan_path = out / f"audit_plan_{market}_{month}_{target}.csv"
    out.mkdir(parents=True, exist_ok=True)
    text = neutralise_formulas(plan).to_csv(index=False, lineterminator="\n")
    write_bytes_atomic(plan_path, text.encode("utf-8"))
    paths = write_queue(q, out / f"audit_sample_{market}_{month}_{target}", stamp, formats=(fmt,))
    return plan, {"plan": plan_path, **paths}


def _check_arguments(margin: float, target: str, expected: float, confidence: float, fmt: str) -> None:
    if not 0 < margin < 0.5:
        raise UsageError(
            f"--precision must be a margin between 0 and 0.5 (e.g. 0.02 for ± 2 points), got {margin}"
        )
    if target not in AUDIT_TARGETS:
        raise UsageError(f"--target must be one of {', '.join(AUDIT_TARGETS)}, got {target!r}")
    if not 0 < expected < 1:
        raise UsageError(
            f"--expected must be a proportion between 0 and 1 (0.5: the worst case), got {expected}"
        )
    if not 0.5 <= confidence < 1:
        raise UsageError(f"--confidence must be between 0.5 and 1 (e.g. 0.95), got {confidence}")
    if fmt not in ("csv", "xlsx"):
        raise UsageError(f"--format must be csv or xlsx, got {fmt!r}")
