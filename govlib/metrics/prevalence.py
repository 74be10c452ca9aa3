"""Prevalence of violating views from weighted, stratified view samples.

Prevalence answers "how many views landed on violating content?", which action
counts cannot: a platform that acts on less finds less. Estimated from a
probability sample of views (``prevalence_samples``) labelled by reviewers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from govlib.metrics.frames import require_columns, select_market, select_market_month
from govlib.stats import estimate_prevalence
from govlib.timeutil import local_month, parse_month

__all__ = ["estimate_monthly_prevalence", "estimate_policy_prevalence"]

ALL = "(all)"
UNSPECIFIED = "(unspecified)"
_NEEDED = ["market", "sampled_at", "weight", "is_violating"]
_OUT = [
    "value",
    "ci_low",
    "ci_high",
    "upper_bound",
    "upper_per_10k",
    "is_rare",
    "se",
    "numerator",
    "denominator",
    "n_samples",
    "n_violating",
    "n_strata",
    "effective_n",
]


def _estimate(y: np.ndarray, w: np.ndarray, strata, alpha: float, method: str, rare_count: int) -> dict:
    e = estimate_prevalence(y, w, strata, alpha=alpha, method=method, rare_count=rare_count)
    return {
        "value": e.value,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "upper_bound": e.upper_bound,
        "upper_per_10k": e.upper_bound * 10_000 if not math.isnan(e.upper_bound) else math.nan,
        "is_rare": e.is_rare,
        "se": e.se,
        "numerator": float((w * y).sum()),
        "denominator": e.weight_total,
        "n_samples": e.n_samples,
        "n_violating": e.n_violating,
        "n_strata": e.n_strata,
        "effective_n": e.effective_n,
    }


def _arrays(ps: pd.DataFrame):
    y = ps["is_violating"].astype(bool).to_numpy()
    w = pd.to_numeric(ps["weight"]).to_numpy(dtype=float)
    strata = ps["stratum"].to_numpy(dtype=object) if "stratum" in ps.columns else None
    return y, w, strata


def estimate_monthly_prevalence(
    samples: pd.DataFrame,
    market: str,
    tz: str,
    months: Sequence[str] | None = None,
    alpha: float = 0.05,
    method: str = "korn-graubard",
    rare_count: int = 10,
) -> pd.DataFrame:
    """Violating-view prevalence of a market for each month.

    Definition: for month *M*, over ``prevalence_samples`` of ``market`` with
    ``sampled_at`` in local *M*: ``sum(weight * is_violating) / sum(weight)``
    (numerator: violating views represented; denominator: views represented). The
    value for the reporting month is the KPI ``violating_view_prevalence``.

    Parameters
    ----------
    samples : DataFrame
        Contract table ``prevalence_samples`` (may hold other markets).
    market, tz : str
        Market code and its time zone.
    months : list of str, optional
        ``YYYY-MM`` months to estimate (a month without samples gives NaN); None:
        every local month with samples, in order.
    alpha, method, rare_count
        As in :func:`govlib.stats.survey.estimate_prevalence` (Korn-Graubard 95%
        interval by default; ``upper_bound`` is the one-sided 97.5% bound).

    Returns
    -------
    DataFrame
        ``market, month, value, ci_low, ci_high, upper_bound, upper_per_10k, is_rare,
        se, numerator, denominator, n_samples, n_violating, n_strata, effective_n``.
        When ``is_rare`` (fewer than ``rare_count`` violating samples), report
        "no more than ``upper_per_10k`` violating views per 10,000 views".

    References
    ----------
    .. [1] Meta, Community Standards Enforcement Report, "Prevalence".
       https://transparency.meta.com/policies/improving/prevalence-metric/
    .. [2] YouTube, Violative View Rate. https://transparencyreport.google.com/youtube-policy/
    .. [3] Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24(2), 193-201.
    """
    require_columns(samples, "prevalence_samples", _NEEDED)
    mine = select_market(samples, "prevalence_samples", market)
    if months is None:
        months = sorted(set(local_month(mine["sampled_at"], tz).dropna()))
    rows = []
    for m in months:
        parse_month(m)
        ps = select_market_month(mine, "prevalence_samples", None, m, tz, "sampled_at")
        y, w, strata = _arrays(ps)
        rows.append({"market": market, "month": m, **_estimate(y, w, strata, alpha, method, rare_count)})
    return pd.DataFrame(rows, columns=["market", "month"] + _OUT)


def estimate_policy_prevalence(
    samples: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    alpha: float = 0.05,
    method: str = "korn-graubard",
    rare_count: int = 10,
) -> pd.DataFrame:
    """Violating-view prevalence of one market-month by policy.

    Definition: for policy *P*, over all samples of ``market`` in local ``month``:
    ``sum(weight * [is_violating and policy == P]) / sum(weight)``, i.e. the share of
    all views that landed on content violating *P* (the denominator is every sampled
    view, not only violating ones), so the policies add up to the total, given as
    group ``"(all)"`` (last). Violating samples without a policy count under
    ``"(unspecified)"``.

    Parameters
    ----------
    samples : DataFrame
        Contract table ``prevalence_samples``.
    market, month, tz : str
        Market code, ``YYYY-MM``, time zone.
    alpha, method, rare_count
        As in :func:`govlib.stats.survey.estimate_prevalence`.

    Returns
    -------
    DataFrame
        ``market, month, policy`` and the columns of :func:`estimate_monthly_prevalence`.

    Notes
    -----
    Each policy's interval uses the same stratified design as the total, with the
    indicator of that policy as the outcome (a domain estimate: Lohr 2022, section 4.5).

    References
    ----------
    .. [1] Meta, Community Standards Enforcement Report (prevalence by policy area).
    .. [2] Lohr, S. L. (2022). Sampling: Design and Analysis, 3rd ed., section 4.5.
    """
    parse_month(month)
    require_columns(samples, "prevalence_samples", _NEEDED)
    ps = select_market_month(samples, "prevalence_samples", market, month, tz, "sampled_at")
    y, w, strata = _arrays(ps)
    pol = (
        ps["policy"].astype(object)
        if "policy" in ps.columns
        else pd.Series(None, index=ps.index, dtype=object)
    )
    pol = pol.where(pol.notna(), UNSPECIFIED).astype(str).to_numpy()
    policies = sorted(set(pol[y]))
    rows = []
    for p in policies + [ALL]:
        yp = y if p == ALL else (y & (pol == p))
        rows.append(
            {
                "market": market,
                "month": month,
                "policy": p,
                **_estimate(yp, w, strata, alpha, method, rare_count),
            }
        )
    return pd.DataFrame(rows, columns=["market", "month", "policy"] + _OUT)
