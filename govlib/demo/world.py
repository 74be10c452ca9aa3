"""Creators and their offence histories (phase A of the generator), vectorised with numpy.

The offence process is what plants the deterrence truth. A creator prone to offend has a
first violation some weeks after registration; every enforcement action of type *a*
starts an exponential wait, with weekly hazard ``h * HR[a]``, until the next violation is
detected (a ban ends the history). Because the wait depends only on the last action, the
time from a creator's *first action in the data* to their next detected violation is
exponential with that hazard even when the creator had actions before the data window
(memorylessness), so a Cox model of next violation on first action type recovers ``HR``.
A decision may come with follow-on ``content_removed`` actions at the same instant
(:func:`add_sweeps`); they are never harsher than the decision, so the harshest action at
a creator's first timestamp is still the one whose type set the wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from govlib.contract import (
    ACTION_TYPES,
    CONTENT_TYPES,
    DECISION_MODES,
    DETECTION_SOURCES,
    POLICIES,
    SEVERITIES,
    TIERS,
)
from govlib.demo import profiles as P
from govlib.demo.clock import US_DAY, US_HOUR, US_MINUTE, US_WEEK

BAN = ACTION_TYPES.index("account_banned")
AUTOMATED = DETECTION_SOURCES.index("automated")
MODE_AUTOMATED = DECISION_MODES.index("automated")


def cumulative(p) -> np.ndarray:
    """Row-normalised cumulative probabilities with an exact 1.0 in the last column."""
    c = np.cumsum(np.asarray(p, dtype=float), axis=-1)
    c = c / c[..., -1:]
    c[..., -1] = 1.0
    return c


def draw(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``cum`` (rows of cumulative probabilities)."""
    cum = np.atleast_2d(cum)
    u = rng.random(cum.shape[0])
    return (u[:, None] >= cum).sum(axis=1).astype(np.int8)


def draw_fixed(rng: np.random.Generator, p, n: int) -> np.ndarray:
    """``n`` categorical draws from one probability vector."""
    c = cumulative(p)
    return np.searchsorted(c, rng.random(n), side="right").astype(np.int8)


def lognormal_us(rng: np.random.Generator, n: int, median_hours: float, sd: float) -> np.ndarray:
    return (np.exp(np.log(median_hours) + sd * rng.standard_normal(n)) * US_HOUR).astype(np.int64)


@dataclass
class MarketModel:
    """The per-market probability tables the offence process draws from."""

    code: str
    policy_p: np.ndarray  # (P,)
    severity_cum: np.ndarray  # (P, 4)
    action_cum: np.ndarray  # (4, 7)
    action_repeat_cum: np.ndarray  # (4, 7)
    source_cum: np.ndarray  # (P, 5)
    mode_cum: np.ndarray  # (P, 5, 3)
    content_mix: np.ndarray  # (5,)

    @classmethod
    def build(cls, code: str) -> MarketModel:
        mult = P.POLICY_MIX_MARKET.get(code, {})
        policy_p = np.array([P.POLICY_MIX_BASE[p] * mult.get(p, 1.0) for p in POLICIES])
        policy_p /= policy_p.sum()
        auto_m = P.AUTOMATION_MARKET.get(code, 0.9)
        others = np.asarray(P.market_value(P.OTHER_SOURCES, code))
        source = np.zeros((len(POLICIES), len(DETECTION_SOURCES)))
        mode = np.zeros((len(POLICIES), len(DETECTION_SOURCES), len(DECISION_MODES)))
        for i, pol in enumerate(POLICIES):
            a = min(0.95, P.AUTOMATED_DETECTION[pol] * auto_m)
            source[i] = [a, *(others / others.sum() * (1 - a))]
            d = min(0.97, P.AUTOMATED_DECISION.get(code, 0.75) * P.AUTOMATED_DECISION_POLICY.get(pol, 1.0))
            mode[i, AUTOMATED] = [d, (1 - d) * 0.6, (1 - d) * 0.4]  # automated, hybrid, human
            mode[i, 1:] = [0.0, 0.2, 0.8]
        return cls(
            code=code,
            policy_p=policy_p,
            severity_cum=cumulative([P.SEVERITY_BY_POLICY[p] for p in POLICIES]),
            action_cum=cumulative([P.ACTION_BY_SEVERITY[s] for s in SEVERITIES]),
            action_repeat_cum=cumulative([P.ACTION_BY_SEVERITY_REPEAT[s] for s in SEVERITIES]),
            source_cum=cumulative(source),
            mode_cum=cumulative(mode),
            content_mix=np.asarray(P.market_value(P.CONTENT_MIX, code), dtype=float),
        )


@dataclass
class Creators:
    """Creators of one market (arrays aligned by local index)."""

    registered: np.ndarray  # int64 us
    followers: np.ndarray  # int64
    tier: np.ndarray  # int8 into TIERS
    category: np.ndarray  # int8 into CATEGORIES
    post_rate: np.ndarray  # posts per week
    prone: np.ndarray  # bool, offence-prone
    main_policy: np.ndarray  # int8 into POLICIES
    wave: np.ndarray  # bool, account of the planted wave
    ban_at: np.ndarray = field(default=None)  # int64 us (actioned_at of a ban) or int64 max
    first_action_at: np.ndarray = field(default=None)  # int64 us (first-ever actioned_at) or int64 max

    def __len__(self) -> int:
        return len(self.registered)

    @staticmethod
    def concat(a: Creators, b: Creators) -> Creators:
        return Creators(
            *(
                np.concatenate([getattr(a, f), getattr(b, f)])
                for f in (
                    "registered",
                    "followers",
                    "tier",
                    "category",
                    "post_rate",
                    "prone",
                    "main_policy",
                    "wave",
                )
            )
        )


def tier_of(followers: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(P.TIER_THRESHOLDS), followers, side="right").astype(np.int8)


def make_creators(rng: np.random.Generator, model: MarketModel, n: int, launch: int, end: int) -> Creators:
    """``n`` creators registered between market launch and the data end.

    A launch cohort joins in the first weeks; later registrations grow exponentially.
    """
    years = (end - launch) / (365.25 * US_DAY)
    g = P.REGISTRATION_GROWTH
    u = rng.random(n)
    t_years = np.log1p(u * np.expm1(g * years)) / g
    registered = launch + (t_years * 365.25 * US_DAY).astype(np.int64)
    share, days = P.LAUNCH_COHORT
    cohort = rng.random(n) < share
    registered[cohort] = launch + (rng.random(int(cohort.sum())) * min(days * US_DAY, end - launch)).astype(
        np.int64
    )
    age_days = (end - registered) / US_DAY
    ripeness = (1.0 - np.exp(-age_days / 120.0)) ** 0.7  # followers grow with tenure
    followers = np.floor(
        np.exp(P.FOLLOWERS_LOG_MEAN + P.FOLLOWERS_LOG_SD * rng.standard_normal(n)) * ripeness
    )
    followers = followers.astype(np.int64)
    tier = tier_of(followers)
    category = draw_fixed(rng, P.CATEGORY_WEIGHTS, n)
    base = np.array([P.POSTS_PER_WEEK[t] for t in TIERS])[tier]
    sd = P.POSTS_LOG_SD
    post_rate = base * np.exp(sd * rng.standard_normal(n) - sd * sd / 2)
    prone = rng.random(n) < P.OFFENDER_SHARE.get(model.code, 0.65)
    main_policy = draw_fixed(rng, model.policy_p, n)
    return Creators(registered, followers, tier, category, post_rate, prone, main_policy, np.zeros(n, bool))


@dataclass
class Events:
    """Enforcement actions (one per detected violation) of one market, aligned arrays."""

    creator: np.ndarray  # int64 local creator index
    k: np.ndarray  # int32, 0 for a creator's first-ever action
    policy: np.ndarray
    severity: np.ndarray
    action_type: np.ndarray
    source: np.ndarray
    mode: np.ndarray
    detected: np.ndarray
    actioned: np.ndarray
    wave: np.ndarray  # bool
    sweep: np.ndarray  # bool: follow-on removal issued with another action (same detected/actioned)

    FIELDS = (
        "creator",
        "k",
        "policy",
        "severity",
        "action_type",
        "source",
        "mode",
        "detected",
        "actioned",
        "wave",
        "sweep",
    )

    def __len__(self) -> int:
        return len(self.creator)

    def take(self, idx) -> Events:
        return Events(*(getattr(self, f)[idx] for f in self.FIELDS))

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in Events.FIELDS))


def simulate_offences(
    rng: np.random.Generator,
    model: MarketModel,
    creators: np.ndarray,
    first_detected: np.ndarray,
    main_policy: np.ndarray,
    main_share: float,
    end: int,
    wave: bool = False,
) -> Events:
    """Every action of the given creators from their first detected violation until ``end``.

    Each step draws, for all creators still active, the policy (their habitual one with
    probability ``main_share``), severity, action type (escalating after three actions),
    detection source, decision mode and the delay from detection to action; then the wait
    to the next detected violation, exponential with weekly hazard
    ``BASELINE_WEEKLY_HAZARD * HAZARD_RATIO[action_type]``.
    """
    hr = np.array([P.HAZARD_RATIO[a] for a in ACTION_TYPES]) * P.BASELINE_WEEKLY_HAZARD
    live = first_detected < end
    who, t = creators[live], first_detected[live]
    habit = main_policy[live]
    k = np.zeros(len(who), np.int32)
    parts: list[Events] = []
    while len(who):
        n = len(who)
        pol = np.where(rng.random(n) < main_share, habit, draw_fixed(rng, model.policy_p, n)).astype(np.int8)
        sev = draw(rng, model.severity_cum[pol])
        first = draw(rng, model.action_cum[sev])
        repeat = draw(rng, model.action_repeat_cum[sev])
        typ = np.where(k >= 3, repeat, first).astype(np.int8)
        src = draw(rng, model.source_cum[pol])
        mode = draw(rng, model.mode_cum[pol, src])
        delay = np.empty(n, np.int64)
        for s, name in enumerate(DETECTION_SOURCES):
            sel = src == s
            med, sd = P.ACTION_DELAY_HOURS[name]
            delay[sel] = lognormal_us(rng, int(sel.sum()), med, sd)
        fast = (src == AUTOMATED) & (mode == MODE_AUTOMATED)
        delay[fast] = (
            rng.standard_exponential(int(fast.sum())) * P.AUTO_DECISION_MINUTES * US_MINUTE
        ).astype(np.int64)
        actioned = t + delay
        parts.append(
            Events(who, k.copy(), pol, sev, typ, src, mode, t, actioned, np.full(n, wave), np.zeros(n, bool))
        )
        rate = hr[typ]
        gap = (
            np.where(rate > 0, rng.standard_exponential(n) / np.where(rate > 0, rate, 1.0), np.inf) * US_WEEK
        )
        nxt = actioned.astype(float) + gap
        alive = nxt < end
        who, habit, k = who[alive], habit[alive], k[alive] + 1
        t = nxt[alive].astype(np.int64)
    if not parts:
        z = np.zeros(0, np.int64)
        return Events(z, z.astype(np.int32), *(z.astype(np.int8),) * 5, z, z, z.astype(bool), z.astype(bool))
    return Events.concat(parts)


def onset_times(rng: np.random.Generator, c: Creators) -> np.ndarray:
    """Detection time of each offence-prone creator's first violation (int64 max otherwise)."""
    n = len(c)
    mean_weeks = P.ONSET_WEEKS * np.exp(0.8 * rng.standard_normal(n) - 0.32)
    wait = (rng.standard_exponential(n) * mean_weeks * US_WEEK).astype(np.int64) + 6 * US_HOUR
    return np.where(c.prone, c.registered + wait, np.iinfo(np.int64).max)


def wave_onsets(
    rng: np.random.Generator, model: MarketModel, baseline_weekly: float, start: int, end: int
) -> np.ndarray:
    """First-violation times of the wave's new accounts.

    The wave's target is ``(m(t) - 1) * baseline`` extra actions per week in the wave's
    market x policy, with ``m`` growing linearly from ``WAVE_MULTIPLIER_FROM`` to
    ``WAVE_MULTIPLIER_TO``. Accounts already in the wave keep offending (hazard of the
    offence process), so new accounts arrive at the target minus their expected repeat
    actions, solved day by day.
    """
    sev = np.asarray(P.SEVERITY_BY_POLICY[P.WAVE_POLICY])
    type_p = sev @ np.asarray([P.ACTION_BY_SEVERITY[s] for s in SEVERITIES])
    type_p /= type_p.sum()
    hazard = np.array([P.HAZARD_RATIO[a] for a in ACTION_TYPES]) * P.BASELINE_WEEKLY_HAZARD
    p_ban = type_p[BAN]
    follow_rate = float(type_p @ hazard) / (1 - p_ban) / 7.0  # actions per active account per day
    n_days = int(np.ceil((end - start) / US_DAY))
    active, onsets = 0.0, []
    for d in range(n_days):
        m = P.WAVE_MULTIPLIER_FROM + (P.WAVE_MULTIPLIER_TO - P.WAVE_MULTIPLIER_FROM) * (d + 0.5) / n_days
        target = (m - 1.0) * baseline_weekly / 7.0
        follow = active * follow_rate
        new = max(0.0, target - follow * P.WAVE_POLICY_SHARE)
        active += new * (1 - p_ban) - follow * p_ban
        k = rng.poisson(new)
        day0 = start + d * US_DAY
        onsets.append(day0 + (rng.random(k) * min(US_DAY, end - day0)).astype(np.int64))
    return np.sort(np.concatenate(onsets)) if onsets else np.zeros(0, np.int64)


def make_wave_creators(rng: np.random.Generator, model: MarketModel, onsets: np.ndarray) -> Creators:
    """New, small accounts behind the wave (scam rings open fresh accounts)."""
    n = len(onsets)
    registered = onsets - (rng.uniform(0.5, 14.0, n) * US_DAY).astype(np.int64)
    followers = np.floor(np.exp(4.5 + 1.2 * rng.standard_normal(n))).astype(np.int64)
    return Creators(
        registered=registered,
        followers=followers,
        tier=tier_of(followers),
        category=draw_fixed(rng, P.CATEGORY_WEIGHTS, n),
        post_rate=np.exp(np.log(2.0) + 0.5 * rng.standard_normal(n)),
        prone=np.ones(n, bool),
        main_policy=np.full(n, POLICIES.index(P.WAVE_POLICY), np.int8),
        wave=np.ones(n, bool),
    )


def content_type_draw(rng: np.random.Generator, model: MarketModel, wave: np.ndarray) -> np.ndarray:
    """Content type of each item: the market's mix, the wave's format for wave accounts."""
    n = len(wave)
    out = draw_fixed(rng, model.content_mix, n)
    pick = wave & (rng.random(n) < P.WAVE_CONTENT_TYPE_SHARE)
    out[pick] = CONTENT_TYPES.index(P.WAVE_CONTENT_TYPE)
    return out


def add_sweeps(rng: np.random.Generator, ev: Events) -> Events:
    """Follow-on ``content_removed`` actions issued together with a decision (same timestamps)."""
    lam = np.array([P.SWEEP_REMOVALS.get(a, 0.0) for a in ACTION_TYPES])[ev.action_type]
    extra = rng.poisson(lam)
    src = np.repeat(np.arange(len(ev)), extra)
    sweep = ev.take(src)
    sweep.action_type = np.full(len(src), ACTION_TYPES.index("content_removed"), np.int8)
    sweep.sweep = np.ones(len(src), bool)
    both = Events.concat([ev, sweep])
    return both.take(np.argsort(both.actioned, kind="stable"))
