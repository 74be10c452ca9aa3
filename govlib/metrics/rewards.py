"""Rewards and penalties: do incentives go to creators who violate policy?

The per-creator work of the report's figures runs on the engine (Ibis expressions,
:mod:`govlib.metrics.expr`): DuckDB over a cube, Spark, or an in-memory table when given
pandas frames. Only per-group counts and sums reach pandas.

Functions
---------
rewards_penalties_table
    Per creator: rewards received against enforcement received in a period (Ibis table).
compare_rewards_penalties
    The same, executed into a pandas frame.
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

import ibis
import numpy as np
import pandas as pd

from govlib.contract import ACTION_TYPES
from govlib.errors import GovlibError
from govlib.metrics.expr import as_table, require_columns, utc_literal
from govlib.stats import proportion_interval
from govlib.timeutil import month_bounds, shift_month, to_utc

__all__ = [
    "rewards_penalties_table",
    "compare_rewards_penalties",
    "summarise_rewards_penalties",
    "share_rewarded_with_recent_violations",
    "estimate_reward_change_after_violation",
]

# every action type but a warning is a penalty
SANCTION_TYPES = tuple(a for a in ACTION_TYPES if a != "warning")


class RewardsInputError(GovlibError):
    """Inputs of a rewards metric lack columns."""


def _require(df, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, RewardsInputError)


def _window(month: str, tz: str, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, _ = month_bounds(shift_month(month, -(months - 1)), tz)
    _, end = month_bounds(month, tz)
    return start, end


def rewards_penalties_table(rewards, actions, creators, *, market: str, month: str, tz: str, months: int = 1):
    """Rewards received against penalties received, per creator, over a period, as an Ibis table.

    Definition: the period is the ``months`` local months ending with ``month`` in
    ``tz``; rewards count by ``granted_at``, penalties by ``actioned_at``; only rows
    with ``market == market``. Every creator of the market's ``creators`` table
    registered before the end of the period has a row (zeros when neither).

    Parameters
    ----------
    rewards, actions, creators : ibis.Table or DataFrame
        Contract tables ``rewards`` (``creator_id, market, granted_at, value_eur``),
        ``enforcement_actions`` (``creator_id, market, action_type, health_points,
        actioned_at``) and ``creators`` (``creator_id, market, tier, registered_at``).
    market, month, tz : str
        Market, ``YYYY-MM`` and the market's time zone.
    months : int, default 1
        Length of the period in months (e.g. 3 for a quarter ending ``month``).

    Returns
    -------
    ibis.Table
        ``creator_id, tier, rewards, rewards_value_eur, actions, sanctions`` (actions
        other than a warning), ``health_points``, ``rewarded``, ``penalised``; unordered.
        Raw ``creator_id``: aggregate it (:func:`summarise_rewards_penalties`) or
        pseudonymise before circulating.
    """
    rw, ac, cr = (
        as_table(rewards, "rewards"),
        as_table(actions, "enforcement_actions"),
        as_table(creators, "creators"),
    )
    _require(rw, "rewards", ["creator_id", "market", "granted_at", "value_eur"])
    _require(
        ac, "enforcement_actions", ["creator_id", "market", "action_type", "health_points", "actioned_at"]
    )
    _require(cr, "creators", ["creator_id", "market", "tier", "registered_at"])
    start, end = (utc_literal(x)[1] for x in _window(month, tz, months))
    cr = cr.filter((cr.market == market) & (cr.registered_at < end)).select("creator_id", "tier")
    rw = rw.filter((rw.market == market) & (rw.granted_at >= start) & (rw.granted_at < end))
    r = rw.group_by("creator_id").agg(_rewards=rw.count(), _value=rw.value_eur.sum())
    ac = ac.filter((ac.market == market) & (ac.actioned_at >= start) & (ac.actioned_at < end))
    a = ac.group_by("creator_id").agg(
        _actions=ac.count(),
        _sanctions=ac.action_type.isin(SANCTION_TYPES).cast("int64").sum(),
        _points=ac.health_points.sum(),
    )
    out = cr
    for part in (r, a):
        out = out.left_join(part, out.creator_id == part.creator_id).drop("creator_id_right")
    n_rewards, n_actions = out._rewards.fill_null(0).cast("int64"), out._actions.fill_null(0).cast("int64")
    return out.select(
        creator_id=out.creator_id,
        tier=out.tier,
        rewards=n_rewards,
        rewards_value_eur=out._value.fill_null(0.0).cast("float64"),
        actions=n_actions,
        sanctions=out._sanctions.fill_null(0).cast("int64"),
        health_points=out._points.fill_null(0).cast("int64"),
        rewarded=n_rewards > 0,
        penalised=n_actions > 0,
    )


def compare_rewards_penalties(
    rewards, actions, creators, *, market: str, month: str, tz: str, months: int = 1
) -> pd.DataFrame:
    """:func:`rewards_penalties_table` executed, one row per creator, sorted by ``creator_id``.

    For a report, summarise the table on the engine instead
    (:func:`summarise_rewards_penalties` takes it); this frame grows with the creators.

    Notes
    -----
    See :func:`rewards_penalties_table` for the definition.
    """
    t = rewards_penalties_table(rewards, actions, creators, market=market, month=month, tz=tz, months=months)
    out = t.order_by("creator_id").execute().reset_index(drop=True)
    for c in ("rewards", "actions", "sanctions", "health_points"):
        out[c] = out[c].astype(int)
    for c in ("rewarded", "penalised"):
        out[c] = out[c].astype(bool)
    out["rewards_value_eur"] = out["rewards_value_eur"].astype(float)
    return out


def summarise_rewards_penalties(per_creator, by: Sequence[str] = ("tier",)) -> pd.DataFrame:
    """Rewards against penalties per group (tier by default), summed on the engine.

    Parameters
    ----------
    per_creator : ibis.Table or DataFrame
        :func:`rewards_penalties_table` (or :func:`compare_rewards_penalties`).
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
    t = as_table(per_creator)
    _require(
        t, "per_creator", ["rewards_value_eur", "actions", "health_points", "rewarded", "penalised", *by]
    )
    keys = list(by)
    aggs = dict(
        creators=t.count(),
        rewarded=t.rewarded.cast("int64").sum(),
        penalised=t.penalised.cast("int64").sum(),
        rewarded_and_penalised=(t.rewarded & t.penalised).cast("int64").sum(),
        rewards_value_eur=t.rewards_value_eur.sum(),
        value_to_penalised_eur=t.rewards_value_eur.sum(where=t.penalised),
        _actions=t.actions.sum(),
        _points=t.health_points.sum(),
    )
    out = (t.group_by(keys).agg(**aggs) if keys else t.aggregate(**aggs)).execute()
    out = out.sort_values(keys).reset_index(drop=True) if keys else out
    if not keys and int(out["creators"].iloc[0]) == 0:
        out = out.iloc[0:0]
    for c in ("creators", "rewarded", "penalised", "rewarded_and_penalised"):
        out[c] = out[c].fillna(0).astype(int)
    for c in ("rewards_value_eur", "value_to_penalised_eur", "_actions", "_points"):
        out[c] = out[c].astype(float).fillna(0.0)
    out["value_share_to_penalised"] = (out["value_to_penalised_eur"] / out["rewards_value_eur"]).where(
        out["rewards_value_eur"] > 0
    )
    out["mean_reward_per_rewarded_eur"] = (out["rewards_value_eur"] / out["rewarded"]).where(
        out["rewarded"] > 0
    )
    out["actions_per_creator"] = (out["_actions"] / out["creators"]).where(out["creators"] > 0)
    out["health_points_per_creator"] = (out["_points"] / out["creators"]).where(out["creators"] > 0)
    return out.drop(columns=["_actions", "_points"])


def share_rewarded_with_recent_violations(
    rewards,
    actions,
    *,
    market: str,
    month: str,
    tz: str,
    lookback_days: int = 90,
    creators=None,
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
    rewards, actions : ibis.Table or DataFrame
        Contract tables ``rewards`` and ``enforcement_actions`` (all markets allowed;
        filtered on ``market``). ``actions`` must reach ``lookback_days`` before the
        month.
    market, month, tz : str
        Market, ``YYYY-MM`` and its time zone.
    lookback_days : int, default 90
        "Recent" violation window, the health-score deduction window by default.
    creators : ibis.Table or DataFrame, optional
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
    The reward-action pairs are a range join on the engine (same creator, action in the
    look-back of the reward); only the per-group counts and sums reach pandas.
    """
    if by not in (None, "tier", "reward_type"):
        raise ValueError(f"by must be None, 'tier' or 'reward_type', got {by!r}")
    rw, ac = as_table(rewards, "rewards"), as_table(actions, "enforcement_actions")
    _require(rw, "rewards", ["reward_id", "creator_id", "market", "granted_at", "reward_type", "value_eur"])
    _require(ac, "enforcement_actions", ["creator_id", "market", "actioned_at"])
    rw = _rewards_to_violators(rw, ac, market, month, tz, lookback_days)
    if by == "tier":
        if creators is None:
            raise RewardsInputError("by='tier' needs the creators table (creator_id, tier)")
        cr = as_table(creators, "creators").select("creator_id", "tier")
        rw = rw.left_join(cr, rw.creator_id == cr.creator_id).drop("creator_id_right")
        rw = rw.mutate(group=rw.tier.cast("string"))
    else:
        rw = rw.mutate(group=rw.reward_type.cast("string") if by == "reward_type" else ibis.literal("all"))
    agg = rw.group_by("group").agg(
        n=rw.creator_id.nunique(),
        k=rw.creator_id.nunique(where=rw.to_violator),
        tot=rw.value_eur.sum(),
        viol=rw.value_eur.sum(where=rw.to_violator),
    )
    agg = agg.execute().sort_values("group").reset_index(drop=True)
    if by is None and agg.empty:
        agg = pd.DataFrame({"group": ["all"], "n": [0], "k": [0], "tot": [0.0], "viol": [0.0]})
    rows = []
    for r in agg.itertuples(index=False):
        n, k = int(r.n), 0 if pd.isna(r.k) else int(r.k)
        tot, viol = (0.0 if pd.isna(x) else float(x) for x in (r.tot, r.viol))
        lo, hi = proportion_interval(k, n, alpha=alpha)
        rows.append(
            {
                "group": r.group,
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
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


SHARE_COLUMNS = [
    "group",
    "value",
    "numerator",
    "denominator",
    "ci_low",
    "ci_high",
    "value_eur_total",
    "value_eur_to_violators",
    "value_share",
]


def _rewards_to_violators(rw, ac, market: str, month: str, tz: str, lookback_days: int):
    """The market's rewards granted in the month, with ``to_violator``: an action of the creator in the look-back."""
    start, end = (utc_literal(x)[1] for x in month_bounds(month, tz))
    rw = rw.filter((rw.market == market) & (rw.granted_at >= start) & (rw.granted_at < end))
    rw = rw.select("reward_id", "creator_id", "reward_type", "value_eur", "granted_at")
    ac = ac.filter(ac.market == market).select(_cid=ac.creator_id, _t=ac.actioned_at)
    lookback = ibis.interval(hours=24 * int(lookback_days))  # exact hours: no calendar-day arithmetic
    pairs = rw.join(ac, [rw.creator_id == ac._cid, ac._t <= rw.granted_at, ac._t > rw.granted_at - lookback])
    hits = pairs.select(_rid=pairs.reward_id).distinct()
    out = rw.left_join(hits, rw.reward_id == hits._rid)
    return out.mutate(to_violator=out._rid.notnull()).drop("_rid")


def estimate_reward_change_after_violation(
    rewards: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    window_days: int = 90,
    market: str | None = None,
    data_start=None,
    data_end=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Rewards after a creator's first violation against before it (paired pre/post).

    Definition: for each creator whose first enforcement action ``t0`` (earliest
    ``actioned_at``) leaves ``window_days`` of data on both sides
    (``data_start <= t0 - window`` and ``t0 + window <= data_end``): ``before`` =
    rewards value (EUR) granted in ``[t0 - window, t0)``, ``after`` = granted in
    ``[t0, t0 + window)``. Reports the mean of each, the mean paired difference with a
    paired t interval, the ratio of totals and the share of these creators rewarded at
    all in each window.

    Parameters
    ----------
    rewards, actions : DataFrame
        Contract tables over the whole history.
    window_days : int, default 90
        Length of each window.
    market : str, optional
        Keep creators first actioned in this market.
    data_start, data_end : str or Timestamp, optional
        The observed span; default the earliest and latest timestamp of the two tables.
    alpha : float, default 0.05
        Level of the interval of the mean difference.

    Returns
    -------
    DataFrame
        One row: ``creators, mean_before_eur, mean_after_eur, difference_eur, ci_low,
        ci_high, p_value`` (paired t test, ``scipy.stats.ttest_rel``),
        ``wilcoxon_p_value`` (signed-rank, robust to the heavy tail of rewards),
        ``ratio_after_before`` (total after / total before; NaN when nothing before),
        ``share_rewarded_before, share_rewarded_after``.

    Notes
    -----
    Simple by design: there is no control group, so a seasonal swing of reward
    programmes (Q4 peak) or a creator's growth over time shows up as an "effect".
    Read the difference as what happened to rewards around a first violation, not as
    what the violation caused; the difference-in-differences design of
    :func:`govlib.metrics.effectiveness.estimate_deterrence_did` is the template for a
    causal version.
    """
    _require(rewards, "rewards", ["creator_id", "market", "granted_at", "value_eur"])
    _require(actions, "enforcement_actions", ["creator_id", "market", "actioned_at"])
    rw = rewards.assign(
        creator_id=rewards["creator_id"].astype(str), granted_at=to_utc(rewards["granted_at"])
    )
    ac = actions.assign(
        creator_id=actions["creator_id"].astype(str), actioned_at=to_utc(actions["actioned_at"])
    )
    lo_t = (
        pd.Timestamp(data_start)
        if data_start is not None
        else min(rw["granted_at"].min(), ac["actioned_at"].min())
    )
    hi_t = (
        pd.Timestamp(data_end)
        if data_end is not None
        else max(rw["granted_at"].max(), ac["actioned_at"].max())
    )
    lo_t = lo_t.tz_localize("UTC") if lo_t.tzinfo is None else lo_t
    hi_t = hi_t.tz_localize("UTC") if hi_t.tzinfo is None else hi_t
    w = pd.Timedelta(days=window_days)
    first = ac.sort_values(["actioned_at"]).drop_duplicates("creator_id")
    if market is not None:
        first = first[first["market"].astype(str) == market]
    first = first[(first["actioned_at"] - w >= lo_t) & (first["actioned_at"] + w <= hi_t)]
    t0 = first.set_index("creator_id")["actioned_at"]
    r = rw[rw["creator_id"].isin(t0.index)].assign(t0=lambda x: x["creator_id"].map(t0))
    before = (
        r[(r["granted_at"] >= r["t0"] - w) & (r["granted_at"] < r["t0"])]
        .groupby("creator_id")["value_eur"]
        .sum()
    )
    after = (
        r[(r["granted_at"] >= r["t0"]) & (r["granted_at"] < r["t0"] + w)]
        .groupby("creator_id")["value_eur"]
        .sum()
    )
    b = before.reindex(t0.index, fill_value=0.0).to_numpy(dtype=float)
    a = after.reindex(t0.index, fill_value=0.0).to_numpy(dtype=float)
    n = len(t0)
    nan = math.nan
    row = {
        "creators": n,
        "mean_before_eur": b.mean() if n else nan,
        "mean_after_eur": a.mean() if n else nan,
        "difference_eur": (a - b).mean() if n else nan,
        "ci_low": nan,
        "ci_high": nan,
        "p_value": nan,
        "wilcoxon_p_value": nan,
        "ratio_after_before": a.sum() / b.sum() if b.sum() > 0 else nan,
        "share_rewarded_before": (b > 0).mean() if n else nan,
        "share_rewarded_after": (a > 0).mean() if n else nan,
    }
    if n >= 2 and np.any(a != b):
        from scipy import stats as _sps  # lazy: a second of imports, one function uses it

        tt = _sps.ttest_rel(a, b)
        ci = tt.confidence_interval(confidence_level=1 - alpha)
        row.update(
            ci_low=float(ci.low),
            ci_high=float(ci.high),
            p_value=float(tt.pvalue),
            wilcoxon_p_value=float(_sps.wilcoxon(a, b).pvalue),
        )
    return pd.DataFrame([row])
