"""Appeal handling: overturn rates by decision mode (and other action attributes).

Appeals (DSA Article 20 internal complaints, Article 21 out-of-court settlement) that
reverse a decision are the most direct measure of wrong enforcement. When automated
decisions are overturned more often than human ones, the automation needs
recalibrating (DSA Article 20(6): complaint decisions not taken solely by automated
means).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from govlib.contract import OVERTURN_OUTCOMES
from govlib.metrics.frames import hours_between, require_columns, select_market_month
from govlib.stats import proportion_interval, test_proportions_2indep
from govlib.timeutil import parse_month

__all__ = ["summarize_overturns", "compare_overturn_rates"]

ALL = "(all)"
UNKNOWN = "(unknown)"
_ACTION_ATTRS = ("decision_mode", "detection_source", "action_type", "policy", "severity", "ground")
_APPEAL_ATTRS = ("channel",)


def _decided(appeals, actions, market, month, tz, by) -> pd.DataFrame:
    require_columns(appeals, "appeals", ["market", "action_id", "outcome", "submitted_at", "resolved_at"])
    res = select_market_month(appeals, "appeals", market, month, tz, "resolved_at", nullable=True)
    res = res.loc[(res["outcome"] != "pending").to_numpy(dtype=bool, na_value=False)]
    if by in _APPEAL_ATTRS:
        require_columns(appeals, "appeals", [by])
        labels = res[by].astype(object)
    elif by in _ACTION_ATTRS:
        if actions is None:
            raise ValueError(f"by={by!r} needs the enforcement_actions table (actions=...)")
        require_columns(actions, "enforcement_actions", ["action_id", by])
        lookup = pd.Series(
            actions[by].astype(object).to_numpy(), index=actions["action_id"].astype(str).to_numpy()
        )
        lookup = lookup[~lookup.index.duplicated()]
        labels = pd.Series(
            lookup.reindex(res["action_id"].astype(str).to_numpy()).to_numpy(), index=res.index
        )
    else:
        raise ValueError(f"by must be one of {', '.join(_ACTION_ATTRS + _APPEAL_ATTRS)}, got {by!r}")
    return res.assign(
        group=labels.where(labels.notna(), UNKNOWN).astype(str).to_numpy(),
        overturned=res["outcome"].isin(OVERTURN_OUTCOMES).to_numpy(),
        hours=hours_between(res["resolved_at"], res["submitted_at"]).to_numpy(),
    )


def summarize_overturns(
    appeals: pd.DataFrame,
    actions: pd.DataFrame | None,
    market: str,
    month: str,
    tz: str,
    by: str = "decision_mode",
) -> pd.DataFrame:
    """Overturn rate of appeals decided in a month, by an attribute of the appealed action.

    Definition, per group and for all appeals (group ``"(all)"``, last): among
    ``appeals`` of ``market`` with ``resolved_at`` in local ``month`` and ``outcome``
    not ``pending`` (``decided``), the share with ``outcome`` ``overturned`` or
    ``partially_overturned`` (``overturned``). The ``"(all)"`` row is the KPI
    ``overturn_rate``.

    Parameters
    ----------
    appeals : DataFrame
        Contract table ``appeals`` (may hold other markets and months).
    actions : DataFrame or None
        ``enforcement_actions`` with the appealed actions (any month); needed unless
        ``by == "channel"``. An appeal whose action is not found is ``"(unknown)"``.
    market, month, tz : str
        Market code, ``YYYY-MM`` and the market's time zone.
    by : {"decision_mode", "detection_source", "action_type", "policy", "severity", "ground", "channel"}
        Grouping attribute.

    Returns
    -------
    DataFrame
        ``market, month, by, group, decided, overturned, overturn_rate, ci_low,
        ci_high, median_hours_to_resolve``; 95% Wilson intervals; NaN for an empty
        group.

    References
    ----------
    .. [1] Regulation (EU) 2022/2065 (DSA), Articles 20 and 21.
    .. [2] Implementing Regulation (EU) 2024/2835, Annex I, Part 7 (complaints: decisions reversed).
    .. [3] Meta, Community Standards Enforcement Report (appealed and restored content).
    """
    parse_month(month)
    d = _decided(appeals, actions, market, month, tz, by)
    rows = []
    for g in sorted(set(d["group"])) + [ALL]:
        part = d if g == ALL else d.loc[(d["group"] == g).to_numpy()]
        n, k = len(part), int(part["overturned"].sum())
        low, high = proportion_interval(k, n)
        hrs = part["hours"].dropna().to_numpy(dtype=float)
        rows.append(
            {
                "group": g,
                "decided": n,
                "overturned": k,
                "overturn_rate": k / n if n else math.nan,
                "ci_low": low,
                "ci_high": high,
                "median_hours_to_resolve": float(np.median(hrs)) if len(hrs) else math.nan,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "group",
            "decided",
            "overturned",
            "overturn_rate",
            "ci_low",
            "ci_high",
            "median_hours_to_resolve",
        ],
    )
    out.insert(0, "by", by)
    out.insert(0, "month", month)
    out.insert(0, "market", market)
    return out


def compare_overturn_rates(
    appeals: pd.DataFrame,
    actions: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    mode: str = "automated",
    reference: str = "human",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Are ``mode`` decisions overturned on appeal more often than ``reference`` decisions?

    Definition: overturn rates (as in :func:`summarize_overturns`, ``by =
    "decision_mode"``) of appeals decided in local ``month`` against actions decided
    ``mode`` and ``reference``; two-sided two-proportion z test.

    Parameters
    ----------
    appeals, actions : DataFrame
        Contract tables ``appeals`` and ``enforcement_actions``.
    market, month, tz : str
        Market code, ``YYYY-MM``, time zone.
    mode, reference : str
        Decision modes compared (default automated against human).
    alpha : float, default 0.05
        Significance level of ``recalibrate``.

    Returns
    -------
    DataFrame
        One row: ``market, month, mode, reference, decided_mode, overturned_mode,
        overturn_rate_mode, decided_reference, overturned_reference,
        overturn_rate_reference, difference, statistic, pvalue, recalibrate``;
        ``recalibrate`` is True when ``mode`` is overturned significantly more often.

    Notes
    -----
    :func:`govlib.stats.intervals.test_proportions_2indep` (pooled z test). Appeal
    rates differ by decision mode too, so a higher overturn rate may partly reflect
    who appeals; read it as a signal to review a sample of automated decisions.

    References
    ----------
    .. [1] Regulation (EU) 2022/2065 (DSA), Article 20(6).
    .. [2] Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.1.
    """
    s = summarize_overturns(appeals, actions, market, month, tz, by="decision_mode").set_index("group")

    def get(g):
        return (int(s.at[g, "decided"]), int(s.at[g, "overturned"])) if g in s.index else (0, 0)

    (n1, k1), (n2, k2) = get(mode), get(reference)
    res = test_proportions_2indep(k1, n1, k2, n2)
    diff = res.estimate1 - res.estimate2
    return pd.DataFrame(
        [
            {
                "market": market,
                "month": month,
                "mode": mode,
                "reference": reference,
                "decided_mode": n1,
                "overturned_mode": k1,
                "overturn_rate_mode": res.estimate1,
                "decided_reference": n2,
                "overturned_reference": k2,
                "overturn_rate_reference": res.estimate2,
                "difference": diff,
                "statistic": res.statistic,
                "pvalue": res.pvalue,
                "recalibrate": bool(res.pvalue < alpha and diff > 0) if not math.isnan(res.pvalue) else False,
            }
        ]
    )
