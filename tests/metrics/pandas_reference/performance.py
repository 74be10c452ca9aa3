"""Reference (pandas, before issue 15) of govlib.metrics.performance. Content performance: how much reach and sales violating content gets.

Functions
---------
compare_actioned_content
    Views and GMV of actioned versus not-actioned content, by product category (or
    content type, language).
estimate_exposure_to_violations
    GMV (or views) attributed to content later actioned, as a share of all GMV, with a
    design-based interval.
summarise_views_before_action
    Distribution of views before action and the share removed before any view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from govlib.errors import GovlibError
from govlib.stats import estimate_prevalence, proportion_interval
from govlib.timeutil import in_month

__all__ = ["compare_actioned_content", "estimate_exposure_to_violations"]

MEASURES = ("gmv_eur", "views")
NO_CATEGORY = "(none)"


class PerformanceInputError(GovlibError):
    """Inputs of a content-performance metric lack columns."""


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PerformanceInputError(
            f"table {table!r} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}"
        )


def _month_content(
    content: pd.DataFrame, actions: pd.DataFrame, market: str, month: str, tz: str, by: str | None
) -> pd.DataFrame:
    cols = ["content_id", "market", "published_at", "views", "gmv_eur"] + ([by] if by else [])
    _require(content, "content", cols)
    _require(actions, "enforcement_actions", ["content_id"])
    c = content[content["market"].astype(str) == market]
    c = c[in_month(c["published_at"], month, tz).to_numpy()]
    actioned = set(actions["content_id"].dropna().astype(str))
    out = pd.DataFrame(
        {
            "content_id": c["content_id"].astype(str).to_numpy(),
            "views": c["views"].to_numpy(dtype=float),
            "gmv_eur": c["gmv_eur"].to_numpy(dtype=float),
        }
    )
    out["actioned"] = out["content_id"].isin(actioned)
    out["group"] = (
        c[by].astype(object).where(c[by].notna(), NO_CATEGORY).astype(str).to_numpy() if by else "all"
    )
    return out


def compare_actioned_content(
    content: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    market: str,
    month: str,
    tz: str,
    by: str | None = "product_category",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Views and GMV of actioned versus not-actioned content published in a month.

    Definition: the content of ``market`` published in local ``month``; an item is
    *actioned* when any row of ``actions`` (pass all actions up to the data end, not
    only the month's) names its ``content_id``; the others are "compliant" in the
    sense of not actioned (undetected violations stay among them). Denominator of
    ``actioned_share``: items published in the month in the group.

    Parameters
    ----------
    content, actions : DataFrame
        Contract tables ``content`` and ``enforcement_actions``.
    market, month, tz : str
        Market, ``YYYY-MM`` and its time zone.
    by : str or None, default "product_category"
        Column of ``content`` to break down by (``product_category``,
        ``content_type``, ``language``); missing categories are ``"(none)"``.
    alpha : float, default 0.05
        Wilson interval level of ``actioned_share``.

    Returns
    -------
    DataFrame
        Per group: ``items, actioned_items, actioned_share, ci_low, ci_high,
        views_actioned, views_compliant, median_views_actioned, median_views_compliant,
        gmv_actioned_eur, gmv_compliant_eur, mean_gmv_actioned_eur,
        mean_gmv_compliant_eur``; medians and means NaN for an empty side.

    Notes
    -----
    ``views`` and ``gmv_eur`` are lifetime values at the data cut-off, so recent
    content has had less time to accumulate both (compare groups within a month, not
    across months). Actioned content stops accumulating when removed.
    """
    d = _month_content(content, actions, market, month, tz, by)
    rows = []
    for g in sorted(d["group"].unique()):
        x = d[d["group"] == g]
        a, c = x[x["actioned"]], x[~x["actioned"]]
        n, k = len(x), len(a)
        lo, hi = proportion_interval(k, n, alpha=alpha)
        rows.append(
            {
                "group": g,
                "items": n,
                "actioned_items": k,
                "actioned_share": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
                "views_actioned": float(a["views"].sum()),
                "views_compliant": float(c["views"].sum()),
                "median_views_actioned": float(a["views"].median()) if k else math.nan,
                "median_views_compliant": float(c["views"].median()) if len(c) else math.nan,
                "gmv_actioned_eur": float(a["gmv_eur"].sum()),
                "gmv_compliant_eur": float(c["gmv_eur"].sum()),
                "mean_gmv_actioned_eur": float(a["gmv_eur"].mean()) if k else math.nan,
                "mean_gmv_compliant_eur": float(c["gmv_eur"].mean()) if len(c) else math.nan,
            }
        )
    cols = [
        "group",
        "items",
        "actioned_items",
        "actioned_share",
        "ci_low",
        "ci_high",
        "views_actioned",
        "views_compliant",
        "median_views_actioned",
        "median_views_compliant",
        "gmv_actioned_eur",
        "gmv_compliant_eur",
        "mean_gmv_actioned_eur",
        "mean_gmv_compliant_eur",
    ]
    return pd.DataFrame(rows, columns=cols)


def estimate_exposure_to_violations(
    content: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    market: str,
    month: str,
    tz: str,
    measure: str = "gmv_eur",
    by: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """GMV (or views) exposed to violations: the share attributed to content later actioned.

    Definition: over the content of ``market`` published in local ``month``,
    ``value = sum(measure of actioned items) / sum(measure of all items)``; numerator
    the GMV (EUR) or views of items later actioned, denominator the month's total.

    Parameters
    ----------
    content, actions : DataFrame
        Contract tables; ``actions`` up to the data end.
    market, month, tz : str
        Market, ``YYYY-MM`` and its time zone.
    measure : {"gmv_eur", "views"}
        What is exposed.
    by : str or None
        Optional breakdown column of ``content`` (e.g. ``"product_category"``).
    alpha : float, default 0.05
        Interval level.

    Returns
    -------
    DataFrame
        Per group: ``measure, value, numerator, denominator, ci_low, ci_high, items,
        actioned_items``. A zero total gives NaN.

    Notes
    -----
    The month's items are treated as a sample from the process generating content, and
    the interval is that of a ratio estimator with item-level linearisation
    (:func:`govlib.stats.survey.estimate_prevalence` with the measure as weight:
    ``sum(w * y) / sum(w)``, Korn-Graubard interval). It expresses how variable the
    share is given a few items carry most of the GMV (heavy tails), not a sampling
    error of the total, which is a census.

    References
    ----------
    .. [1] Cochran, W. G. (1977). Sampling Techniques, 3rd ed., ch. 6 (ratio estimators).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    d = _month_content(content, actions, market, month, tz, by)
    rows = []
    groups = sorted(d["group"].unique()) if len(d) else (["all"] if by is None else [])
    for g in groups:
        x = d[d["group"] == g]
        w = x[measure].to_numpy(dtype=float)
        y = x["actioned"].to_numpy()
        est = estimate_prevalence(y, weight=w, alpha=alpha)
        rows.append(
            {
                "group": g,
                "measure": measure,
                "value": est.value,
                "numerator": float((w * y).sum()),
                "denominator": float(w.sum()),
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "items": len(x),
                "actioned_items": int(y.sum()),
            }
        )
    cols = [
        "group",
        "measure",
        "value",
        "numerator",
        "denominator",
        "ci_low",
        "ci_high",
        "items",
        "actioned_items",
    ]
    return pd.DataFrame(rows, columns=cols)
