"""Enforcement actions broken down by policy, DSA category and more, and their changes.

Two functions: :func:`breakdown_actions` (one month, tidy, every rate with its
numerator, denominator and Wilson interval) and :func:`compare_breakdowns` (the same
month against the previous month or the same month a year before, with a
significance test and a flag for changes that are both significant and material).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from govlib.contract import POLICY_DSA_CATEGORY, PROACTIVE_SOURCES
from govlib.metrics.frames import MetricInputError, require_columns, select_market_month
from govlib.stats import adjust_pvalues_bh, proportion_interval, test_poisson_rates, test_proportions_2indep
from govlib.timeutil import month_bounds, parse_month, shift_month

__all__ = [
    "BREAKDOWN_DIMENSIONS",
    "BREAKDOWN_METRICS",
    "breakdown_actions",
    "compare_breakdowns",
    "control_false_discoveries",
]

#: dimension -> (table it comes from, column)
BREAKDOWN_DIMENSIONS: dict[str, tuple[str, str]] = {
    "policy": ("enforcement_actions", "policy"),
    "dsa_category": ("enforcement_actions", "policy"),
    "action_type": ("enforcement_actions", "action_type"),
    "detection_source": ("enforcement_actions", "detection_source"),
    "decision_mode": ("enforcement_actions", "decision_mode"),
    "content_type": ("content", "content_type"),
    "language": ("content", "language"),
    "creator_tier": ("creators", "tier"),
}
BREAKDOWN_METRICS = ("actions", "share_of_actions", "proactive_rate", "automated_decision_rate")
NO_CONTENT = "(no content)"
UNKNOWN = "(unknown)"

_COLUMNS = [
    "market",
    "month",
    "dimension",
    "group",
    "metric",
    "value",
    "numerator",
    "denominator",
    "ci_low",
    "ci_high",
]


def _dimension_labels(
    ea: pd.DataFrame,
    dim: str,
    content: pd.DataFrame | None,
    creators: pd.DataFrame | None,
    local_policies: Mapping[str, str] | None,
) -> pd.Series:
    if dim not in BREAKDOWN_DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}; choose from {', '.join(BREAKDOWN_DIMENSIONS)}")
    table, col = BREAKDOWN_DIMENSIONS[dim]
    if table == "enforcement_actions":
        require_columns(ea, table, [col])
        labels = ea[col].astype(object)
        if dim == "dsa_category":
            mapping = {**POLICY_DSA_CATEGORY, **dict(local_policies or {})}
            mapped = labels.map(mapping)
            bad = labels[mapped.isna()]
            if len(bad):
                raise MetricInputError(
                    f"table 'enforcement_actions' column 'policy': {len(bad)} row(s) have a policy that is neither "
                    f"in the taxonomy nor a local policy of the market: {sorted(set(map(str, bad)))[:5]}; pass "
                    "local_policies=load_market(code).local_policies or fix the policy names."
                )
            labels = mapped
        return labels.fillna(UNKNOWN).astype(str)
    other = content if table == "content" else creators
    if other is None:
        raise MetricInputError(f"dimension {dim!r} needs the {table!r} table; pass {table}=...")
    key = "content_id" if table == "content" else "creator_id"
    require_columns(other, table, [key, col])
    lookup = pd.Series(other[col].astype(object).to_numpy(), index=other[key].astype(str).to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    ids = ea[key]
    labels = pd.Series(lookup.reindex(ids.astype(str).to_numpy()).to_numpy(), index=ea.index, dtype=object)
    labels = labels.where(labels.notna(), UNKNOWN)
    if table == "content":
        labels = labels.where(ids.notna().to_numpy(), NO_CONTENT)
    return labels.astype(str)


def _rate_row(metric, num, den):
    low, high = proportion_interval(num, den)
    return {
        "metric": metric,
        "value": num / den if den else math.nan,
        "numerator": float(num),
        "denominator": float(den),
        "ci_low": low,
        "ci_high": high,
    }


def breakdown_actions(
    actions: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    by: str | Sequence[str] | None = None,
    content: pd.DataFrame | None = None,
    creators: pd.DataFrame | None = None,
    local_policies: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Actions of one market-month broken down by one or more dimensions.

    Definition: for each group *g* of a dimension, among ``enforcement_actions`` of
    ``market`` actioned in local ``month``:

    - ``actions``: number of actions in *g* (numerator = value, no denominator);
    - ``share_of_actions``: actions in *g* / all actions of the month;
    - ``proactive_rate``: actions in *g* detected ``automated`` or
      ``proactive_review`` / actions in *g*;
    - ``automated_decision_rate``: actions in *g* decided ``automated`` / actions in *g*.

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions`` (may hold other markets and months).
    market, month, tz : str
        Market code, ``YYYY-MM`` and the market's time zone.
    by : str or list of str, optional
        Dimensions among ``"policy"``, ``"dsa_category"``, ``"action_type"``,
        ``"detection_source"``, ``"decision_mode"``, ``"content_type"``,
        ``"language"`` (these two join ``content`` on ``content_id``; an action
        without content is ``"(no content)"``, content not found ``"(unknown)"``),
        ``"creator_tier"`` (joins ``creators``). None: every dimension whose table is given.
    content, creators : DataFrame, optional
        Contract tables for the joined dimensions.
    local_policies : mapping, optional
        The market's local policy -> DSA category (``MarketParams.local_policies``).

    Returns
    -------
    DataFrame
        Tidy: ``market, month, dimension, group, metric, value, numerator,
        denominator, ci_low, ci_high``; rates with a 95% Wilson interval; an empty
        denominator gives NaN. Groups are sorted; only groups with at least one
        action appear.

    Notes
    -----
    The DSA statement categories are those of the Transparency Database (v2, from
    1 July 2025), through ``govlib.contract.POLICY_DSA_CATEGORY``.

    References
    ----------
    .. [1] Implementing Regulation (EU) 2024/2835, Annex I, Parts 5 and 6 (own-initiative
       measures by type of illegal content / terms-and-conditions ground, detection and
       decision means).
    .. [2] TikTok, Community Guidelines Enforcement Report (removals by policy, proactive rate).
    """
    parse_month(month)
    require_columns(
        actions, "enforcement_actions", ["market", "actioned_at", "detection_source", "decision_mode"]
    )
    if by is None:
        by = [
            d
            for d, (t, _) in BREAKDOWN_DIMENSIONS.items()
            if t == "enforcement_actions"
            or (t == "content" and content is not None)
            or (t == "creators" and creators is not None)
        ]
    elif isinstance(by, str):
        by = [by]
    ea = select_market_month(actions, "enforcement_actions", market, month, tz, "actioned_at")
    total = len(ea)
    proactive = ea["detection_source"].isin(PROACTIVE_SOURCES).to_numpy()
    automated = (ea["decision_mode"] == "automated").to_numpy(dtype=bool, na_value=False)
    rows = []
    for dim in by:
        labels = _dimension_labels(ea, dim, content, creators, local_policies).to_numpy()
        for g in sorted(set(labels)):
            inn = labels == g
            n = int(inn.sum())
            base = {"dimension": dim, "group": g}
            rows.append(
                {
                    **base,
                    "metric": "actions",
                    "value": float(n),
                    "numerator": float(n),
                    "denominator": math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                }
            )
            rows.append({**base, **_rate_row("share_of_actions", n, total)})
            rows.append({**base, **_rate_row("proactive_rate", int(proactive[inn].sum()), n)})
            rows.append({**base, **_rate_row("automated_decision_rate", int(automated[inn].sum()), n)})
    out = pd.DataFrame(rows, columns=_COLUMNS[2:])
    out.insert(0, "month", month)
    out.insert(0, "market", market)
    return out[_COLUMNS].astype({c: float for c in _COLUMNS[5:]}).reset_index(drop=True)


def _days_in_month(month: str, tz: str) -> float:
    start, end = month_bounds(month, tz)
    return (end - start).total_seconds() / 86400.0


def control_false_discoveries(changes: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Flags of a table of tested changes at false discovery rate ``alpha``, the table as one family.

    Parameters
    ----------
    changes : DataFrame
        Rows of :func:`compare_breakdowns` (``pvalue`` and ``material``), possibly the rows
        of several calls shown in one table (e.g. on last month and on last year).
    alpha : float, default 0.05
        False discovery rate.

    Returns
    -------
    DataFrame
        A copy with ``qvalue`` (:func:`govlib.stats.intervals.adjust_pvalues_bh` over every
        tested row), ``significant`` (``qvalue < alpha``) and ``flagged`` (significant and
        material) set again.
    """
    out = changes.copy()
    out["qvalue"] = adjust_pvalues_bh(out["pvalue"].to_numpy(dtype=float))
    out["significant"] = np.nan_to_num(out["qvalue"].to_numpy(dtype=float), nan=1.0) < alpha
    out["flagged"] = out["significant"] & out["material"].astype(bool)
    return out


def compare_breakdowns(
    actions: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    by: str | Sequence[str] | None = None,
    against: str = "previous_month",
    content: pd.DataFrame | None = None,
    creators: pd.DataFrame | None = None,
    local_policies: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    min_relative: float = 0.10,
    min_absolute_rate: float = 0.01,
    min_absolute_count: float = 5,
) -> pd.DataFrame:
    """Month-over-month or year-over-year changes of :func:`breakdown_actions`, tested and flagged.

    Definition: for each dimension, group and metric, ``value`` this month against
    ``value_before`` in the comparison month; ``change = value - value_before``.

    Parameters
    ----------
    actions, market, month, tz, by, content, creators, local_policies
        As in :func:`breakdown_actions`; ``actions`` must cover the comparison month.
    against : {"previous_month", "previous_year"}
        Compare with ``M-1`` (month over month) or ``M-12`` (year over year).
    alpha : float, default 0.05
        False discovery rate across the table's tested cells (Benjamini-Hochberg).
    min_relative : float, default 0.10
        Material when the relative change is at least 10% ...
    min_absolute_rate : float, default 0.01
        ... and, for rates, the absolute change is at least 1 percentage point ...
    min_absolute_count : float, default 5
        ... and, for counts, at least 5 actions.

    Returns
    -------
    DataFrame
        Columns of :func:`breakdown_actions` plus ``against_month, value_before,
        numerator_before, denominator_before, change, relative_change, test, pvalue,
        qvalue, significant, material, flagged``. A group absent in one month has 0 actions
        there (its rates are NaN, hence never flagged).

    Notes
    -----
    Counts (``actions``) are compared with the exact conditional Poisson test with
    each month's elapsed length in days as exposure (a 31-day month is not a 10% rise
    over a 28-day month; a local month with a DST change is one hour longer or
    shorter); their ``relative_change`` is that of the daily rate. Rates are
    compared with the two-proportion score (z) test. A table tests hundreds of cells,
    so ``significant`` compares the Benjamini-Hochberg q-value of the whole table (every
    tested cell of the call, :func:`control_false_discoveries`) with ``alpha``, not the
    p-value: about one flag in twenty would otherwise be chance. ``flagged`` =
    significant and material (the rule of :func:`govlib.stats.intervals.flag_change`).

    References
    ----------
    .. [1] Przyborowski, J., Wilenski, H. (1940). Biometrika 31, 313-323 (exact Poisson test).
    .. [2] Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.1 (two-proportion test).
    .. [3] Benjamini, Y., Hochberg, Y. (1995). JRSS B 57(1), 289-300 (false discovery rate).
    """
    if against not in ("previous_month", "previous_year"):
        raise ValueError(f"against must be 'previous_month' or 'previous_year', got {against!r}")
    before_month = shift_month(month, -1 if against == "previous_month" else -12)
    kw = {"by": by, "content": content, "creators": creators, "local_policies": local_policies}
    now = breakdown_actions(actions, market, month, tz, **kw)
    before = breakdown_actions(actions, market, before_month, tz, **kw)
    key = ["dimension", "group", "metric"]
    merged = now.drop(columns=["month"]).merge(
        before[key + ["value", "numerator", "denominator"]].rename(
            columns={
                "value": "value_before",
                "numerator": "numerator_before",
                "denominator": "denominator_before",
            }
        ),
        on=key,
        how="outer",
    )
    merged["market"] = market
    for suffix in ("", "_before"):
        _fill_absent_groups(
            merged, suffix, _month_total(actions, market, month if suffix == "" else before_month, tz)
        )
    merged["month"] = month
    merged["against_month"] = before_month
    tests, pvalues, rel = _test_changes(merged, _days_in_month(month, tz), _days_in_month(before_month, tz))
    merged["change"] = merged["value"] - merged["value_before"]
    merged["relative_change"] = rel
    merged["test"] = tests
    merged["pvalue"] = pvalues
    abs_min = np.where(merged["metric"] == "actions", min_absolute_count, min_absolute_rate)
    relc = np.abs(merged["relative_change"].to_numpy(dtype=float))
    absc = np.abs(merged["change"].to_numpy(dtype=float))
    merged["material"] = (np.nan_to_num(relc, nan=0.0) >= min_relative) & (
        np.nan_to_num(absc, nan=0.0) >= abs_min
    )
    merged = control_false_discoveries(merged, alpha)
    cols = (
        _COLUMNS[:2]
        + ["against_month"]
        + _COLUMNS[2:]
        + [
            "value_before",
            "numerator_before",
            "denominator_before",
            "change",
            "relative_change",
            "test",
            "pvalue",
            "qvalue",
            "significant",
            "material",
            "flagged",
        ]
    )
    order = {m: i for i, m in enumerate(BREAKDOWN_METRICS)}
    dims = list(dict.fromkeys(now["dimension"].tolist() + before["dimension"].tolist()))
    merged["_d"] = merged["dimension"].map({d: i for i, d in enumerate(dims)})
    merged["_m"] = merged["metric"].map(order)
    merged = merged.sort_values(["_d", "group", "_m"], kind="stable")
    return merged[cols].reset_index(drop=True)


def _fill_absent_groups(merged: pd.DataFrame, suffix: str, total: float) -> None:
    """A group seen in one month only: fill its counts (and its share denominator) from the month
    total, in place; ``suffix`` is "" (this month, intervals recomputed) or "_before"."""
    missing = merged["value" + suffix].isna() & merged["numerator" + suffix].isna()
    is_count = merged["metric"] == "actions"
    is_share = merged["metric"] == "share_of_actions"
    merged.loc[missing & is_count, ["value" + suffix, "numerator" + suffix]] = 0.0
    merged.loc[missing & ~is_count, "numerator" + suffix] = 0.0
    merged.loc[missing & ~is_count & ~is_share, "denominator" + suffix] = 0.0
    merged.loc[missing & is_share, "denominator" + suffix] = float(total)
    merged.loc[missing & is_share, "value" + suffix] = 0.0 if total else math.nan
    if suffix == "":
        for i in merged.index[missing & ~is_count]:
            low, high = proportion_interval(merged.at[i, "numerator"], merged.at[i, "denominator"])
            merged.at[i, "ci_low"], merged.at[i, "ci_high"] = low, high


def _test_changes(merged: pd.DataFrame, days_now: float, days_before: float) -> tuple[list, list, list]:
    """Per row: the test used, its p-value and the relative change (of the daily rate for counts)."""
    tests, pvalues, rel = [], [], []
    for r in merged.itertuples(index=False):
        if r.metric == "actions":
            res = test_poisson_rates(r.numerator, days_now, r.numerator_before, days_before)
            tests.append("poisson_exact")
            new, old = res.estimate1, res.estimate2
        else:
            res = test_proportions_2indep(
                r.numerator, r.denominator, r.numerator_before, r.denominator_before
            )
            tests.append("two_proportion_z")
            new, old = r.value, r.value_before
        pvalues.append(res.pvalue)
        if old == 0 or pd.isna(old) or pd.isna(new):
            rel.append(math.inf if (old == 0 and new > 0) else (0.0 if old == 0 and new == 0 else math.nan))
        else:
            rel.append((new - old) / abs(old))
    return tests, pvalues, rel


def _month_total(actions, market, month, tz) -> int:
    return len(select_market_month(actions, "enforcement_actions", market, month, tz, "actioned_at"))
