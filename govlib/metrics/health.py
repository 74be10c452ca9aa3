"""Creator account health, modelled on TikTok Shop's Creator Health Rating (CHR).

A creator's score runs from 0 to ``max_score`` (1,000). A new creator starts at
``start_score`` (200); each enforcement action deducts its ``health_points``; a
deduction expires ``deduction_window_days`` (90) after the action. When the score is
at or below a milestone (150 / 100 / 50 / 0) the milestone's restriction applies, and
violating the same policy ``repeat_policy_limit`` (6) times within
``repeat_policy_window_days`` (90) removes e-commerce permissions whatever the score.
Every number comes from the market's :class:`govlib.params.HealthSettings`.

The per-creator ledger and everything derived from it are Ibis expressions
(:mod:`govlib.metrics.expr`): on a report's cube they run in DuckDB, on Spark tables in
Spark, and only aggregates (by tier, score value, milestone, reason) or the limited,
pseudonymised examples reach pandas. Given pandas frames the same expressions run on an
in-memory DuckDB table.

Functions
---------
health_ledger
    Score, milestone and restriction of each creator at a date, as an Ibis table.
score_health
    The same ledger executed into a pandas frame (tests, single-creator investigations).
score_counts
    Creators per score value (and group): the frequency table the summaries start from.
summarise_health_distribution
    Distribution of scores per market and tier.
share_at_or_below_milestones
    Share of active creators at or below each milestone, with Wilson intervals.
early_warning_table
    Creators one typical violation away from the next milestone or from the
    repeat-policy rule (for outreach before they are penalised), as an Ibis table.
list_early_warning
    That list executed, with its messages.
closest_early_warning
    The few creators of that list closest to their next milestone.
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

import pandas as pd

from govlib.errors import GovlibError
from govlib.metrics.expr import as_table, quantile_from_counts, require_columns, rolling_sum, utc_literal
from govlib.params import HealthSettings
from govlib.stats import proportion_interval

__all__ = [
    "health_ledger",
    "score_health",
    "score_counts",
    "summarise_health_distribution",
    "share_at_or_below_milestones",
    "early_warning_table",
    "list_early_warning",
    "closest_early_warning",
    "count_early_warning",
]

LEDGER_COLUMNS = [
    "creator_id",
    "market",
    "tier",
    "at",
    "score",
    "points_active",
    "violations_active",
    "milestone",
    "floor_reached",
    "repeat_policy_rule",
    "repeat_policy",
    "ecommerce_removed",
    "restriction",
]
WARNING_COLUMNS = [
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


class HealthInputError(GovlibError):
    """The tables given to a health metric lack columns or hold unusable values."""


def _require(t, table: str, columns: Sequence[str]) -> None:
    require_columns(t, table, columns, HealthInputError)


def _settings(settings: HealthSettings | None) -> HealthSettings:
    return settings if settings is not None else HealthSettings()


def _lit_at(ts: pd.Timestamp):
    return utc_literal(ts)[1]


def health_ledger(
    actions, creators, at, settings: HealthSettings | None = None, *, market=None, appeals=None
):
    """Creator Health Rating of every creator at a moment, as an Ibis table (one row per creator).

    Definition: ``score = clip(start_score - sum(health_points of actions with
    at - window < actioned_at <= at), 0, max_score)``: a deduction counts from the
    moment of its action until exactly ``deduction_window_days`` later, when it
    expires (at ``actioned_at + 90 days`` it no longer counts).

    Parameters
    ----------
    actions : ibis.Table or DataFrame
        ``enforcement_actions`` (``action_id, creator_id, policy, health_points,
        actioned_at``); rows after ``at`` are ignored.
    creators : ibis.Table or DataFrame
        ``creators`` (``creator_id, market, tier, registered_at``). A creator registered
        after ``at`` is not scored. Denominator of later shares: every scored creator.
    at : str or Timestamp
        The moment of the score (naive means UTC). For a month-end score use the
        end of the month in the market's time zone (``govlib.timeutil.month_bounds``).
    settings : HealthSettings, optional
        The market's ``MarketParams.health``; defaults are TikTok Shop's published values.
    market : str, optional
        Score only creators of this home market.
    appeals : ibis.Table or DataFrame, optional
        ``appeals`` (``action_id, outcome, resolved_at``). An action whose appeal was
        resolved ``overturned`` by ``at`` deducts nothing and does not count towards the
        repeat-policy rule (TikTok Shop removes the enforcement after a successful
        appeal). ``partially_overturned`` keeps the deduction (the data do not say by
        how much it was reduced).

    Returns
    -------
    ibis.Table
        ``creator_id, market, tier, at, score, points_active`` (deductions still
        counting), ``violations_active``, ``milestone`` (the lowest milestone the score is
        at or below; null when above all), ``floor_reached`` (the score was at or below
        the lowest milestone at some action up to ``at``), ``repeat_policy_rule`` (some
        policy reached ``repeat_policy_limit`` actions within
        ``repeat_policy_window_days``), ``repeat_policy`` (that policy, the first by name),
        ``ecommerce_removed`` (``floor_reached or repeat_policy_rule``) and
        ``restriction`` (that of the lowest milestone when e-commerce is removed, else
        that of ``milestone``, else ``"none"``). Unordered; raw ``creator_id``.

    Notes
    -----
    The lowest milestone (0: "permanently removed") and the repeat-policy rule are
    terminal: once reached they stay in force even after the deductions expire.
    The higher milestones lift as deductions expire. Points a creator *earns* on TikTok
    Shop (compliant orders, policy quizzes) are not in the data contract, so the score
    here can only fall from ``start_score`` and recover by expiry; ``max_score`` caps it.
    The repeat-policy window uses the same half-open convention: six actions of one
    policy with the first and the sixth exactly 90 days apart do not trigger the rule.
    The rolling windows are range frames (:func:`govlib.metrics.expr.rolling_sum`).

    References
    ----------
    .. [1] TikTok Shop, Creator Enforcement Policy / Creator Health Rating,
       https://seller-us.tiktok.com/university/essay?knowledge_id=5054301796321070
    """
    s = _settings(settings)
    actions, creators = as_table(actions, "enforcement_actions"), as_table(creators, "creators")
    _require(
        actions, "enforcement_actions", ["action_id", "creator_id", "policy", "health_points", "actioned_at"]
    )
    _require(creators, "creators", ["creator_id", "market", "tier", "registered_at"])
    at_ts, at_lit = utc_literal(at)
    cr = creators.filter(creators.registered_at <= at_lit)
    if market is not None:
        cr = cr.filter(cr.market == market)
    cr = cr.select("creator_id", "market", "tier")
    act = _counted_actions(actions, cr, at_lit, appeals)
    live_from = _lit_at(at_ts - pd.Timedelta(days=s.deduction_window_days))
    live = act.filter(act.actioned_at > live_from)
    live = live.group_by("creator_id").agg(_points=live.health_points.sum(), _n_live=live.count())
    rolled = act.mutate(
        _w=rolling_sum(act, act.health_points, ["creator_id"], "actioned_at", s.deduction_window_days)
    )
    peak = rolled.group_by("creator_id").agg(_peak=rolled._w.max())
    ones = act.mutate(_one=act.health_points.notnull().cast("int64"))
    rep = ones.mutate(
        _n=rolling_sum(ones, ones._one, ["creator_id", "policy"], "actioned_at", s.repeat_policy_window_days)
    )
    rep = rep.filter(rep._n >= s.repeat_policy_limit)
    rep = rep.group_by("creator_id").agg(_rep=rep.policy.min())
    out = cr
    for part in (live, peak, rep):
        out = out.left_join(part, out.creator_id == part.creator_id).drop("creator_id_right")
    return _ledger_columns(out, at_lit, s)


def _ledger_columns(t, at_lit, s: HealthSettings):
    """The ledger's columns from the joined per-creator sums (``_points, _n_live, _peak, _rep``)."""
    import ibis

    pts = t._points.fill_null(0).cast("float64")
    score = (s.start_score - pts).clip(lower=0, upper=s.max_score)
    asc = sorted(s.milestones)
    floor = asc[0]
    milestone = ibis.cases(*[(score <= m, m) for m in asc], else_=ibis.null("int64")).cast("int64")
    floor_hit = (s.start_score - t._peak.cast("float64") <= floor).fill_null(False)
    rule = t._rep.notnull()
    removed = floor_hit | rule
    restriction = ibis.cases(
        (removed, s.milestones[floor]), *[(milestone == m, s.milestones[m]) for m in asc], else_="none"
    )
    return t.select(
        creator_id=t.creator_id,
        market=t.market,
        tier=t.tier,
        at=at_lit,
        score=score,
        points_active=pts,
        violations_active=t._n_live.fill_null(0).cast("int64"),
        milestone=milestone,
        floor_reached=floor_hit,
        repeat_policy_rule=rule,
        repeat_policy=t._rep,
        ecommerce_removed=removed,
        restriction=restriction,
    )


def _counted_actions(actions, cr, at_lit, appeals):
    """The scored creators' actions up to ``at`` that still count (not overturned on appeal by then).

    Raises :class:`HealthInputError` when ``health_points`` are missing or negative.
    """
    bad = actions.filter(actions.health_points.isnull() | (actions.health_points < 0))
    n_bad = int(bad.count().execute())
    if n_bad:
        ex = ", ".join(map(str, bad.select("action_id").limit(5).execute()["action_id"]))
        raise HealthInputError(
            f"table 'enforcement_actions', column 'health_points': {n_bad} row(s) missing or negative "
            f"(e.g. {ex}); health points must be integers >= 0"
        )
    act = actions.select("action_id", "creator_id", "policy", "health_points", "actioned_at")
    act = act.filter(act.actioned_at <= at_lit).semi_join(cr, "creator_id")
    if appeals is not None:
        ap = as_table(appeals, "appeals")
        _require(ap, "appeals", ["action_id", "outcome", "resolved_at"])
        ap = ap.filter((ap.outcome == "overturned") & (ap.resolved_at <= at_lit)).select("action_id")
        act = act.anti_join(ap, "action_id")
    return act


def score_health(
    actions, creators, at, settings: HealthSettings | None = None, *, market=None, appeals=None
) -> pd.DataFrame:
    """:func:`health_ledger` executed: one row per scored creator, sorted by ``creator_id``.

    For a report, work on the ledger expression instead (its summaries below take it);
    this frame grows with the creators. The columns are those of :func:`health_ledger`,
    with ``milestone`` as nullable ``Int64`` and ``repeat_policy`` None unless the rule
    applies.

    Notes
    -----
    See :func:`health_ledger` for the definition.
    """
    at_ts = utc_literal(at)[0]
    out = health_ledger(actions, creators, at_ts, settings, market=market, appeals=appeals)
    df = out.order_by("creator_id").execute().reset_index(drop=True)
    df["at"] = pd.Series(at_ts, index=df.index)
    df["score"] = df["score"].astype(float)
    df["points_active"] = df["points_active"].astype(float)
    df["violations_active"] = df["violations_active"].astype(int)
    df["milestone"] = df["milestone"].astype("Int64")
    for c in ("floor_reached", "repeat_policy_rule", "ecommerce_removed"):
        df[c] = df[c].astype(bool)
    df["repeat_policy"] = df["repeat_policy"].astype(object).where(df["repeat_policy_rule"], None)
    df["restriction"] = df["restriction"].astype(object)
    return df[LEDGER_COLUMNS]


def score_counts(scores, by: Sequence[str] = ()) -> pd.DataFrame:
    """Creators per score value (per group of ``by``): the ledger's distribution, computed on the engine.

    Parameters
    ----------
    scores : ibis.Table or DataFrame
        :func:`health_ledger` (or :func:`score_health`).
    by : sequence of str
        Grouping columns.

    Returns
    -------
    DataFrame
        ``*by, score, creators, below_start`` (with live deductions), ``ecommerce_removed``
        (counts), sorted by the groups then the score. Its size grows with the distinct
        scores (at most ``max_score + 1`` per group), not with the creators.
    """
    t = as_table(scores)
    _require(t, "scores", ["score", "points_active", "ecommerce_removed", *by])
    keys = [*by, "score"]
    agg = t.group_by(keys).agg(
        creators=t.count(),
        below_start=(t.points_active > 0).cast("int64").sum(),
        ecommerce_removed=t.ecommerce_removed.cast("int64").sum(),
    )
    out = agg.execute().sort_values(keys).reset_index(drop=True)
    for c in ("creators", "below_start", "ecommerce_removed"):
        out[c] = out[c].astype(int)
    out["score"] = out["score"].astype(float)
    return out


def summarise_health_distribution(
    scores,
    by: Sequence[str] = ("market", "tier"),
    quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
) -> pd.DataFrame:
    """Distribution of health scores per group.

    Parameters
    ----------
    scores : ibis.Table or DataFrame
        :func:`health_ledger` (or :func:`score_health`).
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

    Notes
    -----
    Computed from :func:`score_counts` (the engine's frequency table of scores), with
    the quantiles of :func:`govlib.metrics.expr.quantile_from_counts`: the numbers of the
    expanded sample, without moving one row per creator.
    """
    keys = list(by)
    hist = score_counts(scores, by=keys)
    qcols = [f"p{round(q * 100):02d}" for q in quantiles]
    cols = ["creators", "mean", *qcols, "min", "below_start", "ecommerce_removed"]
    rows = []
    groups = hist.groupby(keys, sort=True, observed=True) if keys else [((), hist)] if len(hist) else []
    for name, g in groups:
        x, n = g["score"].to_numpy(dtype=float), g["creators"].to_numpy()
        row = dict(zip(keys, name if isinstance(name, tuple) else (name,)))
        row.update(creators=int(n.sum()), mean=float((x * n).sum() / n.sum()), min=float(x.min()))
        row.update({c: quantile_from_counts(x, n, q) for c, q in zip(qcols, quantiles)})
        row.update(
            below_start=int(g["below_start"].sum()), ecommerce_removed=int(g["ecommerce_removed"].sum())
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, *cols])


def _scores_at(t, at) -> pd.Timestamp:
    """The moment of a ledger: ``at`` when given, else read from the ledger's ``at`` column."""
    if at is not None:
        return utc_literal(at)[0]
    return utc_literal(t.select("at").limit(1).execute()["at"].iloc[0])[0]


def share_at_or_below_milestones(
    scores,
    content,
    settings: HealthSettings | None = None,
    *,
    active_days: int = 90,
    by: Sequence[str] = ("market",),
    alpha: float = 0.05,
    at=None,
) -> pd.DataFrame:
    """Share of active creators whose score is at or below each milestone.

    Definition: numerator, active creators with ``score <= milestone``; denominator,
    *active* creators: scored creators with at least one ``content`` item published in
    ``(at - active_days, at]`` (``at`` is the moment of ``scores``). Creators whose
    e-commerce permissions are removed by the terminal rules count at or below every
    milestone.

    Parameters
    ----------
    scores : ibis.Table or DataFrame
        :func:`health_ledger` (one ``at``) or :func:`score_health`.
    content : ibis.Table or DataFrame
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
    at : str or Timestamp, optional
        The moment of ``scores`` when known (saves reading it from the ledger).

    Returns
    -------
    DataFrame
        Per group and milestone (descending): ``milestone, restriction, numerator,
        denominator, value, ci_low, ci_high``; ``value`` is NaN when the group has no
        active creator.
    """
    s = _settings(settings)
    keys = list(by)
    t, c = as_table(scores), as_table(content, "content")
    _require(t, "scores", ["creator_id", "at", "score", "ecommerce_removed", *keys])
    _require(c, "content", ["creator_id", "published_at"])
    cols = [*keys, "milestone", "restriction", "numerator", "denominator", "value", "ci_low", "ci_high"]
    if at is None:  # the moment of the ledger (none when it is empty)
        first = t.select("at").limit(1).execute()
        if first.empty:
            return pd.DataFrame(columns=cols)
        at = first["at"].iloc[0]
    at_ts = utc_literal(at)[0]
    lo, hi = _lit_at(at_ts - pd.Timedelta(days=active_days)), _lit_at(at_ts)
    recent = c.filter((c.published_at > lo) & (c.published_at <= hi)).select(_cid=c.creator_id).distinct()
    j = t.left_join(recent, t.creator_id == recent._cid)
    active = j._cid.notnull()
    desc = sorted(s.milestones, reverse=True)
    aggs = {"_rows": j.count(), "_n": active.cast("int64").sum()} | {
        f"_k{i}": (active & ((j.score <= m) | j.ecommerce_removed)).cast("int64").sum()
        for i, m in enumerate(desc)
    }  # one query: every group of the ledger, with its active creators (0 when none)
    merged = (j.group_by(keys).agg(**aggs) if keys else j.aggregate(**aggs)).execute()
    merged = merged[merged["_rows"].fillna(0) > 0]
    if merged.empty:
        return pd.DataFrame(columns=cols)
    merged = merged.sort_values(keys).reset_index(drop=True) if keys else merged
    rows = []
    for _, grp in merged.iterrows():
        n = 0 if pd.isna(grp["_n"]) else int(grp["_n"])
        for i, m in enumerate(desc):
            k = 0 if pd.isna(grp[f"_k{i}"]) else int(grp[f"_k{i}"])
            lo_, hi_ = proportion_interval(k, n, alpha=alpha)
            row = {k_: grp[k_] for k_ in keys}
            row.update(milestone=m, restriction=s.milestones[m], numerator=k, denominator=n)
            row.update(value=k / n if n else math.nan, ci_low=lo_, ci_high=hi_)
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _typical_points(typical_points, actions, markets, at_ts: pd.Timestamp, lookback_days: int) -> dict:
    """Points of one typical violation per market: given, or the median positive deduction of the lookback."""
    if isinstance(typical_points, dict):
        return {str(k): float(v) for k, v in typical_points.items()}
    if typical_points is not None:
        return {m: float(typical_points) for m in markets}
    lo, hi = _lit_at(at_ts - pd.Timedelta(days=lookback_days)), _lit_at(at_ts)
    a = actions.filter((actions.actioned_at > lo) & (actions.actioned_at <= hi) & (actions.health_points > 0))
    hist = a.group_by(["market", "health_points"]).agg(n=a.count()).execute()
    hist = hist.sort_values(["market", "health_points"])
    return {
        str(m): quantile_from_counts(g["health_points"].to_numpy(dtype=float), g["n"].to_numpy(), 0.5)
        for m, g in hist.groupby("market", sort=True)
    }


def _by_market(col, values: dict, dtype: str):
    """``values[market]`` as an engine expression (null for other markets)."""
    import ibis

    pairs = [(col == k, v) for k, v in values.items() if not (isinstance(v, float) and math.isnan(v))]
    return ibis.cases(*pairs, else_=ibis.null(dtype)) if pairs else ibis.null(dtype)


def early_warning_table(
    scores,
    actions,
    settings: HealthSettings | None = None,
    *,
    typical_points: float | dict[str, float] | None = None,
    lookback_days: int = 365,
    at=None,
):
    """Creators one typical violation away from their next milestone (for outreach), as an Ibis table.

    A creator is listed with reason ``"milestone"`` when ``score > m`` and
    ``score - typical_points <= m`` for the next milestone ``m`` below the score, and
    with reason ``"repeat_policy"`` when one policy already has
    ``repeat_policy_limit - 1`` actions in the repeat window up to ``at`` (one more
    removes e-commerce permissions). Creators whose e-commerce permissions are already
    removed are not listed (outreach can no longer prevent it).

    Parameters
    ----------
    scores : ibis.Table or DataFrame
        :func:`health_ledger` or :func:`score_health`.
    actions : ibis.Table or DataFrame
        ``enforcement_actions`` (``creator_id, market, policy, health_points,
        actioned_at``); used for the typical deduction and the repeat counts.
    settings : HealthSettings, optional
        The market's health settings.
    typical_points : float or dict, optional
        Points of "one typical violation": a number, or ``{market: points}``. Default:
        per market, the median ``health_points`` of actions with points > 0 actioned
        in the ``lookback_days`` before ``at`` (computed from the engine's frequency
        table of points).
    lookback_days : int, default 365
        Window of actions used for the default typical deduction.
    at : str or Timestamp, optional
        The moment of ``scores`` when known (saves reading it from the ledger).

    Returns
    -------
    ibis.Table
        ``creator_id, market, tier, score, reason, next_milestone, next_restriction,
        points_to_next`` (null for the repeat-policy reason), ``typical_points, policy,
        policy_count``: one row per creator and reason, unordered. ``creator_id`` is raw:
        count it (:func:`count_early_warning`) or pseudonymise the few examples
        (:func:`closest_early_warning`, ``govlib.privacy``) before anything leaves the team.
    """
    import ibis

    s = _settings(settings)
    t, act = as_table(scores), as_table(actions, "enforcement_actions")
    _require(t, "scores", ["creator_id", "market", "tier", "at", "score", "ecommerce_removed"])
    _require(act, "enforcement_actions", ["creator_id", "market", "policy", "health_points", "actioned_at"])
    at_ts = _scores_at(t, at)
    markets = [] if typical_points is None or isinstance(typical_points, dict) else _markets(t)
    typical = _typical_points(typical_points, act, markets, at_ts, lookback_days)
    live = t.filter(~t.ecommerce_removed)
    tp = _by_market(live.market, typical, "float64")
    desc = sorted(s.milestones, reverse=True)
    nxt = ibis.cases(*[(live.score > m, m) for m in desc], else_=ibis.null("int64")).cast("int64")
    near = live.filter(nxt.notnull() & tp.notnull() & (live.score - tp <= nxt))
    nxt = ibis.cases(*[(near.score > m, m) for m in desc], else_=ibis.null("int64")).cast("int64")
    milestone_rows = near.select(
        "creator_id", "market", "tier", "score",
        reason=ibis.literal("milestone"),
        next_milestone=nxt,
        next_restriction=ibis.cases(*[(nxt == m, s.milestones[m]) for m in desc], else_=ibis.null("string")),
        points_to_next=(near.score - nxt).cast("float64"),
        typical_points=_by_market(near.market, typical, "float64"),
        policy=ibis.null("string"),
        policy_count=ibis.literal(0, "int64"),
    )  # fmt: skip
    lo, hi = _lit_at(at_ts - pd.Timedelta(days=s.repeat_policy_window_days)), _lit_at(at_ts)
    rep = act.filter((act.actioned_at > lo) & (act.actioned_at <= hi)).semi_join(live, "creator_id")
    rep = rep.group_by(["creator_id", "policy"]).agg(policy_count=rep.count())
    rep = rep.filter(rep.policy_count == s.repeat_policy_limit - 1).join(live, "creator_id")
    floor = min(s.milestones)
    repeat_rows = rep.select(
        "creator_id", "market", "tier", "score",
        reason=ibis.literal("repeat_policy"),
        next_milestone=ibis.literal(floor, "int64"),
        next_restriction=ibis.literal(s.milestones[floor], "string"),
        points_to_next=ibis.null("float64"),
        typical_points=_by_market(rep.market, typical, "float64"),
        policy=rep.policy.cast("string"),
        policy_count=rep.policy_count.cast("int64"),
    )  # fmt: skip
    return milestone_rows.union(repeat_rows)


def _markets(t) -> list[str]:
    return sorted(map(str, t.select("market").distinct().execute()["market"]))


def _with_messages(df: pd.DataFrame, s: HealthSettings) -> pd.DataFrame:
    """The executed early-warning rows with their outreach message (and pandas' dtypes)."""
    df = df.reset_index(drop=True)
    msgs = []
    for r in df.itertuples(index=False):
        if r.reason == "milestone":
            m = int(r.next_milestone)
            msgs.append(
                f"score {r.score:g}: one typical violation (-{r.typical_points:g} points) reaches milestone {m} "
                f"({s.milestones[m]})"
            )
        else:
            msgs.append(
                f"{int(r.policy_count)} actions for {r.policy} in the last {s.repeat_policy_window_days} days: "
                f"one more removes e-commerce permissions"
            )
    df["message"] = msgs
    df["policy_count"] = df["policy_count"].astype(int)
    df["next_milestone"] = df["next_milestone"].astype(int)
    for c in ("score", "points_to_next", "typical_points"):
        df[c] = df[c].astype(float)
    df["policy"] = df["policy"].astype(object).where(df["policy"].notna(), None)
    return df[WARNING_COLUMNS]


def list_early_warning(
    scores,
    actions,
    settings: HealthSettings | None = None,
    *,
    typical_points: float | dict[str, float] | None = None,
    lookback_days: int = 365,
    at=None,
) -> pd.DataFrame:
    """:func:`early_warning_table` executed, with an outreach ``message`` per row.

    Returns
    -------
    DataFrame
        ``creator_id, market, tier, score, reason, next_milestone, next_restriction,
        points_to_next, typical_points, policy, policy_count, message``, sorted by
        market, reason, points to the next milestone and creator. ``creator_id`` is raw:
        pseudonymise (``govlib.privacy``) before the list leaves the team.

    Notes
    -----
    The whole watchlist: its size grows with the creators near a milestone. Reports
    count it (:func:`count_early_warning`) and show :func:`closest_early_warning`.
    """
    s = _settings(settings)
    w = early_warning_table(
        scores, actions, s, typical_points=typical_points, lookback_days=lookback_days, at=at
    ).execute()
    if w.empty:
        return pd.DataFrame(columns=WARNING_COLUMNS)
    w = _with_messages(w, s)
    return w.sort_values(
        ["market", "reason", "points_to_next", "creator_id"], na_position="last"
    ).reset_index(drop=True)


def closest_early_warning(warnings, settings: HealthSettings | None = None, *, n: int = 10) -> pd.DataFrame:
    """The ``n`` early-warning rows closest to their next milestone (then by creator), with messages.

    Parameters
    ----------
    warnings : ibis.Table or DataFrame
        :func:`early_warning_table`.
    settings : HealthSettings, optional
        For the messages.
    n : int, default 10
        How many rows.

    Returns
    -------
    DataFrame
        Columns of :func:`list_early_warning`; rows of the repeat-policy reason (no
        points to the next milestone) come last. Raw ``creator_id``: pseudonymise it.
    """
    import ibis

    t = as_table(warnings)
    top = t.order_by([ibis.asc("points_to_next", nulls_first=False), "creator_id"]).limit(n).execute()
    if top.empty:
        return pd.DataFrame(columns=WARNING_COLUMNS)
    return _with_messages(top, _settings(settings))


def count_early_warning(warnings, scores) -> pd.DataFrame:
    """Early-warning creators per market and reason, with the share of scored creators.

    Parameters
    ----------
    warnings : ibis.Table or DataFrame
        :func:`early_warning_table` or :func:`list_early_warning`.
    scores : ibis.Table or DataFrame
        The ledger it came from (denominator: scored creators of the market whose
        e-commerce permissions are not removed).

    Returns
    -------
    DataFrame
        ``market, reason, creators, denominator, share``; reason ``"any"`` counts each
        creator once.
    """
    import ibis

    t, w = as_table(scores), as_table(warnings)
    _require(t, "scores", ["creator_id", "market", "ecommerce_removed"])
    kept = t.filter(~t.ecommerce_removed)
    parts = [  # one query: the denominators, the rows per reason and the distinct creators
        kept.group_by("market").agg(k=kept.count()).mutate(reason=ibis.literal("_base")),
        w.group_by(["market", "reason"]).agg(k=w.count()),
        w.group_by("market").agg(k=w.creator_id.nunique()).mutate(reason=ibis.literal("any")),
    ]
    parts = [
        p.select(market=p.market.cast("string"), reason=p.reason.cast("string"), k=p.k.cast("int64"))
        for p in parts
    ]
    got = ibis.union(*parts).execute()
    per = {(str(m), r): int(k) for m, r, k in got[["market", "reason", "k"]].itertuples(index=False)}
    base = pd.DataFrame([(m, n) for (m, r), n in per.items() if r == "_base"], columns=["market", "n"])
    rows = []
    for market, n in sorted((str(m), int(n)) for m, n in base[["market", "n"]].itertuples(index=False)):
        for reason in ("milestone", "repeat_policy", "any"):
            k = per.get((market, reason), 0)
            rows.append(
                {
                    "market": market,
                    "reason": reason,
                    "creators": k,
                    "denominator": n,
                    "share": k / n if n else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=["market", "reason", "creators", "denominator", "share"])
