"""Reference (pandas, before issue 15) of govlib.metrics.rewards. Rewards and penalties: do incentives go to creators who violate policy?

Functions
---------
compare_rewards_penalties
    Per creator: rewards received against enforcement received in a period.
summarise_rewards_penalties
    The same per tier (or any grouping): rewarded, penalised, both, value shares.
share_rewarded_with_recent_violations
    Share of rewarded creators with a violation in the look-back before the reward
    ("incentives paid to violators"), with a Wilson interval, and the value share.
estimate_reward_change_after_violation
    Rewards in the window after a creator's first violation against the same-length
    window before it (paired pre/post).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from govlib.contract import ACTION_TYPES
from govlib.errors import GovlibError
from govlib.metrics.frames import require_columns
from govlib.stats import proportion_interval
from govlib.timeutil import month_bounds, shift_month, to_utc

__all__ = [
    "compare_rewards_penalties",
    "summarise_rewards_penalties",
    "share_rewarded_with_recent_violations",
]

# every action type but a warning is a penalty
SANCTION_TYPES = tuple(a for a in ACTION_TYPES if a != "warning")


class RewardsInputError(GovlibError):
    """Inputs of a rewards metric lack columns."""


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, error=RewardsInputError)


def _window(month: str, tz: str, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, _ = month_bounds(shift_month(month, -(months - 1)), tz)
    _, end = month_bounds(month, tz)
    return start, end


def compare_rewards_penalties(
    rewards: pd.DataFrame,
    actions: pd.DataFrame,
    creators: pd.DataFrame,
    *,
    market: str,
    month: str,
    tz: str,
    months: int = 1,
) -> pd.DataFrame:
    """Rewards received against penalties received, per creator, over a period.

    Definition: the period is the ``months`` local months ending with ``month`` in
    ``tz``; rewards count by ``granted_at``, penalties by ``actioned_at``; only rows
    with ``market == market``. Every creator of the market's ``creators`` table
    registered before the end of the period has a row (zeros when neither).

    Parameters
    ----------
    rewards, actions, creators : DataFrame
        Contract tables ``rewards`` (``creator_id, market, granted_at, value_eur``),
        ``enforcement_actions`` (``creator_id, market, action_type, health_points,
        actioned_at``) and ``creators`` (``creator_id, market, tier, registered_at``).
    market, month, tz : str
        Market, ``YYYY-MM`` and the market's time zone.
    months : int, default 1
        Length of the period in months (e.g. 3 for a quarter ending ``month``).

    Returns
    -------
    DataFrame
        ``creator_id, tier, rewards, rewards_value_eur, actions, sanctions`` (actions
        other than a warning), ``health_points``, ``rewarded``, ``penalised``. Raw
        ``creator_id``: pseudonymise before circulating.
    """
    _require(rewards, "rewards", ["creator_id", "market", "granted_at", "value_eur"])
    _require(
        actions,
        "enforcement_actions",
        ["creator_id", "market", "action_type", "health_points", "actioned_at"],
    )
    _require(creators, "creators", ["creator_id", "market", "tier", "registered_at"])
    start, end = _window(month, tz, months)
    cr = creators[(creators["market"].astype(str) == market) & (to_utc(creators["registered_at"]) < end)]
    cr = cr.assign(creator_id=cr["creator_id"].astype(str))[["creator_id", "tier"]]
    rw = rewards[rewards["market"].astype(str) == market]
    g = to_utc(rw["granted_at"])
    rw = rw[(g >= start) & (g < end)].assign(creator_id=lambda x: x["creator_id"].astype(str))
    ac = actions[actions["market"].astype(str) == market]
    t = to_utc(ac["actioned_at"])
    ac = ac[(t >= start) & (t < end)].assign(creator_id=lambda x: x["creator_id"].astype(str))
    r = rw.groupby("creator_id").agg(rewards=("value_eur", "size"), rewards_value_eur=("value_eur", "sum"))
    a = (
        ac.assign(_s=ac["action_type"].astype(str).isin(SANCTION_TYPES))
        .groupby("creator_id")
        .agg(actions=("action_type", "size"), sanctions=("_s", "sum"), health_points=("health_points", "sum"))
    )
    out = (
        cr.set_index("creator_id")
        .join(r)
        .join(a)
        .fillna({"rewards": 0, "rewards_value_eur": 0.0, "actions": 0, "sanctions": 0, "health_points": 0})
    )
    for c in ("rewards", "actions", "sanctions", "health_points"):
        out[c] = out[c].astype(int)
    out["rewarded"] = out["rewards"] > 0
    out["penalised"] = out["actions"] > 0
    return out.reset_index().sort_values("creator_id").reset_index(drop=True)


def summarise_rewards_penalties(per_creator: pd.DataFrame, by: Sequence[str] = ("tier",)) -> pd.DataFrame:
    """Rewards against penalties per group (tier by default).

    Parameters
    ----------
    per_creator : DataFrame
        Output of :func:`compare_rewards_penalties`.
    by : sequence of str, default ("tier",)
        Grouping columns; ``()`` for one row.

    Returns
    -------
    DataFrame
        ``creators, rewarded, penalised, rewarded_and_penalised, rewards_value_eur,
        value_to_penalised_eur, value_share_to_penalised`` (NaN when no reward was
        paid), ``mean_reward_per_rewarded_eur``, ``actions_per_creator``,
        ``health_points_per_creator``.
    """
    _require(
        per_creator,
        "per_creator",
        ["rewards_value_eur", "actions", "health_points", "rewarded", "penalised", *by],
    )
    d = per_creator.assign(
        _both=per_creator["rewarded"] & per_creator["penalised"],
        _vpen=per_creator["rewards_value_eur"].where(per_creator["penalised"], 0.0),
        _one=1,
    )
    keys = list(by)
    grouped = d.groupby(keys, observed=True, sort=True) if keys else d.groupby(np.zeros(len(d)))
    out = grouped.agg(
        creators=("_one", "sum"),
        rewarded=("rewarded", "sum"),
        penalised=("penalised", "sum"),
        rewarded_and_penalised=("_both", "sum"),
        rewards_value_eur=("rewards_value_eur", "sum"),
        value_to_penalised_eur=("_vpen", "sum"),
        actions=("actions", "sum"),
        health_points=("health_points", "sum"),
    )
    out["value_share_to_penalised"] = (out["value_to_penalised_eur"] / out["rewards_value_eur"]).where(
        out["rewards_value_eur"] > 0
    )
    out["mean_reward_per_rewarded_eur"] = (out["rewards_value_eur"] / out["rewarded"]).where(
        out["rewarded"] > 0
    )
    out["actions_per_creator"] = (out["actions"] / out["creators"]).where(out["creators"] > 0)
    out["health_points_per_creator"] = (out["health_points"] / out["creators"]).where(out["creators"] > 0)
    out = out.drop(columns=["actions", "health_points"]).reset_index()
    if not keys:
        out = out.drop(columns=out.columns[0])
    for c in ("creators", "rewarded", "penalised", "rewarded_and_penalised"):
        out[c] = out[c].astype(int)
    return out


def share_rewarded_with_recent_violations(
    rewards: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    market: str,
    month: str,
    tz: str,
    lookback_days: int = 90,
    creators: pd.DataFrame | None = None,
    by: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of rewarded creators who had a recent violation when rewarded.

    Definition: denominator, creators of ``market`` with at least one reward granted in
    local ``month``; numerator, those of them with an enforcement action actioned in
    ``(granted_at - lookback_days, granted_at]`` for at least one of those rewards.
    Also the value share: EUR of the month's rewards granted to a creator with a
    violation in the look-back, over all EUR granted in the month (a ratio, no
    interval).

    Parameters
    ----------
    rewards, actions : DataFrame
        Contract tables ``rewards`` and ``enforcement_actions`` (all markets allowed;
        filtered on ``market``). ``actions`` must reach ``lookback_days`` before the
        month.
    market, month, tz : str
        Market, ``YYYY-MM`` and its time zone.
    lookback_days : int, default 90
        "Recent" violation window, the health-score deduction window by default.
    creators : DataFrame, optional
        Needed for ``by="tier"``.
    by : {None, "tier", "reward_type"}
        One row overall (None) or one per tier or reward type.
    alpha : float, default 0.05
        Wilson interval level.

    Returns
    -------
    DataFrame
        ``group, value, numerator, denominator, ci_low, ci_high, value_eur_total,
        value_eur_to_violators, value_share``. No rewarded creator: value NaN.

    Notes
    -----
    A high share means incentive programmes pay creators the enforcement side is
    sanctioning; eligibility rules for incentives usually exclude recent violators.
    """
    if by not in (None, "tier", "reward_type"):
        raise ValueError(f"by must be None, 'tier' or 'reward_type', got {by!r}")
    _require(
        rewards, "rewards", ["reward_id", "creator_id", "market", "granted_at", "reward_type", "value_eur"]
    )
    _require(actions, "enforcement_actions", ["creator_id", "market", "actioned_at"])
    start, end = month_bounds(month, tz)
    rw = rewards[rewards["market"].astype(str) == market].copy()
    rw["granted_at"] = to_utc(rw["granted_at"])
    rw = rw[(rw["granted_at"] >= start) & (rw["granted_at"] < end)]
    rw["creator_id"] = rw["creator_id"].astype(str)
    ac = actions[actions["market"].astype(str) == market][["creator_id", "actioned_at"]].copy()
    ac["creator_id"] = ac["creator_id"].astype(str)
    ac["actioned_at"] = to_utc(ac["actioned_at"])
    pairs = rw[["reward_id", "creator_id", "granted_at"]].merge(ac, on="creator_id")
    lb = pd.Timedelta(days=lookback_days)
    hit = pairs[
        (pairs["actioned_at"] <= pairs["granted_at"]) & (pairs["actioned_at"] > pairs["granted_at"] - lb)
    ]
    rw["to_violator"] = rw["reward_id"].isin(set(hit["reward_id"]))
    if by == "tier":
        if creators is None:
            raise RewardsInputError("by='tier' needs the creators table (creator_id, tier)")
        tiers = creators.assign(creator_id=creators["creator_id"].astype(str)).set_index("creator_id")["tier"]
        rw["group"] = rw["creator_id"].map(tiers).astype(str)
    elif by == "reward_type":
        rw["group"] = rw["reward_type"].astype(str)
    else:
        rw["group"] = "all"
    groups = sorted(rw["group"].unique()) if by else ["all"]
    rows = []
    for gname in groups:
        g = rw[rw["group"] == gname]
        n = g["creator_id"].nunique()
        k = g.loc[g["to_violator"], "creator_id"].nunique()
        lo, hi = proportion_interval(k, n, alpha=alpha)
        tot = float(g["value_eur"].sum())
        viol = float(g.loc[g["to_violator"], "value_eur"].sum())
        rows.append(
            {
                "group": gname,
                "value": k / n if n else math.nan,
                "numerator": k,
                "denominator": n,
                "ci_low": lo,
                "ci_high": hi,
                "value_eur_total": tot,
                "value_eur_to_violators": viol,
                "value_share": viol / tot if tot > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)
