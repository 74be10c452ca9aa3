"""Month-on-month and year-on-year changes of the headline KPIs, for the reports and the EMEA roll-up.

Thin glue over :mod:`govlib.stats.intervals`: which test fits which KPI unit, and the
significant-and-material rule of :func:`govlib.stats.intervals.flag_change`.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from govlib.stats import adjust_pvalues_bh, flag_change, test_poisson_rates, test_proportions_2indep

CHANGE_COLUMNS = [
    "market",
    "kpi_id",
    "unit",
    "month",
    "against_month",
    "value",
    "value_before",
    "change",
    "relative_change",
    "test",
    "pvalue",
    "qvalue",
    "flagged",
]
# KPIs whose numerator and denominator are counts of independent items (a binomial test applies).
# violating_view_prevalence is a weighted estimate: its numerator and denominator are views.
_BINOMIAL_SHARES = {
    "proactive_rate",
    "automated_decision_rate",
    "removed_before_views_rate",
    "removed_within_24h_rate",
    "overturn_rate",
    "recidivism_90d",
}


def _days(month: str) -> int:
    return calendar.monthrange(int(month[:4]), int(month[5:7]))[1]


def compare_kpis(
    kpis: pd.DataFrame,
    month: str,
    against: str,
    *,
    alpha: float = 0.05,
    min_relative: float = 0.10,
    min_absolute_rate: float = 0.01,
    min_absolute_count: float = 5,
) -> pd.DataFrame:
    """Change of each headline KPI from month ``against`` to ``month``, tested and flagged.

    Parameters
    ----------
    kpis : DataFrame
        KPI rows in the export format of ``kpis.md`` (``market, month, kpi_id, value,
        numerator, denominator, ..., unit``), holding both months, one or more markets.
    month, against : str
        ``YYYY-MM`` of the current and the comparison month.
    alpha : float
        Significance level.
    min_relative, min_absolute_rate, min_absolute_count : float
        Materiality: relative change at least ``min_relative`` and absolute change at
        least ``min_absolute_rate`` (shares) or ``min_absolute_count`` (counts).

    Returns
    -------
    DataFrame
        ``market, kpi_id, unit, month, against_month, value, value_before, change,
        relative_change, test, pvalue, flagged``; one row per market and KPI present
        in ``month``. ``test`` is one of "two-proportion z", "exact Poisson" or "none".

    Notes
    -----
    Shares of counted items use :func:`~govlib.stats.intervals.test_proportions_2indep`
    (pooled score test); counts use :func:`~govlib.stats.intervals.test_poisson_rates`
    (exact conditional test) with the number of days of each month as exposure, so that
    a 31-day month is not flagged against a 30-day one for its extra day. Ratios, medians
    and the weighted prevalence are not tested here (``pvalue`` NaN, never flagged): the
    prevalence's intervals are shown instead. A flag needs significance *and*
    materiality (:func:`~govlib.stats.intervals.flag_change`); significance compares the
    Benjamini-Hochberg q-value of every tested row of the call (``qvalue``,
    :func:`~govlib.stats.intervals.adjust_pvalues_bh`) with ``alpha``, so that a table of
    markets × KPIs controls its false discovery rate.
    """
    now = kpis[kpis["month"] == month]
    before = kpis[kpis["month"] == against].set_index(["market", "kpi_id"])
    rows = []
    for r in now.itertuples(index=False):
        key = (r.market, r.kpi_id)
        b = before.loc[key] if key in before.index else None
        value_before = float(b["value"]) if b is not None else math.nan
        value = float(r.value)
        test, p = "none", math.nan
        if b is not None and r.unit == "share" and r.kpi_id in _BINOMIAL_SHARES:
            if r.denominator > 0 and b["denominator"] > 0:
                res = test_proportions_2indep(
                    int(r.numerator), int(r.denominator), int(b["numerator"]), int(b["denominator"])
                )
                test, p = "two-proportion z", res.pvalue
        elif b is not None and r.unit == "count" and not (math.isnan(value) or math.isnan(value_before)):
            res = test_poisson_rates(int(value), _days(month), int(value_before), _days(against))
            test, p = "exact Poisson", res.pvalue
        change = value - value_before
        rel = (
            change / abs(value_before)
            if value_before not in (0.0,) and not math.isnan(value_before)
            else math.nan
        )
        rows.append(
            {
                "market": r.market,
                "kpi_id": r.kpi_id,
                "unit": r.unit,
                "month": month,
                "against_month": against,
                "value": value,
                "value_before": value_before,
                "change": change,
                "relative_change": rel,
                "test": test,
                "pvalue": p,
            }
        )
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    out["qvalue"] = adjust_pvalues_bh(out["pvalue"].to_numpy(dtype=float))
    min_abs = np.where(out["unit"] == "share", min_absolute_rate, min_absolute_count)
    out["flagged"] = (
        flag_change(
            out["value"],
            out["value_before"],
            out["qvalue"],
            alpha=alpha,
            min_relative=min_relative,
            min_absolute=min_abs,
        )
        & (out["test"] != "none").to_numpy()
    )
    return out


def rank_markets(kpis: pd.DataFrame, month: str, kpi_ids: Sequence[str]) -> pd.DataFrame:
    """Markets ranked on each KPI of ``month`` (1 = highest value; missing values last, unranked).

    Returns ``market, kpi_id, value, ci_low, ci_high, rank``; ties share the lowest rank.
    """
    now = kpis[(kpis["month"] == month) & (kpis["kpi_id"].isin(list(kpi_ids)))].copy()
    now["rank"] = now.groupby("kpi_id")["value"].rank(ascending=False, method="min")
    return (
        now[["market", "kpi_id", "value", "ci_low", "ci_high", "rank"]]
        .sort_values(["kpi_id", "rank", "market"], na_position="last")
        .reset_index(drop=True)
    )


def ranking_figure(_, fmt, ranks: pd.DataFrame, kpi_ids: Sequence[str], month: str):
    """One panel per KPI: markets by value with 95% interval bars (``ranks`` of :func:`rank_markets`).

    Draws what exists: markets without a value are left out, and a KPI no market has a
    value for (e.g. appeals on a DSA Transparency Database import, or a month without
    actions) gets an annotated empty panel instead of failing.
    """
    from govlib.report import present, theme

    fig, axes = theme.new_figure(nrows=1, ncols=len(kpi_ids), height_cm=8, squeeze=False)
    for ax, kid in zip(axes[0], kpi_ids):
        d = ranks[ranks["kpi_id"] == kid].dropna(subset=["value"]).sort_values(["value", "market"])
        scale = 10000 if kid == "violating_view_prevalence" else 100
        unit = _("per {base} views").format(base=fmt.count(10000)) if scale == 10000 else "%"
        label = present.kpi_label(_, kid)
        if d.empty:
            theme.annotate_no_data(ax, _("No market has a value in {month}").format(month=fmt.month(month)))
        else:
            ax.barh(
                d["market"],
                d["value"] * scale,
                xerr=[
                    (d["value"] - d["ci_low"]).clip(lower=0) * scale,
                    (d["ci_high"] - d["value"]).clip(lower=0) * scale,
                ],
            )
        # panels side by side: wrapped title and x label, so neighbours' labels do not run into each other
        theme.label_axes(ax, label, label, _("Market"), x_unit=unit, wrap=max(12, 60 // len(kpi_ids)))
    return fig
