"""Policy what-if: replay a market's last 13 months under the current and a proposed rule set.

::

    govlib simulate --market DE --month 2026-10 --proposal params/proposals/de_stricter_milestones.yaml
    govlib simulate --market DE --month 2026-10 --compare A.yaml B.yaml

A *proposal* (:class:`govlib.params.Proposal`, ``docs/simulation.md``) overrides some rules;
the rest keep the market's current setting (:func:`current_rules`). The replay is *static*:
the same violations, detections, notices and rewards happen under both rule sets, and only the
consequences the rules decide change (health points, the restriction in force, the action taken,
which rewards are paid, which items a signal actions or sends to review, which notices breach the
SLA). The one behavioural response, creators re-offending less after a harsher first action, is a
*model projection* (:func:`project_reoffence`) from the deterrence effect govlib estimates, with
that estimate's interval carried into it.

Output: :func:`simulate` gives a long frame ``scenario, metric, value, ci_low, ci_high, unit,
available`` (``scenario`` is ``current``, ``proposed`` or ``delta``); a proposal identical to the
current rules gives every delta exactly 0 (``tests/analyses/test_simulate.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from govlib.contract import ACTION_TYPES
from govlib.errors import GovlibError, UsageError
from govlib.metrics import health as m_health
from govlib.metrics.effectiveness import RISK_SET_WEIGHT
from govlib.params import (
    CURRENT_AUTO_ACTION_THRESHOLD,
    CURRENT_NOTICE_SLA_HOURS,
    RESTRICTIONS,
    MarketParams,
    Proposal,
    ProposalSignal,
)
from govlib.stats import proportion_interval
from govlib.timeutil import month_bounds, month_range, shift_month, to_utc

__all__ = [
    "Rules",
    "SimulationError",
    "SimulationInputs",
    "apply_rules",
    "current_rules",
    "check_signals",
    "circulated",
    "compare",
    "load_inputs",
    "milestones_of",
    "project_reoffence",
    "proposed_rules",
    "replay",
    "restricted_creators",
    "simulate",
]

NOTEBOOK = "simulation"
MONTHS = 13  # the replayed window: the report month and the 12 before it
HISTORY_MONTHS = 26  # loaded before the window, so deductions up to 730 days old still count
HORIZON_DAYS = 90  # re-offence horizon of the projection
LATER_VIOLATION_DAYS = 90  # a rewarded creator actioned within this many days after the reward
CSV_COLUMNS = ["scenario", "metric", "value", "ci_low", "ci_high", "unit"]
_HARSH = {a: i for i, a in enumerate(ACTION_TYPES)}
_TENURE = ((0, 3, "<3m"), (3, 12, "3-12m"), (12, 24, "12-24m"), (24, 10_000, "24m+"))


class SimulationError(GovlibError):
    """The simulation cannot run on these inputs (no data for the market, a month outside it)."""


@dataclass(frozen=True)
class Rules:
    """One rule set, resolved: every setting the replay reads.

    ``deductions`` maps policy (or ``"default"``) to severity to points; empty keeps the
    points recorded on each action. ``ladder`` maps an offence number to the least harsh
    action from that offence on; empty keeps the recorded actions. ``signals`` maps a signal
    to its per-language thresholds; a signal or language not there uses
    :data:`govlib.params.CURRENT_AUTO_ACTION_THRESHOLD` and no review band.
    """

    health: object
    deductions: dict = field(default_factory=dict)
    ladder: dict = field(default_factory=dict)
    min_health: int | None = None
    no_violation_days: int | None = None
    signals: dict = field(default_factory=dict)
    sla_hours: dict = field(default_factory=lambda: {"default": CURRENT_NOTICE_SLA_HOURS})

    def auto_threshold(self, signal: str, language: str) -> float:
        sig = self.signals.get(signal) or ProposalSignal()
        return sig.auto_action.get(language, sig.auto_action.get("default", CURRENT_AUTO_ACTION_THRESHOLD))

    def review_threshold(self, signal: str, language: str) -> float:
        sig = self.signals.get(signal) or ProposalSignal()
        auto = self.auto_threshold(signal, language)
        return sig.review.get(language, sig.review.get("default", auto))

    def sla(self, reporter_type: str) -> float:
        return self.sla_hours.get(reporter_type, self.sla_hours.get("default", CURRENT_NOTICE_SLA_HOURS))


def current_rules(market: MarketParams) -> Rules:
    """The rules in force: the market's health settings and the actions, points and rewards as recorded."""
    return Rules(health=market.health)


def proposed_rules(market: MarketParams, proposal: Proposal) -> Rules:
    """The current rules with the proposal's overrides applied (unset keys keep the current value)."""
    base = current_rules(market)
    h = proposal.health
    overrides = {
        k: getattr(h, k)
        for k in ("deduction_window_days", "milestones", "repeat_policy_limit", "repeat_policy_window_days")
        if getattr(h, k) is not None
    }
    r = proposal.rewards
    sla = {**base.sla_hours, **(proposal.notice_sla_hours or {})}
    return replace(
        base,
        health=base.health.model_copy(update=overrides),
        deductions=dict(h.deductions or {}),
        ladder=dict(proposal.penalty_ladder or {}),
        min_health=r.min_health if r else None,
        no_violation_days=r.no_violation_days if r else None,
        signals=dict(proposal.signals or {}),
        sla_hours=sla,
    )


@dataclass
class SimulationInputs:
    """The market's tables (window plus history), its params and the report month."""

    tables: dict
    market: MarketParams
    month: str

    @property
    def months(self) -> list[str]:
        return month_range(shift_month(self.month, -(MONTHS - 1)), self.month)

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return month_bounds(self.months[0], self.market.timezone)[0], self.month_end(self.month)

    def month_end(self, month: str) -> pd.Timestamp:
        """The last instant of a local month (scores at it include the month's last action)."""
        return month_bounds(month, self.market.timezone)[1] - pd.Timedelta(microseconds=1)


def load_inputs(data_dir, market: MarketParams, month: str) -> SimulationInputs:
    """Read the market's tables for the replay; refuse a market without data or a month after it.

    Raises
    ------
    SimulationError
        The dataset has no creators or no enforcement actions of ``market``.
    UsageError
        ``month`` is before the first or after the last month of the market's actions.
    """
    from govlib.data.load import load_market_window, open_dataset
    from govlib.timeutil import local_month

    ds = open_dataset(data_dir)
    code = market.code
    acts = ds.table("enforcement_actions", market=code).filter(lambda t: t.market == code)
    first, last = (acts.actioned_at.min().to_pandas(), acts.actioned_at.max().to_pandas())
    if last is None or pd.isna(last):
        raise SimulationError(
            f"market {code} has no enforcement actions in {ds.path}: nothing to replay; "
            f"choose a market of this dataset or point --data at one with {code} data"
        )
    first_month, last_month = local_month(
        pd.Series([pd.Timestamp(first), pd.Timestamp(last)]), market.timezone
    )
    if not first_month <= month <= last_month:
        raise UsageError(
            f"month {month} is outside the {code} data in {ds.path} ({first_month} to {last_month}); "
            f"simulate a month in that range"
        )
    tables = load_market_window(ds, code, month, market.timezone, months_back=MONTHS - 1 + HISTORY_MONTHS)
    return SimulationInputs(tables=tables, market=market, month=month)


def check_signals(inp: SimulationInputs, proposal: Proposal, path) -> None:
    """Refuse a proposal naming a signal the market's ``signal_scores`` do not hold (a typo would change nothing).

    Without a ``signal_scores`` table the signal metrics are reported as not available instead.
    """
    from govlib.params import ParamsError

    if not proposal.signals or "signal_scores" not in inp.tables:
        return
    known = sorted(inp.tables["signal_scores"]["signal"].astype(str).unique())
    bad = [s for s in proposal.signals if s not in known]
    if bad:
        raise ParamsError(
            f"{path}: key 'signals.{bad[0]}': no signal {bad[0]!r} in the {inp.market.code} signal_scores "
            f"({len(bad)} unknown: {', '.join(bad[:5])}); known signals: {', '.join(known) or 'none'}"
        )


# --------------------------------------------------------------------------------------- rules


def apply_rules(actions: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """The actions as the rules would have taken them: points by policy and severity, the ladder's floor.

    Definition: an *offence* is one decision, the actions of a creator at one ``actioned_at``
    (a decision may remove several items at once); its number counts the creator's decisions in
    time order. The ladder's floor for offence *n* is the action of the largest ladder step
    ``<= n``; the decision's harshest action (its primary) is raised to that floor when lighter.
    Points come from ``deductions[policy][severity]``, else ``deductions["default"][severity]``,
    else the recorded ``health_points``.
    """
    a = actions.copy()
    a["creator_id"] = a["creator_id"].astype(str)
    a["action_type"] = a["action_type"].astype(str)
    if rules.deductions:
        pol, sev = a["policy"].astype(str), a["severity"].astype(str)
        default = rules.deductions.get("default", {})
        pts = [
            rules.deductions.get(p, {}).get(s, default.get(s, hp))
            for p, s, hp in zip(pol, sev, a["health_points"].tolist())
        ]
        a["health_points"] = pd.array(pts, dtype="Int64")
    if rules.ladder:
        a = _apply_ladder(a, rules.ladder)
    return a


def _apply_ladder(a: pd.DataFrame, ladder: dict) -> pd.DataFrame:
    """Raise each decision's primary action to the ladder's floor for its offence number."""
    t = to_utc(a["actioned_at"])
    offence = t.groupby(a["creator_id"]).rank(method="dense").astype(int).to_numpy()
    harsh = a["action_type"].map(_HARSH).to_numpy()
    order = pd.DataFrame(
        {"c": a["creator_id"].to_numpy(), "t": t.to_numpy(), "h": -harsh, "id": a["action_id"]}
    )
    primary = ~order.sort_values(["c", "t", "h", "id"]).duplicated(["c", "t"]).sort_index().to_numpy()
    steps = sorted(ladder)
    floor = np.array(
        [
            _HARSH[ladder[max([s for s in steps if s <= n], default=steps[0])]] if n >= steps[0] else -1
            for n in offence
        ]
    )
    raise_to = primary & (floor > harsh)
    new = np.where(raise_to, floor, harsh)
    a["action_type"] = [ACTION_TYPES[i] for i in new]
    return a


# ----------------------------------------------------------------------------------- the replay


def _row(metric: str, value, unit: str, lo=math.nan, hi=math.nan, available: bool = True) -> dict:
    return {
        "metric": metric,
        "value": float(value) if available else math.nan,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "unit": unit,
        "available": available,
    }


def _month_states(inp: SimulationInputs, actions: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Health score and restriction of every creator at each month end, from the month before the window."""
    frames = []
    for m in [shift_month(inp.months[0], -1), *inp.months]:
        s = m_health.score_health(
            actions,
            inp.tables["creators"],
            inp.month_end(m),
            rules.health,
            market=inp.market.code,
            appeals=inp.tables.get("appeals"),
        )
        frames.append(s.assign(month=m))
    return pd.concat(frames, ignore_index=True)


def restricted_creators(inp: SimulationInputs, rules: Rules) -> set[str]:
    """Creators under any restriction at the end of the report month under ``rules``."""
    actions = apply_rules(inp.tables["enforcement_actions"], rules)
    s = m_health.score_health(
        actions,
        inp.tables["creators"],
        inp.month_end(inp.month),
        rules.health,
        market=inp.market.code,
        appeals=inp.tables.get("appeals"),
    )
    return set(s.loc[s["restriction"] != "none", "creator_id"].astype(str))


def _health_rows(states: pd.DataFrame, inp: SimulationInputs, milestones: list[int]) -> list[dict]:
    """Creators at or below each milestone and under each restriction at the month end; transitions."""
    now = states[states["month"] == inp.month]
    rows = [
        _row(f"creators_at_or_below:{m}", ((now["score"] <= m) | now["ecommerce_removed"]).sum(), "creators")
        for m in sorted(milestones, reverse=True)
    ]
    rows += [
        _row(f"creators_restricted:{r}", (now["restriction"] == r).sum(), "creators") for r in RESTRICTIONS
    ]
    rows.append(_row("creators_restricted:any", (now["restriction"] != "none").sum(), "creators"))
    wide = states.assign(r=states["restriction"] != "none").pivot(
        index="creator_id", columns="month", values="r"
    )
    # a month end before a creator registered (or before any creator, in a young market) is "not restricted"
    months = [shift_month(inp.months[0], -1), *inp.months]
    wide = wide.reindex(columns=months).astype("boolean").fillna(False).astype(bool).to_numpy()
    rows.append(_row("creators_newly_restricted", (wide[:, 1:] & ~wide[:, :-1]).sum(), "creator-months"))
    rows.append(_row("creators_newly_released", (~wide[:, 1:] & wide[:, :-1]).sum(), "creator-months"))
    return rows


def _exposure_rows(states: pd.DataFrame, inp: SimulationInputs) -> list[dict]:
    """GMV and views of content published in a month by creators restricted at the start of that month."""
    c = inp.tables["content"]
    c = c[c["market"].astype(str) == inp.market.code]
    month = pd.Series(pd.NA, index=c.index, dtype=object)
    pub = to_utc(c["published_at"])
    for m in inp.months:
        lo, hi = month_bounds(m, inp.market.timezone)
        month[(pub >= lo) & (pub < hi)] = shift_month(m, -1)  # the state at the end of the month before
    c = c.assign(state_month=month.to_numpy(), creator_id=c["creator_id"].astype(str)).dropna(
        subset=["state_month"]
    )
    restricted = states.loc[states["restriction"] != "none", ["creator_id", "month"]]
    hit = c.merge(restricted, left_on=["creator_id", "state_month"], right_on=["creator_id", "month"])
    return [
        _row("gmv_under_restriction", hit["gmv_eur"].astype(float).sum(), "EUR"),
        _row("views_under_restriction", hit["views"].astype(float).sum(), "views"),
    ]


def _window_actions(actions: pd.DataFrame, inp: SimulationInputs) -> pd.DataFrame:
    lo, hi = inp.window
    t = to_utc(actions["actioned_at"])
    return actions[(t >= lo) & (t <= hi) & (actions["market"].astype(str) == inp.market.code)]


def _action_rows(actions: pd.DataFrame, inp: SimulationInputs) -> list[dict]:
    counts = _window_actions(actions, inp)["action_type"].astype(str).value_counts()
    return [_row(f"actions:{a}", counts.get(a, 0), "actions") for a in ACTION_TYPES]


def _reward_rows(inp: SimulationInputs, actions: pd.DataFrame, rules: Rules) -> list[dict]:
    """Rewards granted and withheld under the eligibility rule, and those paid to later violators."""
    names = ("rewards_granted", "rewards_granted_value", "rewards_withheld", "rewards_withheld_value")
    names += ("rewards_to_later_violators", "rewards_to_later_violators_value")
    units = ("rewards", "EUR") * 3
    if "rewards" not in inp.tables:
        return [_row(n, math.nan, u, available=False) for n, u in zip(names, units)]
    lo, hi = inp.window
    rw = inp.tables["rewards"]
    rw = rw.assign(granted_at=to_utc(rw["granted_at"]), creator_id=rw["creator_id"].astype(str))
    rw = rw[
        (rw["granted_at"] >= lo) & (rw["granted_at"] <= hi) & (rw["market"].astype(str) == inp.market.code)
    ]
    act = actions[["creator_id", "actioned_at", "health_points"]].assign(
        actioned_at=to_utc(actions["actioned_at"])
    )
    pair = rw[["reward_id", "creator_id", "granted_at"]].merge(act, on="creator_id")
    age = pair["granted_at"] - pair["actioned_at"]
    ids = rw["reward_id"]
    window = pd.Timedelta(days=rules.health.deduction_window_days)
    pts = pair[(age >= pd.Timedelta(0)) & (age < window)].groupby("reward_id")["health_points"].sum()
    score = np.clip(
        rules.health.start_score - ids.map(pts).fillna(0).astype(float), 0, rules.health.max_score
    )
    ok = np.ones(len(rw), dtype=bool)
    if rules.min_health is not None:
        ok &= (score >= rules.min_health).to_numpy()
    if rules.no_violation_days is not None:
        recent = pair[(age >= pd.Timedelta(0)) & (age < pd.Timedelta(days=rules.no_violation_days))]
        ok &= ~ids.isin(recent["reward_id"]).to_numpy()
    later = pair[(age < pd.Timedelta(0)) & (-age <= pd.Timedelta(days=LATER_VIOLATION_DAYS))]["reward_id"]
    to_later = ok & ids.isin(later).to_numpy()
    value = rw["value_eur"].astype(float).to_numpy()
    figures = (
        ok.sum(),
        value[ok].sum(),
        (~ok).sum(),
        value[~ok].sum(),
        to_later.sum(),
        value[to_later].sum(),
    )
    return [_row(n, v, u) for n, v, u in zip(names, figures, units)]


def _latest_scores(inp: SimulationInputs) -> pd.DataFrame:
    """Each content item's latest score per signal in the window, with its language."""
    lo, hi = inp.window
    s = inp.tables["signal_scores"]
    s = s.assign(scored_at=to_utc(s["scored_at"]), content_id=s["content_id"].astype(str))
    s = s[(s["scored_at"] >= lo) & (s["scored_at"] <= hi) & (s["market"].astype(str) == inp.market.code)]
    s = s.sort_values(["signal", "content_id", "scored_at"]).drop_duplicates(
        ["signal", "content_id"], keep="last"
    )
    lang = inp.tables["content"].assign(content_id=inp.tables["content"]["content_id"].astype(str))
    lang = lang.drop_duplicates("content_id").set_index("content_id")["language"].astype(str)
    return s.assign(language=s["content_id"].map(lang).fillna("(unknown)"))


def _expected(items: int, k: int, n: int) -> list[float]:
    """``items`` times the labelled share ``k / n`` with its Wilson interval (0 when there are no items)."""
    if items == 0:
        return [0.0, 0.0, 0.0]
    return [items * (k / n if n else math.nan), *(items * np.array(proportion_interval(k, n)))]


def _signal_rows(inp: SimulationInputs, rules: Rules) -> list[dict]:
    """Items actioned automatically, sent to review, expected wrongly actioned and missed, per signal.

    Per signal and content language, with ``t`` the auto-action and ``r`` the review threshold:
    wrongly actioned = items with ``score >= t`` times ``1 - precision(t)``; missed violations =
    items with ``score < r`` times the violating share among labelled items below ``r`` (the
    recall's complement, ``FN``, over the unflagged); Wilson intervals, summed over languages (a
    conservative interval of the sum).
    """
    from govlib.metrics import signals as m_signals

    names = (
        "items_auto_actioned",
        "items_sent_to_review",
        "expected_wrongly_actioned",
        "expected_missed_violations",
    )
    units = ("items", "items", "items", "items")
    if not all(t in inp.tables for t in ("signal_scores", "review_labels")):
        return [_row(n, math.nan, u, available=False) for n, u in zip(names, units)]
    scores = _latest_scores(inp)
    rows = []
    for sig, s in scores.groupby("signal", sort=True):
        lab = m_signals.prepare_signal_labels(
            inp.tables["signal_scores"],
            inp.tables["review_labels"],
            inp.tables["content"],
            signal=str(sig),
            version=str(s.sort_values("scored_at")["version"].iloc[-1]),
            market=inp.market.code,
            start=inp.window[0],
            end=inp.window[1],
        )
        tot = np.zeros((4, 3))
        for lang, g in s.groupby("language", sort=True):
            t, r = rules.auto_threshold(str(sig), str(lang)), rules.review_threshold(str(sig), str(lang))
            lg = lab[lab["language"].astype(str) == str(lang)]
            score, viol = lg["score"].to_numpy(float), lg["is_violating"].astype(bool).to_numpy()
            above, below = int((g["score"] >= t).sum()), int((g["score"] < r).sum())
            fp, n_up = int((~viol & (score >= t)).sum()), int((score >= t).sum())
            fn, n_low = int((viol & (score < r)).sum()), int((score < r).sum())
            tot += np.array(
                [[above, math.nan, math.nan], [len(g) - above - below, math.nan, math.nan],
                 _expected(above, fp, n_up), _expected(below, fn, n_low)]
            )  # fmt: skip
        rows += [_row(f"{n}:{sig}", *v[:1], u, *v[1:]) for n, u, v in zip(names, units, tot)]
    return rows


def _notice_rows(inp: SimulationInputs, rules: Rules) -> list[dict]:
    """Handled notices of the window that breach the SLA target of their reporter type (share, Wilson)."""
    if "notices" not in inp.tables:
        return [_row("notices_breaching_sla", math.nan, "notices", available=False)]
    lo, hi = inp.window
    n = inp.tables["notices"]
    n = n[n["handled_at"].notna() & (n["market"].astype(str) == inp.market.code)]
    rec = to_utc(n["received_at"])
    n = n[(rec >= lo) & (rec <= hi)]
    hours = (to_utc(n["handled_at"]) - to_utc(n["received_at"])).dt.total_seconds() / 3600.0
    target = n["reporter_type"].astype(str).map(rules.sla).astype(float)
    k, total = int((hours > target).sum()), len(n)
    lo_, hi_ = proportion_interval(k, total)
    return [
        _row("notices_breaching_sla", k, "notices", total * lo_, total * hi_),
        _row("share_notices_breaching_sla", k / total if total else math.nan, "share", lo_, hi_),
    ]


def _bearer_rows(states: pd.DataFrame, inp: SimulationInputs) -> list[dict]:
    """Creators restricted at the month end by market language, size band (tier) and tenure."""
    now = states[(states["month"] == inp.month) & (states["restriction"] != "none")]
    cr = inp.tables["creators"].assign(creator_id=inp.tables["creators"]["creator_id"].astype(str))
    cr = cr[cr["market"].astype(str) == inp.market.code].drop_duplicates("creator_id").set_index("creator_id")
    c = inp.tables["content"]
    lang = c.assign(creator_id=c["creator_id"].astype(str), language=c["language"].astype(str))
    lang = lang.groupby(["creator_id", "language"]).size().reset_index(name="n")
    lang = lang.sort_values(["creator_id", "n", "language"], ascending=[True, False, True])
    main = lang.drop_duplicates("creator_id").set_index("creator_id")["language"]
    age = (inp.month_end(inp.month) - to_utc(cr["registered_at"])).dt.days / 30.4375
    tenure = pd.Series("", index=cr.index, dtype=object)
    for lo, hi, label in _TENURE:
        tenure[(age >= lo) & (age < hi)] = label
    ids = now["creator_id"].astype(str)
    groups = {
        "language": (
            [*inp.market.languages, "other"],
            ids.map(main).where(lambda x: x.isin(inp.market.languages), "other"),
        ),
        "tier": (["new", "rising", "established", "top"], ids.map(cr["tier"].astype(str))),
        "tenure": ([t[2] for t in _TENURE], ids.map(tenure)),
    }
    rows = []
    for by, (levels, values) in groups.items():
        counts = values.value_counts()
        rows += [_row(f"creators_restricted_by_{by}:{lv}", counts.get(lv, 0), "creators") for lv in levels]
    return rows


def replay(inp: SimulationInputs, rules: Rules, milestones: list[int]) -> pd.DataFrame:
    """Every metric of one scenario (``metric, value, ci_low, ci_high, unit, available``).

    ``milestones`` are the score thresholds counted (the union of both scenarios', so that
    the rows of the two scenarios pair up).
    """
    actions = apply_rules(inp.tables["enforcement_actions"], rules)
    states = _month_states(inp, actions, rules)
    rows = _health_rows(states, inp, milestones) + _exposure_rows(states, inp) + _action_rows(actions, inp)
    rows += _reward_rows(inp, actions, rules) + _signal_rows(inp, rules) + _notice_rows(inp, rules)
    rows += _bearer_rows(states, inp)
    return pd.DataFrame(rows)


def _km_at(table: pd.DataFrame, days: float) -> tuple[float, float, float]:
    """Kaplan-Meier ``S(days)`` with its pointwise interval (lifelines' exponential Greenwood), on risk sets."""
    from lifelines import KaplanMeierFitter

    from govlib.metrics.effectiveness import RISK_SET_WEIGHT

    kmf = KaplanMeierFitter().fit(
        table["duration_days"].astype(float),
        table["event"].astype(bool),
        weights=table[RISK_SET_WEIGHT].astype(float),
    )
    s = float(kmf.survival_function_at_times(days).iloc[0])
    ci = kmf.confidence_interval_survival_function_
    ci = ci[ci.index <= days].iloc[-1]
    return s, float(ci.iloc[0]), float(ci.iloc[1])


def _pair_effect(table: pd.DataFrame, a: str, b: str) -> tuple[float, float, float]:
    """Hazard ratio of re-offending after first action ``b`` versus ``a`` with its interval (ban: exactly 0)."""
    from govlib.metrics.effectiveness import RISK_SET_WEIGHT, estimate_hazard_ratio

    if b == "account_banned":  # a banned account cannot re-offend
        return 0.0, 0.0, 0.0
    hr = estimate_hazard_ratio(table, treatment=b, reference=a, weights=RISK_SET_WEIGHT).iloc[0]
    return float(hr["hazard_ratio"]), float(hr["ci_low"]), float(hr["ci_high"])


def _change_range(s: tuple, h: tuple) -> tuple[float, float, float]:
    """``(1 - S^h) - (1 - S)`` at the estimates and its range over the box of both intervals."""
    grid = np.linspace(min(s[1], s[2]), max(s[1], s[2]), 101)
    vals = [grid - grid**x for x in (h[1], h[2])]
    return s[0] - s[0] ** h[0], float(np.min(vals)), float(np.max(vals))


def _risk_sets(inp: SimulationInputs) -> pd.DataFrame:
    """Recidivism risk sets by first action type of the creators first actioned in the window (engine)."""
    import ibis

    from govlib.data.dataset import utc_literal
    from govlib.metrics.effectiveness import recidivism_risk_sets, recidivism_table_expr, risk_sets_frame

    per_creator = recidivism_table_expr(
        ibis.memtable(inp.tables["enforcement_actions"]), data_end=inp.window[1], market=inp.market.code
    )
    per_creator = per_creator.filter(per_creator.t0 >= utc_literal(inp.window[0]))
    return risk_sets_frame(recidivism_risk_sets(per_creator))


def project_reoffence(inp: SimulationInputs, rules: Rules) -> pd.DataFrame:
    """Projected 90-day re-offence rate after a first action, current and proposed (a model projection).

    Definition: the population is every creator first actioned in the window
    (:func:`govlib.metrics.effectiveness.recidivism_table_expr`, taken as the engine's risk sets
    weighted by creators, :func:`~govlib.metrics.effectiveness.recidivism_risk_sets`). The current rate is
    ``sum_a w_a (1 - S_a(90))``, ``w_a`` the share of creators whose first action is ``a`` and
    ``S_a`` its Kaplan-Meier curve. A creator whose first action the proposal's ladder raises
    from ``a`` to ``b`` is projected to re-offend within 90 days with probability
    ``1 - S_a(90) ** HR(b vs a)`` (proportional hazards), ``HR`` the Cox hazard ratio govlib
    estimates (:func:`govlib.metrics.effectiveness.estimate_hazard_ratio`); a ban gives 0.

    Returns
    -------
    DataFrame
        Rows ``current``, ``proposed``, ``delta`` of metric ``reoffence_rate_90d``
        (``scenario, metric, value, ci_low, ci_high, unit, available``). The interval is the
        range over the Kaplan-Meier intervals and the hazard ratios' intervals together,
        summed over the moves (conservative). Not available (NaN) when a ratio cannot be
        estimated.

    Notes
    -----
    A model projection, not a measurement: it assumes the observational hazard ratio is
    causal (true in the demo data, where actions are drawn at random given severity) and
    ignores later actions and the incapacitation during a suspension.
    """
    table = _risk_sets(inp)
    ladder = rules.ladder
    floor = ladder.get(1)
    first = table["first_action_type"].astype(str)
    moved = first.map(lambda a: floor if floor and _HARSH[floor] > _HARSH[a] else a)
    weight = table[RISK_SET_WEIGHT]
    n = int(weight.sum())
    if n == 0:
        return _projection_frame(math.nan, math.nan, math.nan, available=(False, False, False))
    cur, delta, km = np.zeros(3), np.zeros(3), {}
    for a, g in table.groupby(first, sort=True):
        km[a] = _km_at(g, HORIZON_DAYS)
        cur += g[RISK_SET_WEIGHT].sum() / n * (1 - np.array([km[a][0], km[a][2], km[a][1]]))
    try:
        for (a, b), k in weight.groupby([first, moved], sort=True).sum().items():
            if b != a and k:
                delta += (k / n) * np.array(_change_range(km[a], _pair_effect(table, str(a), str(b))))
    except GovlibError:  # a hazard ratio is not estimable (too few creators or re-offences)
        return _projection_frame(cur, math.nan, math.nan, available=(True, False, False))
    return _projection_frame(cur, cur + delta, delta)


def _projection_frame(cur, prop, delta, available=(True, True, True)) -> pd.DataFrame:
    rows = []
    for sc, v, ok in zip(("current", "proposed", "delta"), (cur, prop, delta), available):
        v = np.resize(np.asarray(v, dtype=float), 3)
        rows.append(
            {
                "scenario": sc,
                **_row("reoffence_rate_90d", v[0], "share (model projection)", v[1], v[2], ok),
            }
        )
    return pd.DataFrame(rows)


def milestones_of(*rules: Rules) -> list[int]:
    """Every milestone of the rule sets, descending (the score thresholds a comparison counts)."""
    return sorted({m for r in rules for m in r.health.milestones}, reverse=True)


def simulate(inp: SimulationInputs, proposal: Proposal, milestones: list[int] | None = None) -> pd.DataFrame:
    """The current and proposed scenarios of every metric and their difference.

    Returns
    -------
    DataFrame
        ``scenario, metric, value, ci_low, ci_high, unit, available``: for each metric a
        ``current``, a ``proposed`` and a ``delta`` row (``proposed - current``; its interval
        only where the metric is a projection). Rows of a metric whose table is absent have
        ``available`` False and NaN values. ``milestones``: score thresholds counted, default
        the union of both rule sets' milestones (give the union over every proposal compared).
    """
    cur_rules, prop_rules = current_rules(inp.market), proposed_rules(inp.market, proposal)
    ms = milestones if milestones is not None else milestones_of(cur_rules, prop_rules)
    cur = replay(inp, cur_rules, ms)
    prop = replay(inp, prop_rules, ms)
    delta = prop.copy()
    delta["value"] = prop["value"].to_numpy() - cur["value"].to_numpy()
    delta[["ci_low", "ci_high"]] = math.nan
    delta["available"] = cur["available"].to_numpy() & prop["available"].to_numpy()
    parts = [f.assign(scenario=sc) for sc, f in (("current", cur), ("proposed", prop), ("delta", delta))]
    out = pd.concat([*parts, project_reoffence(inp, prop_rules)], ignore_index=True)
    order = {m: i for i, m in enumerate(dict.fromkeys(out["metric"]))}
    out = out.assign(
        _o=out["metric"].map(order), _s=out["scenario"].map({"current": 0, "proposed": 1, "delta": 2})
    )
    out = out.sort_values(["_o", "_s"], kind="stable").drop(columns=["_o", "_s"]).reset_index(drop=True)
    return out[["scenario", *[c for c in out.columns if c != "scenario"]]]


_PERSON_UNITS = ("creators", "creator-months")


def _fmt_number(v: float) -> str:
    if pd.isna(v):
        return ""
    text = f"{v:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def suppression_mask(results: pd.DataFrame, min_cell: int) -> pd.Series:
    """True where a circulated value must be hidden: a small count of creators, or a change built on one.

    A ``current`` or ``proposed`` count of creators with ``0 < n < min_cell`` is hidden; so
    is a ``delta`` of creators whose scenarios are hidden or whose size is ``0 < |d| <
    min_cell`` (a change of three creators points at three people).
    """
    person = results["unit"].isin(_PERSON_UNITS).to_numpy()
    v = results["value"].to_numpy(dtype=float)
    small = person & (np.abs(v) > 0) & (np.abs(v) < min_cell)
    scen, metric = results["scenario"].astype(str).tolist(), results["metric"].astype(str).tolist()
    small_at = {(sc, m) for sc, m, sm in zip(scen, metric, small) if sm}
    hide = small.copy()
    for i, (sc, m) in enumerate(zip(scen, metric)):
        if sc.startswith("delta"):
            label = sc[len("delta") :]
            hide[i] |= ("current", m) in small_at or ("proposed" + label, m) in small_at
    return pd.Series(hide, index=results.index)


def compare(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Several proposals' :func:`simulate` frames in one: ``current`` once, then ``proposed:<name>`` and
    ``delta:<name>`` per proposal (in the order given), metric by metric."""
    parts = []
    for name, r in results.items():
        side = r[r["scenario"] != "current"]
        parts.append(side.assign(scenario=side["scenario"] + ":" + name))
    cur = pd.concat([r[r["scenario"] == "current"] for r in results.values()]).drop_duplicates("metric")
    out = pd.concat([cur, *parts], ignore_index=True)
    order = {m: i for i, m in enumerate(dict.fromkeys(pd.concat([r["metric"] for r in results.values()])))}
    rank = {sc: i for i, sc in enumerate(dict.fromkeys(["current", *out["scenario"]]))}
    out = out.assign(_o=out["metric"].map(order), _s=out["scenario"].map(rank))
    return out.sort_values(["_o", "_s"], kind="stable").drop(columns=["_o", "_s"]).reset_index(drop=True)


def circulated(results: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The CSV of a simulation: ``scenario, metric, value, ci_low, ci_high, unit``, safe to circulate.

    Small counts of creators show as ``<min_cell>`` (:func:`suppression_mask`); a metric whose
    table is absent shows ``not available``. Numbers are written with up to six decimals.
    Creator identifiers never reach this frame (the metrics are counts and sums).
    """
    hide = suppression_mask(results, min_cell).to_numpy()
    out = pd.DataFrame({"scenario": results["scenario"].astype(str), "metric": results["metric"].astype(str)})
    for c in ("value", "ci_low", "ci_high"):
        out[c] = [_fmt_number(v) for v in results[c].to_numpy(dtype=float)]
        out.loc[hide, c] = "" if c != "value" else f"<{min_cell}"
    out.loc[~results["available"].astype(bool).to_numpy(), "value"] = "not available"
    out["unit"] = results["unit"].astype(str)
    return out[CSV_COLUMNS]
