"""Content performance: how much reach and sales violating content gets.

The month's items stay on the engine (Ibis expressions, :mod:`govlib.metrics.expr`): the
first two functions return per-group counts, sums and medians; given pandas frames they run
on an in-memory DuckDB table.

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

import ibis
import numpy as np
import pandas as pd

from govlib.errors import GovlibError
from govlib.metrics.expr import as_table, require_columns, utc_literal
from govlib.stats import proportion_interval
from govlib.stats.survey import estimate_prevalence_from_totals
from govlib.timeutil import in_month, month_bounds

__all__ = ["compare_actioned_content", "estimate_exposure_to_violations", "summarise_views_before_action"]

MEASURES = ("gmv_eur", "views")
NO_CATEGORY = "(none)"


class PerformanceInputError(GovlibError):
    """Inputs of a content-performance metric lack columns."""


def _require(df, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, PerformanceInputError)


def _month_content(content, actions, market: str, month: str, tz: str, by: str | None):
    """The market's content published in local ``month`` on the engine: ``views, gmv_eur, actioned, group``."""
    c, a = as_table(content, "content"), as_table(actions, "enforcement_actions")
    _require(
        c, "content", ["content_id", "market", "published_at", "views", "gmv_eur"] + ([by] if by else [])
    )
    _require(a, "enforcement_actions", ["content_id"])
    start, end = (utc_literal(x)[1] for x in month_bounds(month, tz))
    c = c.filter((c.market == market) & (c.published_at >= start) & (c.published_at < end))
    ids = a.filter(a.content_id.notnull()).select(_cid=a.content_id.cast("string")).distinct()
    c = c.left_join(ids, c.content_id.cast("string") == ids._cid)
    group = c[by].cast("string").fill_null(NO_CATEGORY) if by else ibis.literal("all")
    return c.select(
        views=c.views.cast("float64"),
        gmv_eur=c.gmv_eur.cast("float64"),
        actioned=c._cid.notnull(),
        group=group,
    )


def compare_actioned_content(
    content,
    actions,
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
    content, actions : ibis.Table or DataFrame
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
    across months). Actioned content stops accumulating when removed. The items stay on
    the engine: per group and side it returns counts, sums and the exact median
    (DuckDB ``percentile_cont``, Spark ``percentile``: linear interpolation, as pandas).
    """
    d = _month_content(content, actions, market, month, tz, by)
    agg = d.group_by(["group", "actioned"]).agg(
        n=d.count(), views=d.views.sum(), med=d.views.median(), gmv=d.gmv_eur.sum(), gmv_n=d.gmv_eur.count()
    )
    sides = {(g, bool(a)): r for g, a, *r in agg.execute().itertuples(index=False)}
    rows = []
    for g in sorted({g for g, _ in sides}):
        (na, va, ma, ga, gna), (nc, vc, mc, gc, gnc) = (
            _side(sides.get((g, True))),
            _side(sides.get((g, False))),
        )
        n, k = na + nc, na
        lo, hi = proportion_interval(k, n, alpha=alpha)
        rows.append(
            {
                "group": g,
                "items": n,
                "actioned_items": k,
                "actioned_share": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
                "views_actioned": va,
                "views_compliant": vc,
                "median_views_actioned": ma if k else math.nan,
                "median_views_compliant": mc if nc else math.nan,
                "gmv_actioned_eur": ga,
                "gmv_compliant_eur": gc,
                "mean_gmv_actioned_eur": ga / gna if gna else math.nan,
                "mean_gmv_compliant_eur": gc / gnc if gnc else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


COMPARE_COLUMNS = [
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


def _side(r) -> tuple[int, float, float, float, int]:
    """One side's ``(items, views, median views, gmv, items with gmv)``; zeros (NaN median) when empty."""
    if r is None:
        return 0, 0.0, math.nan, 0.0, 0
    n, views, med, gmv, gmv_n = r
    nz = lambda x: 0.0 if pd.isna(x) else float(x)  # noqa: E731 - an empty sum is null on the engine
    return int(n), nz(views), math.nan if pd.isna(med) else float(med), nz(gmv), int(gmv_n)


def estimate_exposure_to_violations(
    content,
    actions,
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
    content, actions : ibis.Table or DataFrame
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
    error of the total, which is a census. The engine sums ``w``, ``w * y`` and
    ``w**2`` per side (:func:`govlib.stats.survey.estimate_prevalence_from_totals`):
    the same estimate without moving the items.

    References
    ----------
    .. [1] Cochran, W. G. (1977). Sampling Techniques, 3rd ed., ch. 6 (ratio estimators).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    d = _month_content(content, actions, market, month, tz, by)
    w, y = d[measure], d.actioned
    agg = d.group_by("group").agg(
        n=d.count(),
        k=y.cast("int64").sum(),
        bad=(w.isnull() | (w < 0)).cast("int64").sum(),
        W=w.sum(),
        Wy=w.sum(where=y),
        W2y=(w * w).sum(where=y),
        W2o=(w * w).sum(where=~y),
    )
    agg = agg.execute().sort_values("group").reset_index(drop=True)
    if agg.empty and by is None:
        agg = pd.DataFrame({"group": ["all"], "n": [0], "k": [0], "bad": [0]})
    rows = []
    for r in agg.to_dict("records"):
        if int(r["bad"]):
            raise ValueError(f"weight has {int(r['bad'])} missing or negative values; weights must be >= 0")
        tot = {c: 0.0 if pd.isna(r.get(c)) else float(r[c]) for c in ("W", "Wy", "W2y", "W2o")}
        est = estimate_prevalence_from_totals(
            int(r["n"]), int(r["k"]), tot["W"], tot["Wy"], tot["W2y"], tot["W2o"], alpha=alpha
        )
        rows.append(
            {
                "group": r["group"],
                "measure": measure,
                "value": est.value,
                "numerator": tot["Wy"],
                "denominator": tot["W"],
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "items": int(r["n"]),
                "actioned_items": int(r["k"]),
            }
        )
    return pd.DataFrame(rows, columns=EXPOSURE_COLUMNS)


EXPOSURE_COLUMNS = [
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


def summarise_views_before_action(
    actions: pd.DataFrame,
    *,
    market: str,
    month: str,
    tz: str,
    by: str | None = "action_type",
    quantiles: Sequence[float] = (0.5, 0.9, 0.99),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Views content got before it was actioned, and the share actioned before any view.

    Definition: actions of ``market`` actioned in local ``month`` with a non-null
    ``views_before_action``. ``zero_views_share`` = share with ``views_before_action
    == 0`` (with ``by="action_type"``, the ``content_removed`` row is the KPI
    ``removed_before_views_rate`` of ``kpis.md``); denominator: those actions.

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions``.
    market, month, tz : str
        Market, ``YYYY-MM`` and its time zone.
    by : str or None, default "action_type"
        Breakdown column (``action_type``, ``policy``, ``detection_source``...).
    quantiles : sequence of float
        Reported as ``p50, p90, p99`` (linear interpolation).
    alpha : float, default 0.05
        Wilson interval level.

    Returns
    -------
    DataFrame
        Per group: ``actions`` (with a known view count), ``zero_views``,
        ``zero_views_share, ci_low, ci_high, views_total, views_mean`` and the quantile
        columns.
    """
    cols = ["market", "actioned_at", "views_before_action"] + ([by] if by else [])
    _require(actions, "enforcement_actions", cols)
    a = actions[actions["market"].astype(str) == market]
    a = a[in_month(a["actioned_at"], month, tz).to_numpy() & a["views_before_action"].notna().to_numpy()]
    v = a["views_before_action"].to_numpy(dtype=float)
    grp = a[by].astype(str).to_numpy() if by else np.full(len(a), "all", dtype=object)
    rows = []
    names = sorted(set(grp)) if len(a) else (["all"] if by is None else [])
    for g in names:
        x = v[grp == g]
        n, k = len(x), int((x == 0).sum())
        lo, hi = proportion_interval(k, n, alpha=alpha)
        row = {
            "group": g,
            "actions": n,
            "zero_views": k,
            "zero_views_share": k / n if n else math.nan,
            "ci_low": lo,
            "ci_high": hi,
            "views_total": float(x.sum()),
            "views_mean": float(x.mean()) if n else math.nan,
        }
        for q in quantiles:
            row[f"p{round(q * 100):02d}"] = float(np.quantile(x, q)) if n else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
