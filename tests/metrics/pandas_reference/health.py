"""Reference (pandas, before issue 15) of govlib.metrics.health. Creator account health, modelled on TikTok Shop's Creator Health Rating (CHR).

A creator's score runs from 0 to ``max_score`` (1,000). A new creator starts at
``start_score`` (200); each enforcement action deducts its ``health_points``; a
deduction expires ``deduction_window_days`` (90) after the action. When the score is
at or below a milestone (150 / 100 / 50 / 0) the milestone's restriction applies, and
violating the same policy ``repeat_policy_limit`` (6) times within
``repeat_policy_window_days`` (90) removes e-commerce permissions whatever the score.
Every number comes from the market's :class:`govlib.params.HealthSettings`.

Functions
---------
score_health
    Score, milestone and restriction of each creator at a date.
summarise_health_distribution
    Distribution of scores per market and tier.
share_at_or_below_milestones
    Share of active creators at or below each milestone, with Wilson intervals.
list_early_warning
    Creators one typical violation away from the next milestone or from the
    repeat-policy rule (for outreach before they are penalised).
count_early_warning
    Number of early-warning creators per market and reason.

References
----------
.. [1] TikTok Shop, "Creator Enforcement Policy" (Creator Health Rating, milestone
   enforcement), https://seller-us.tiktok.com/university/essay?knowledge_id=5054301796321070
   and the EU/UK versions of the same page: scores 0-1,000, new creators start with
   200 points, milestones at 150, 100, 50 and 0 points, successful appeals remove
   the enforcement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from govlib.errors import GovlibError
from govlib.metrics.frames import require_columns
from govlib.params import HealthSettings
from govlib.stats import proportion_interval
from govlib.timeutil import to_utc

__all__ = [
    "score_health",
    "summarise_health_distribution",
    "share_at_or_below_milestones",
    "list_early_warning",
    "count_early_warning",
]


class HealthInputError(GovlibError):
    """The tables given to a health metric lack columns or hold unusable values."""


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, error=HealthInputError)


def _at(at) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _settings(settings: HealthSettings | None) -> HealthSettings:
    return settings if settings is not None else HealthSettings()


def _rolling_max(df: pd.DataFrame, keys: list[str], value: str, days: int) -> pd.Series:
    """Per group of ``keys``: max over actions of ``sum(value)`` over (t - days, t].

    The window of action *i* holds the rows up to *i* (sorted by time, then
    ``action_id``) with ``actioned_at > t_i - days``: the definition of pandas'
    ``groupby(...).rolling(f"{days}D", closed="right")``, computed as a difference of
    cumulative sums with the window's first row found by ``merge_asof`` (one vectorised
    pass instead of one rolling window per creator: seconds instead of minutes for a
    large market).
    """
    if df.empty:
        return pd.Series(dtype=float)
    d = df.sort_values([*keys, "actioned_at", "action_id"])[[*keys, "actioned_at", value]].reset_index(
        drop=True
    )
    vals = d[value].to_numpy(dtype=float)
    if np.isnan(vals).any():  # rolling sums skip missing values; keep pandas' exact semantics then
        t = d.assign(actioned_at=d["actioned_at"].dt.tz_convert("UTC").dt.tz_localize(None))
        rolled = t.groupby(keys, sort=True).rolling(f"{days}D", on="actioned_at", closed="right")[value].sum()
        return rolled.groupby(level=list(range(len(keys)))).max()
    grp = d.groupby(keys, sort=True).ngroup().to_numpy()
    t = d["actioned_at"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    pos = np.arange(len(d))
    # first row of each (group, time): ties are in the window together
    firsts = pd.DataFrame({"grp": grp, "t": t.to_numpy(), "pos": pos}).drop_duplicates(["grp", "t"])
    lower = pd.DataFrame({"grp": grp, "lower": (t - pd.Timedelta(days=days)).to_numpy(), "row": pos})
    start = pd.merge_asof(
        lower.sort_values("lower", kind="stable"),
        firsts.sort_values("t", kind="stable"),
        left_on="lower",
        right_on="t",
        by="grp",
        direction="forward",
        allow_exact_matches=False,
    )
    j = np.empty(len(d), dtype=np.int64)
    j[start["row"].to_numpy()] = start["pos"].to_numpy(dtype=np.int64)
    csum = np.concatenate([[0.0], np.cumsum(vals)])
    window = csum[pos + 1] - csum[j]
    return d[keys].assign(_window=window).groupby(keys, sort=True)["_window"].max().rename(value)


def score_health(
    actions: pd.DataFrame,
    creators: pd.DataFrame,
    at,
    settings: HealthSettings | None = None,
    *,
    market: str | None = None,
    appeals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Creator Health Rating of every creator at a moment.

    Definition: ``score = clip(start_score - sum(health_points of actions with
    at - window < actioned_at <= at), 0, max_score)``: a deduction counts from the
    moment of its action until exactly ``deduction_window_days`` later, when it
    expires (at ``actioned_at + 90 days`` it no longer counts).

    Parameters
    ----------
    actions : DataFrame
        ``enforcement_actions`` (``action_id, creator_id, policy, health_points,
        actioned_at``); rows after ``at`` are ignored.
    creators : DataFrame
        ``creators`` (``creator_id, market, tier, registered_at``). A creator registered
        after ``at`` is not scored. Denominator of later shares: every scored creator.
    at : str or Timestamp
        The moment of the score (naive means UTC). For a month-end score use the
        end of the month in the market's time zone (``govlib.timeutil.month_bounds``).
    settings : HealthSettings, optional
        The market's ``MarketParams.health``; defaults are TikTok Shop's published values.
    market : str, optional
        Score only creators of this home market.
    appeals : DataFrame, optional
        ``appeals`` (``action_id, outcome, resolved_at``). An action whose appeal was
        resolved ``overturned`` by ``at`` deducts nothing and does not count towards the
        repeat-policy rule (TikTok Shop removes the enforcement after a successful
        appeal). ``partially_overturned`` keeps the deduction (the data do not say by
        how much it was reduced).

    Returns
    -------
    DataFrame
        One row per scored creator: ``creator_id, market, tier, at, score,
        points_active`` (deductions still counting), ``violations_active``,
        ``milestone`` (the lowest milestone the score is at or below; missing when above
        all), ``floor_reached`` (the score was at or below the lowest milestone at some
        action up to ``at``), ``repeat_policy_rule`` (some policy reached
        ``repeat_policy_limit`` actions within ``repeat_policy_window_days``),
        ``repeat_policy`` (that policy), ``ecommerce_removed`` (``floor_reached or
        repeat_policy_rule``) and ``restriction`` (the restriction in force: that of
        the lowest milestone when e-commerce is removed, else that of ``milestone``,
        else ``"none"``). Sorted by ``creator_id``.

    Notes
    -----
    The lowest milestone (0: "permanently removed") and the repeat-policy rule are
    terminal: once reached they stay in force even after the deductions expire.
    The higher milestones lift as deductions expire. Points a creator *earns* on TikTok
    Shop (compliant orders, policy quizzes) are not in the data contract, so the score
    here can only fall from ``start_score`` and recover by expiry; ``max_score`` caps it.
    The repeat-policy window uses the same half-open convention: six actions of one
    policy with the first and the sixth exactly 90 days apart do not trigger the rule.

    References
    ----------
    .. [1] TikTok Shop, Creator Enforcement Policy / Creator Health Rating,
       https://seller-us.tiktok.com/university/essay?knowledge_id=5054301796321070
    """
    s = _settings(settings)
    _require(
        actions, "enforcement_actions", ["action_id", "creator_id", "policy", "health_points", "actioned_at"]
    )
    _require(creators, "creators", ["creator_id", "market", "tier", "registered_at"])
    at_ts = _at(at)

    cr = _scored_creators(creators, market, at_ts)
    act = _counted_actions(actions, cr, at_ts, appeals)

    window = pd.Timedelta(days=s.deduction_window_days)
    live = act[act["actioned_at"] > at_ts - window]
    points = live.groupby("creator_id")["health_points"].sum()
    n_live = live.groupby("creator_id").size()

    milestones = sorted(s.milestones)  # ascending
    floor = milestones[0]
    # score right after each action: start - deductions over (t - window, t]
    peak = _rolling_max(act, ["creator_id"], "health_points", s.deduction_window_days)
    floor_hit = (s.start_score - peak) <= floor
    rep_policy = _repeat_policy(act, s)

    out = cr.drop(columns="registered_at").sort_values("creator_id").reset_index(drop=True)
    out.insert(3, "at", at_ts)
    ids = out["creator_id"]
    pts = ids.map(points).fillna(0.0).to_numpy()
    out["score"] = np.clip(s.start_score - pts, 0, s.max_score)
    out["points_active"] = pts
    out["violations_active"] = ids.map(n_live).fillna(0).astype(int).to_numpy()
    score = out["score"].to_numpy()
    ms = np.full(len(out), np.nan)
    for m in reversed(milestones):  # descending: the last match is the lowest milestone
        ms = np.where(score <= m, m, ms)
    out["milestone"] = pd.array(ms, dtype="Float64").astype("Int64")
    out["floor_reached"] = ids.isin(floor_hit.index[floor_hit.to_numpy(dtype=bool)]).to_numpy()
    out["repeat_policy_rule"] = ids.isin(rep_policy.index).to_numpy()
    out["repeat_policy"] = ids.map(rep_policy).astype(object).to_numpy()
    out["repeat_policy"] = out["repeat_policy"].where(out["repeat_policy_rule"], None)
    out["ecommerce_removed"] = out["floor_reached"] | out["repeat_policy_rule"]
    restriction = [
        s.milestones[floor] if removed else (s.milestones[int(m)] if not math.isnan(m) else "none")
        for removed, m in zip(out["ecommerce_removed"], ms)
    ]
    out["restriction"] = restriction
    return out


def _scored_creators(creators: pd.DataFrame, market: str | None, at_ts: pd.Timestamp) -> pd.DataFrame:
    """Creators of ``market`` (all without) registered by ``at_ts``."""
    cr = creators[["creator_id", "market", "tier", "registered_at"]].copy()
    cr["creator_id"] = cr["creator_id"].astype(str)
    if market is not None:
        cr = cr[cr["market"].astype(str) == market]
    return cr[to_utc(cr["registered_at"]) <= at_ts]


def _counted_actions(
    actions: pd.DataFrame, cr: pd.DataFrame, at_ts: pd.Timestamp, appeals: pd.DataFrame | None
) -> pd.DataFrame:
    """The scored creators' actions up to ``at_ts`` that still count (not overturned on appeal by then).

    Raises :class:`HealthInputError` when ``health_points`` are missing or negative.
    """
    act = actions[["action_id", "creator_id", "policy", "health_points", "actioned_at"]].copy()
    act["creator_id"] = act["creator_id"].astype(str)
    act["action_id"] = act["action_id"].astype(str)
    act["policy"] = act["policy"].astype(str)
    act["actioned_at"] = to_utc(act["actioned_at"])
    bad = act["health_points"].isna() | (pd.to_numeric(act["health_points"], errors="coerce") < 0)
    if bad.any():
        ex = ", ".join(act.loc[bad, "action_id"].head(5))
        raise HealthInputError(
            f"table 'enforcement_actions', column 'health_points': {int(bad.sum())} row(s) missing or negative "
            f"(e.g. {ex}); health points must be integers >= 0"
        )
    act["health_points"] = act["health_points"].astype(float)
    act = act[(act["actioned_at"] <= at_ts) & act["creator_id"].isin(cr["creator_id"])]
    if appeals is not None and len(appeals):
        _require(appeals, "appeals", ["action_id", "outcome", "resolved_at"])
        ap = appeals[appeals["outcome"].astype(str) == "overturned"]
        ap = ap[to_utc(ap["resolved_at"]) <= at_ts]
        act = act[~act["action_id"].isin(ap["action_id"].astype(str))]
    return act


def _repeat_policy(act: pd.DataFrame, s: HealthSettings) -> pd.Series:
    """Per creator who reached the repeat-policy rule: the (first, by name) policy that reached it."""
    rep = act.assign(one=1.0)
    rep_max = _rolling_max(rep, ["creator_id", "policy"], "one", s.repeat_policy_window_days)
    rep_hit = rep_max[rep_max >= s.repeat_policy_limit]
    return (
        rep_hit.reset_index().sort_values(["creator_id", "policy"]).groupby("creator_id")["policy"].first()
        if len(rep_hit)
        else pd.Series(dtype=object)
    )


def summarise_health_distribution(
    scores: pd.DataFrame,
    by: Sequence[str] = ("market", "tier"),
    quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
) -> pd.DataFrame:
    """Distribution of health scores per group.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score_health`.
    by : sequence of str, default ("market", "tier")
        Grouping columns; ``()`` for one overall row.
    quantiles : sequence of float
        Quantiles reported as ``p10, p25, p50, ...`` (linear interpolation, pandas'
        default, equal to R ``quantile(type = 7)``).

    Returns
    -------
    DataFrame
        Per group: ``creators``, ``mean``, the quantile columns, ``min``,
        ``below_start`` (creators with a score below the start score, i.e. with
        live deductions) and ``ecommerce_removed`` (counts).
    """
    _require(scores, "scores", ["score", "points_active", "ecommerce_removed", *by])
    keys = list(by)
    g = scores.assign(_one=1, _below=scores["points_active"] > 0)
    grouped = g.groupby(keys, observed=True, sort=True) if keys else g.groupby(np.zeros(len(g)))
    out = grouped.agg(
        creators=("_one", "sum"),
        mean=("score", "mean"),
        min=("score", "min"),
        below_start=("_below", "sum"),
        ecommerce_removed=("ecommerce_removed", "sum"),
    )
    for q in quantiles:
        out[f"p{round(q * 100):02d}"] = grouped["score"].quantile(q)
    cols = [
        "creators",
        "mean",
        *[f"p{round(q * 100):02d}" for q in quantiles],
        "min",
        "below_start",
        "ecommerce_removed",
    ]
    out = out[cols].reset_index()
    if not keys:
        out = out.drop(columns=out.columns[0])
    for c in ("creators", "below_start", "ecommerce_removed"):
        out[c] = out[c].astype(int)
    return out


def share_at_or_below_milestones(
    scores: pd.DataFrame,
    content: pd.DataFrame,
    settings: HealthSettings | None = None,
    *,
    active_days: int = 90,
    by: Sequence[str] = ("market",),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of active creators whose score is at or below each milestone.

    Definition: numerator, active creators with ``score <= milestone``; denominator,
    *active* creators: scored creators with at least one ``content`` item published in
    ``(at - active_days, at]`` (``at`` is the moment of ``scores``). Creators whose
    e-commerce permissions are removed by the terminal rules count at or below every
    milestone.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score_health` (one ``at``).
    content : DataFrame
        ``content`` (``creator_id, published_at``).
    settings : HealthSettings, optional
        Gives the milestones and their restrictions.
    active_days : int, default 90
        Look-back defining an active creator (a dormant account is not at risk of
        losing sales and would dilute the shares).
    by : sequence of str, default ("market",)
        Grouping columns of ``scores`` (e.g. ``("market", "tier")``).
    alpha : float, default 0.05
        Wilson interval level.

    Returns
    -------
    DataFrame
        Per group and milestone (descending): ``milestone, restriction, numerator,
        denominator, value, ci_low, ci_high``; ``value`` is NaN when the group has no
        active creator.
    """
    s = _settings(settings)
    _require(scores, "scores", ["creator_id", "at", "score", "ecommerce_removed", *by])
    _require(content, "content", ["creator_id", "published_at"])
    if scores.empty:
        return pd.DataFrame(
            columns=[
                *by,
                "milestone",
                "restriction",
                "numerator",
                "denominator",
                "value",
                "ci_low",
                "ci_high",
            ]
        )
    at = _at(scores["at"].iloc[0])
    pub = to_utc(content["published_at"])
    recent = content.loc[(pub > at - pd.Timedelta(days=active_days)) & (pub <= at), "creator_id"].astype(str)
    active = scores[scores["creator_id"].astype(str).isin(set(recent))]
    keys = list(by)
    groups = scores[keys].drop_duplicates().sort_values(keys) if keys else pd.DataFrame(index=[0])
    rows = []
    for _, grp in groups.iterrows():
        mask = np.ones(len(active), dtype=bool)
        for k in keys:
            mask &= (active[k] == grp[k]).to_numpy()
        a = active[mask]
        n = len(a)
        for m in sorted(s.milestones, reverse=True):
            k_ = int(((a["score"] <= m) | a["ecommerce_removed"]).sum())
            lo, hi = proportion_interval(k_, n, alpha=alpha)
            rows.append(
                {
                    **{k: grp[k] for k in keys},
                    "milestone": m,
                    "restriction": s.milestones[m],
                    "numerator": k_,
                    "denominator": n,
                    "value": k_ / n if n else math.nan,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)


def list_early_warning(
    scores: pd.DataFrame,
    actions: pd.DataFrame,
    settings: HealthSettings | None = None,
    *,
    typical_points: float | dict[str, float] | None = None,
    lookback_days: int = 365,
) -> pd.DataFrame:
    """Creators one typical violation away from their next milestone (for outreach).

    A creator is listed with reason ``"milestone"`` when ``score > m`` and
    ``score - typical_points <= m`` for the next milestone ``m`` below the score, and
    with reason ``"repeat_policy"`` when one policy already has
    ``repeat_policy_limit - 1`` live actions in the repeat window (one more removes
    e-commerce permissions). Creators whose e-commerce permissions are already removed
    are not listed (outreach can no longer prevent it).

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score_health`.
    actions : DataFrame
        ``enforcement_actions`` (``creator_id, market, policy, health_points,
        actioned_at``); used for the typical deduction and the repeat counts.
    settings : HealthSettings, optional
        The market's health settings.
    typical_points : float or dict, optional
        Points of "one typical violation": a number, or ``{market: points}``. Default:
        per market, the median ``health_points`` of actions with points > 0 actioned
        in the ``lookback_days`` before ``at``.
    lookback_days : int, default 365
        Window of actions used for the default typical deduction.

    Returns
    -------
    DataFrame
        ``creator_id, market, tier, score, reason, next_milestone, next_restriction,
        points_to_next, typical_points, policy, policy_count, message``: one row per
        creator and reason, sorted by market, reason, points to the next milestone and
        creator. ``creator_id`` is raw: pseudonymise (``govlib.privacy``) before the
        list leaves the team.
    """
    s = _settings(settings)
    _require(scores, "scores", ["creator_id", "market", "tier", "at", "score", "ecommerce_removed"])
    _require(
        actions, "enforcement_actions", ["creator_id", "market", "policy", "health_points", "actioned_at"]
    )
    cols = [
        "creator_id",
        "market",
        "tier",
        "score",
        "reason",
        "next_milestone",
        "next_restriction",
        "points_to_next",
        "typical_points",
        "policy",
        "policy_count",
        "message",
    ]
    if scores.empty:
        return pd.DataFrame(columns=cols)
    at = _at(scores["at"].iloc[0])
    act = actions.assign(
        actioned_at=to_utc(actions["actioned_at"]), creator_id=actions["creator_id"].astype(str)
    )
    act = act[act["actioned_at"] <= at]

    typical = _typical_points(typical_points, act, scores, at, lookback_days)
    live = scores[~scores["ecommerce_removed"].astype(bool)].copy()
    live["creator_id"] = live["creator_id"].astype(str)
    rows = _milestone_warnings(live, typical, s) + _repeat_policy_warnings(live, act, at, typical, s)
    out = pd.DataFrame(rows, columns=cols)
    if out.empty:
        return out
    out["policy_count"] = out["policy_count"].astype(int)
    return out.sort_values(
        ["market", "reason", "points_to_next", "creator_id"], na_position="last"
    ).reset_index(drop=True)


def _typical_points(
    typical_points, act: pd.DataFrame, scores: pd.DataFrame, at: pd.Timestamp, lookback_days: int
) -> dict:
    """Points of one typical violation per market: given, or the median positive deduction of the lookback."""
    if typical_points is None:
        recent = act[
            (act["actioned_at"] > at - pd.Timedelta(days=lookback_days)) & (act["health_points"] > 0)
        ]
        return recent.groupby(recent["market"].astype(str))["health_points"].median().to_dict()
    if isinstance(typical_points, dict):
        return dict(typical_points)
    return {m: float(typical_points) for m in scores["market"].astype(str).unique()}


def _milestone_warnings(live: pd.DataFrame, typical: dict, s: HealthSettings) -> list[dict]:
    """Rows of creators whom one typical violation takes to their next milestone."""
    rows = []
    desc = sorted(s.milestones, reverse=True)
    for r in live.itertuples(index=False):
        tp = typical.get(str(r.market), math.nan)
        below = [m for m in desc if m < r.score]
        if below and not math.isnan(tp):
            m = below[0]
            if r.score - tp <= m:
                rows.append(
                    {
                        "creator_id": r.creator_id,
                        "market": r.market,
                        "tier": r.tier,
                        "score": r.score,
                        "reason": "milestone",
                        "next_milestone": m,
                        "next_restriction": s.milestones[m],
                        "points_to_next": r.score - m,
                        "typical_points": tp,
                        "policy": None,
                        "policy_count": 0,
                        "message": f"score {r.score:g}: one typical violation (-{tp:g} points) reaches milestone {m} "
                        f"({s.milestones[m]})",
                    }
                )
    return rows


def _repeat_policy_warnings(
    live: pd.DataFrame, act: pd.DataFrame, at: pd.Timestamp, typical: dict, s: HealthSettings
) -> list[dict]:
    """Rows of creators with one action of a policy short of the repeat-policy rule."""
    window = pd.Timedelta(days=s.repeat_policy_window_days)
    rep = act[(act["actioned_at"] > at - window) & act["creator_id"].isin(live["creator_id"])]
    counts = rep.groupby(["creator_id", rep["policy"].astype(str)]).size()
    near = counts[counts == s.repeat_policy_limit - 1]
    info = live.set_index("creator_id")
    floor = min(s.milestones)
    rows = []
    for (cid, pol), n in near.items():
        r = info.loc[cid]
        rows.append(
            {
                "creator_id": cid,
                "market": r["market"],
                "tier": r["tier"],
                "score": r["score"],
                "reason": "repeat_policy",
                "next_milestone": floor,
                "next_restriction": s.milestones[floor],
                "points_to_next": math.nan,
                "typical_points": typical.get(str(r["market"]), math.nan),
                "policy": pol,
                "policy_count": int(n),
                "message": f"{int(n)} actions for {pol} in the last {s.repeat_policy_window_days} days: one more "
                f"removes e-commerce permissions",
            }
        )
    return rows


def count_early_warning(warnings: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Early-warning creators per market and reason, with the share of scored creators.

    Parameters
    ----------
    warnings : DataFrame
        Output of :func:`list_early_warning`.
    scores : DataFrame
        The :func:`score_health` frame it came from (denominator: scored creators of
        the market whose e-commerce permissions are not removed).

    Returns
    -------
    DataFrame
        ``market, reason, creators, denominator, share``; reason ``"any"`` counts each
        creator once.
    """
    _require(scores, "scores", ["creator_id", "market", "ecommerce_removed"])
    base = scores[~scores["ecommerce_removed"].astype(bool)].groupby("market").size()
    rows = []
    for market in sorted(base.index.astype(str)):
        w = warnings[warnings["market"].astype(str) == market]
        n = int(base.loc[market])
        for reason in ("milestone", "repeat_policy", "any"):
            k = w["creator_id"].nunique() if reason == "any" else int((w["reason"] == reason).sum())
            rows.append(
                {
                    "market": market,
                    "reason": reason,
                    "creators": int(k),
                    "denominator": n,
                    "share": k / n if n else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=["market", "reason", "creators", "denominator", "share"])
