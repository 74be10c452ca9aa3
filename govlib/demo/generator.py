"""The seeded demo marketplace: a synthetic EMEA creator-commerce platform with planted truths.

:func:`generate` writes a contract dataset (``govlib/contract.py``) and returns the ground
truth it planted, also written to ``ground_truth.json`` beside the tables, and the demo marker
``.govlib-demo`` (:func:`govlib.privacy.is_demo_mode`: the public example pseudonym key is allowed
on this dataset and on no other):

(a) **emerging wave**: new accounts in one market push one policy's weekly action counts up
    over the last two local months, growing linearly from 2x to 4x the baseline (3x on
    average), concentrated in one content type;
(b) **deterrence**: after an action of type *a* the next violation is detected after an
    exponential wait with weekly hazard ``h * HR[a]`` (``HR[warning] = 1``,
    ``HR[account_suspended] = 0.5``); a Cox model of the time from a creator's first
    action to their next one on the first action's type recovers ``HR``. And a
    difference-in-differences truth: notices that lead to no action (*allegations*,
    outcome ``no_violation`` or ``pending``) arrive at each creator's latent monthly rate
    (plus a market-wide additive term), observed before and after a first action and for
    creators never actioned; from a creator's first-ever action on the rate is multiplied
    by ``ALLEGATION_DETERRENCE = 0.6`` (``did_rate_ratio``), and the expected effect on the
    treated of ``estimate_deterrence_did`` is recorded per window (``deterrence.did``);
(c) **prevalence**: for each market and local month *M*, the share of views that are on
    violating content among content published in *M* (lifetime views at the data
    cut-off); ``prevalence_samples`` is a stratified (by content type) probability sample
    of those views with weights = views represented, so ``sum(w * y) / sum(w)`` estimates
    it without bias;
(d) **signal quality**: precision and recall at ``score >= 0.5`` of the text signal over all
    scored content, by language (and market); ``review_labels`` (source ``qa_sample``) is a
    Bernoulli sample of scored content, so evaluation on it recovers them. The signal was
    built for English and German; it is markedly worse in Polish (the planted language gap
    of the expansion market).

Everything is vectorised with numpy and drawn from ``numpy.random.default_rng`` streams
keyed by ``(seed, market, component)``; the same seed gives byte-identical files. At
``xlarge`` a market is generated in blocks of creators, each keyed by ``(seed, market,
component, block)``, and the truths above are pooled over the blocks (:func:`generate`, Notes).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from govlib import config
from govlib.contract import (
    ACTION_TYPES,
    APPEAL_CHANNELS,
    APPEAL_OUTCOMES,
    CONTENT_TYPES,
    DECISION_MODES,
    DETECTION_SOURCES,
    GROUNDS,
    NOTICE_OUTCOMES,
    POLICIES,
    REPORTER_TYPES,
    REWARD_TYPES,
    SEVERITIES,
    TABLES,
    TIERS,
)
from govlib.demo import profiles as P
from govlib.demo import writer as W
from govlib.demo.clock import US_DAY, US_HOUR, US_MINUTE, US_WEEK, Clock, local_midnight_us
from govlib.demo.world import (
    BAN,
    Creators,
    Events,
    MarketModel,
    add_sweeps,
    content_type_draw,
    draw_fixed,
    lognormal_us,
    make_creators,
    make_wave_creators,
    onset_times,
    simulate_offences,
    wave_onsets,
)
from govlib.errors import GovlibError, UsageError
from govlib.io import replace_dir
from govlib.params import load_market
from govlib.privacy import DEMO_MARKER, demo_marker_text
from govlib.timeutil import parse_month, shift_month

SCALES = tuple(P.SCALE_FACTOR)
PARTITIONED = ("content", "enforcement_actions", "signal_scores")
SINGLE = ("creators", "appeals", "notices", "rewards", "prevalence_samples", "review_labels", "qa_reviews")
INT64_MAX = np.iinfo(np.int64).max
COMPONENTS = (
    "creators",
    "offences",
    "wave",
    "content",
    "actions",
    "appeals",
    "notices",
    "prevalence",
    "signal",
    "labels",
    "rewards",
    "sweeps",
    "allegations",
    "qa_reviews",
)  # append only: the index keys each stream


class DemoDataError(GovlibError):
    """The demo dataset cannot be written where asked."""


def _rng(seed: int, market: str, component: str, block: int = 0) -> np.random.Generator:
    """Independent stream per (seed, market, component, creator block): one component's draws never
    shift another's. Block 0 keeps the key of a market generated at once (the scales up to ``large``)."""
    key = (P.MARKETS.index(market) if market in P.MARKETS else 99, COMPONENTS.index(component))
    key += (block,) if block else ()
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class MarketWorld:
    code: str
    params: object
    clock: Clock
    model: MarketModel
    creators: Creators
    events: Events  # actions in the data window, sorted by actioned_at
    wave: dict | None = None
    creator_number: np.ndarray | None = None  # global creator numbers (1-based)
    block: int = 0  # creator block of the market (0 when the market is generated at once)


# ----------------------------------------------------------------------------- phase A


def _window(params, end_month: str) -> tuple[str, str] | None:
    first = max(shift_month(end_month, -12), params.launched)
    return (first, end_month) if first <= end_month else None


def _build_world(
    code: str, params, seed: int, end_month: str, n_creators: int, plant_wave: bool, block: int = 0
) -> MarketWorld | None:
    """Creators and the actions of one market's data window (None if it launches after ``end_month``).

    Offence histories run from the market's launch, so creators enter the window with
    their past; only actions actioned inside the window are kept (plus their sweeps). A creator
    block of a chunked market is built the same way from its own streams (``block``), the wave
    planted against the block's own baseline.
    """
    window = _window(params, end_month)
    if window is None:
        return None
    clock = Clock.build(code, params.timezone, *window)
    model = MarketModel.build(code)
    launch = local_midnight_us(f"{params.launched}-01", params.timezone)
    creators = make_creators(_rng(seed, code, "creators", block), model, n_creators, launch, clock.end)
    rng = _rng(seed, code, "offences", block)
    onset = onset_times(rng, creators)
    events = simulate_offences(
        rng, model, np.arange(n_creators), onset, creators.main_policy, P.MAIN_POLICY_SHARE, clock.end
    )
    wave = None
    if plant_wave and code == P.WAVE_MARKET and len(clock.months) >= 3:
        rng_w = _rng(seed, code, "wave", block)
        wave = _plant_wave(rng_w, code, clock, model, events)
        onsets = wave.pop("_onsets")
        wave_creators = make_wave_creators(rng_w, model, onsets)
        idx = n_creators + np.arange(len(wave_creators))
        wave_events = simulate_offences(
            rng_w, model, idx, onsets, wave_creators.main_policy, P.WAVE_POLICY_SHARE, clock.end, wave=True
        )
        creators = Creators.concat(creators, wave_creators)
        events = Events.concat([events, wave_events])
    ban_at = np.full(len(creators), INT64_MAX, np.int64)
    banned = (events.action_type == BAN) & (events.actioned < clock.end)
    np.minimum.at(ban_at, events.creator[banned], events.actioned[banned])
    creators.ban_at = ban_at
    first_at = np.full(len(creators), INT64_MAX, np.int64)
    acted = events.actioned < clock.end
    np.minimum.at(first_at, events.creator[acted], events.actioned[acted])
    creators.first_action_at = first_at  # first-ever action (histories start at launch)
    in_window = (events.actioned >= clock.start) & (events.actioned < clock.end)
    data = events.take(np.nonzero(in_window)[0])
    data = add_sweeps(_rng(seed, code, "sweeps", block), data.take(np.argsort(data.actioned, kind="stable")))
    if wave is not None:
        _wave_ratio(data, clock, wave)
    return MarketWorld(code, params, clock, model, creators, data, wave, block=block)


def _plant_wave(
    rng: np.random.Generator, code: str, clock: Clock, model: MarketModel, events: Events
) -> dict:
    """Plan the wave over the last two local months against the policy's baseline weekly count."""
    start = int(clock.month_start[-3])  # first day of the second-to-last month
    end = clock.end
    weeks = min(P.WAVE_BASELINE_WEEKS, (start - clock.start) / US_WEEK)
    base_from = start - int(weeks * US_WEEK)
    pol = POLICIES.index(P.WAVE_POLICY)
    in_base = (events.policy == pol) & (events.actioned >= base_from) & (events.actioned < start)
    baseline = float(in_base.sum()) / weeks
    onsets = wave_onsets(rng, model, baseline, start, end)
    return {
        "market": code,
        "policy": P.WAVE_POLICY,
        "content_type": P.WAVE_CONTENT_TYPE,
        "start": _local_date(start, clock.tz),
        "end": _local_date(end - 1, clock.tz),
        "months": clock.months[-2:],
        "multiplier": (P.WAVE_MULTIPLIER_FROM + P.WAVE_MULTIPLIER_TO) / 2,
        "multiplier_growth": [P.WAVE_MULTIPLIER_FROM, P.WAVE_MULTIPLIER_TO],
        "baseline_weekly_actions": round(baseline, 4),
        "baseline_weeks": round(weeks, 4),
        "new_accounts": len(onsets),
        "_onsets": onsets,
    }


def _wave_ratio(data: Events, clock: Clock, wave: dict) -> None:
    """Record the realised weekly counts (all actions incl. sweeps) in the wave and before it."""
    start = int(clock.month_start[-3])
    base_from = start - int(wave["baseline_weeks"] * US_WEEK)
    pol = data.policy == POLICIES.index(wave["policy"])
    before = (
        float((pol & (data.actioned >= base_from) & (data.actioned < start)).sum()) / wave["baseline_weeks"]
    )
    during = float((pol & (data.actioned >= start)).sum()) / ((clock.end - start) / US_WEEK)
    wave["_weekly"] = (before, during)  # unrounded, to pool the blocks of a chunked market
    wave["baseline_weekly_actions"] = round(before, 4)
    wave["wave_weekly_actions"] = round(during, 4)
    wave["observed_ratio"] = round(during / before, 4) if before else None


def _local_date(us: int, tz: str) -> str:
    import pandas as pd

    return pd.Timestamp(us, unit="us", tz="UTC").tz_convert(tz).strftime("%Y-%m-%d")


def _creator_numbers(blocks: list[tuple[int, np.ndarray]]) -> list[np.ndarray]:
    """Global ``cr_`` numbers in order of registration (ties: market order, then local index).

    ``blocks``: (market order, registration times) of each creator block, a market's blocks
    in order (one block per market when markets are generated at once); the local index of a
    creator runs over its market's blocks.
    """
    reg = np.concatenate([r for _, r in blocks])
    mkt = np.concatenate([np.full(len(r), m) for m, r in blocks])
    loc, seen = [], {}
    for m, r in blocks:
        loc.append(seen.get(m, 0) + np.arange(len(r)))
        seen[m] = seen.get(m, 0) + len(r)
    order = np.lexsort((np.concatenate(loc), mkt, reg))
    number = np.empty(len(reg), np.int64)
    number[order] = np.arange(1, len(reg) + 1)
    return np.split(number, np.cumsum([len(r) for _, r in blocks])[:-1])


# ----------------------------------------------------------------------------- phase B


def _language_p(languages: list[str]) -> np.ndarray:
    secondary = [P.SECONDARY_LANGUAGE_SHARE.get(lang, P.DEFAULT_SECONDARY_SHARE) for lang in languages[1:]]
    return np.array([1.0 - sum(secondary), *secondary])


def _lookup(table: dict, keys: tuple[str, ...], default: float = 0.0) -> np.ndarray:
    return np.array([table.get(k, default) for k in keys], dtype=float)


@dataclass
class ActionDetail:
    account_level: np.ndarray
    true_violation: np.ndarray
    illegal: np.ndarray
    restriction_end: np.ndarray  # int64 us or -1
    views_missing: np.ndarray
    lag: np.ndarray  # publication -> detection, us


def _action_detail(rng: np.random.Generator, ev: Events) -> ActionDetail:
    n = len(ev)
    account_level = rng.random(n) < _lookup(P.ACCOUNT_LEVEL_SHARE, ACTION_TYPES)[ev.action_type]
    true_violation = rng.random(n) >= _lookup(P.FALSE_POSITIVE, DECISION_MODES)[ev.mode]
    illegal = (ev.source == DETECTION_SOURCES.index("authority_order")) | (
        rng.random(n) < _lookup(P.ILLEGAL_SHARE, POLICIES)[ev.policy]
    )
    restriction_end = np.full(n, -1, np.int64)
    for name, days in P.RESTRICTION_DAYS.items():
        sel = ev.action_type == ACTION_TYPES.index(name)
        pick = np.asarray(days)[rng.integers(0, len(days), int(sel.sum()))]
        restriction_end[sel] = ev.actioned[sel] + pick * US_DAY
    views_missing = rng.random(n) < 0.03
    lag = np.zeros(n, np.int64)
    for s, name in enumerate(DETECTION_SOURCES):
        sel = ev.source == s
        med, sd = P.DETECTION_LAG_HOURS[name]
        lag[sel] = lognormal_us(rng, int(sel.sum()), med, sd)
    upload = (ev.source == DETECTION_SOURCES.index("automated")) & (rng.random(n) < P.UPLOAD_SCAN_SHARE)
    lag[upload] = 0
    return ActionDetail(account_level, true_violation, illegal, restriction_end, views_missing, lag)


@dataclass
class Content:
    """One market's content, sorted by ``published``."""

    published: np.ndarray
    creator: np.ndarray
    ctype: np.ndarray
    language: np.ndarray
    category: np.ndarray  # -1 = null
    views: np.ndarray
    gmv: np.ndarray
    violating: np.ndarray
    policy: np.ndarray  # -1 = not violating
    number: np.ndarray  # global content numbers

    def __len__(self) -> int:
        return len(self.published)


def _background_publishing(
    rng: np.random.Generator, c: Creators, clock: Clock
) -> tuple[np.ndarray, np.ndarray]:
    """Background publishing: each item's owner row and publication time.

    Poisson counts over each creator's active span, placed by the season x weekday x hour
    profile of the market's local calendar.
    """
    t0 = np.maximum(c.registered, clock.start)
    t1 = np.minimum(c.ban_at, clock.end)
    ok = t1 > t0
    w0 = clock.weight_at(np.where(ok, t0, clock.start))
    w1 = clock.weight_at(np.where(ok, t1, clock.start))
    counts = rng.poisson(c.post_rate / 7.0 * (w1 - w0) * ok)
    owner = np.repeat(np.arange(len(c), dtype=np.int64), counts)
    u = w0[owner] + rng.random(len(owner)) * (w1 - w0)[owner]
    pub_bg = np.clip(clock.time_at_weight(u), t0[owner], t1[owner] - 1)
    return owner, pub_bg


def _content_attributes(
    rng: np.random.Generator, w: MarketWorld, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Content type, language and category (-1 when none) of each item."""
    c, model = w.creators, w.model
    n = len(owner)
    ctype = content_type_draw(rng, model, c.wave[owner])
    language = draw_fixed(rng, _language_p(w.params.languages), n)
    category = np.where(
        rng.random(n) < 0.75, c.category[owner], draw_fixed(rng, P.CATEGORY_WEIGHTS, n)
    ).astype(np.int8)
    category[rng.random(n) < _lookup(P.NULL_CATEGORY, CONTENT_TYPES)[ctype]] = -1
    return ctype, language, category


def _content_views(
    rng: np.random.Generator,
    w: MarketWorld,
    owner: np.ndarray,
    ctype: np.ndarray,
    pub: np.ndarray,
    pub_ev: np.ndarray,
    has: np.ndarray,
    n_bg: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Views of each item by the end of the data, and the actioned items' views before their action.

    Actioned items stop gaining views (taken down, or pulled until fixed after a warning);
    visibility-limited ones keep a tenth of their further reach.
    """
    c, clock, ev = w.creators, w.clock, w.events
    n = len(owner)
    log_v = (
        P.VIEWS_LOG_BASE
        + P.VIEWS_FOLLOWER_ELASTICITY * np.log1p(c.followers[owner])
        + P.VIEWS_LOG_SD * rng.standard_normal(n)
    )
    lifetime = np.exp(log_v) * _lookup(P.VIEW_TYPE_FACTOR, CONTENT_TYPES)[ctype]
    tau = P.VIEW_ACCRUAL_DAYS * US_DAY
    views = np.floor(lifetime * -np.expm1(-(clock.end - pub) / tau)).astype(np.int64)
    ev_rows = np.arange(n_bg, n)
    before = np.floor(lifetime[ev_rows] * -np.expm1(-(ev.actioned[has] - pub_ev) / tau)).astype(np.int64)
    limited = ev.action_type[has] == ACTION_TYPES.index("visibility_limited")
    v_ev = views[ev_rows]
    v_ev = np.where(limited, before + (v_ev - before) // 10, before)
    views[ev_rows] = v_ev
    return views, before


def _content_violations(
    rng: np.random.Generator,
    w: MarketWorld,
    d: ActionDetail,
    owner: np.ndarray,
    is_ev: np.ndarray,
    has: np.ndarray,
    n_bg: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each item violates a policy, and which policy (-1 when it does not).

    Undetected violations among background content; the actions' own items violate unless the
    action was a mistake.
    """
    c, ev, model = w.creators, w.events, w.model
    n = len(owner)
    ev_rows = np.arange(n_bg, n)
    base = P.UNDETECTED_VIOLATION.get(w.code, 0.012)
    share = P.OFFENDER_SHARE.get(w.code, 0.65)
    f = P.OFFENDER_VIOLATION_FACTOR
    p_creator = np.where(c.prone, base * f, base * max(0.2, (1 - share * f) / (1 - share)))
    p_creator[c.wave] = 0.25
    violating = np.where(is_ev, False, rng.random(n) < p_creator[owner])
    violating[ev_rows] = d.true_violation[has]
    habit = c.main_policy[owner]
    policy = np.where(rng.random(n) < P.MAIN_POLICY_SHARE, habit, draw_fixed(rng, model.policy_p, n)).astype(
        np.int8
    )
    policy[c.wave[owner]] = POLICIES.index(P.WAVE_POLICY)
    policy[ev_rows] = ev.policy[has]
    policy[~violating] = -1
    return violating, policy


def _build_content(
    rng: np.random.Generator, w: MarketWorld, d: ActionDetail, offset: int
) -> tuple[Content, np.ndarray, np.ndarray]:
    """Background publishing plus one item per content-level action.

    Returns the content, each action's content row (-1 for account-level actions) and each
    action's ``views_before_action``.
    """
    c, clock, ev = w.creators, w.clock, w.events
    owner, pub_bg = _background_publishing(rng, c, clock)
    n_bg = len(owner)
    # content behind content-level actions, published before its detection
    has = np.nonzero(~d.account_level)[0]
    lower = np.maximum(c.registered[ev.creator[has]], clock.start)
    pub_ev = np.maximum(ev.detected[has] - d.lag[has], lower)
    ev.detected[has] = np.maximum(ev.detected[has], pub_ev)
    owner = np.concatenate([owner, ev.creator[has]])
    pub = np.concatenate([pub_bg, pub_ev])
    n = len(owner)
    is_ev = np.arange(n) >= n_bg

    ctype, language, category = _content_attributes(rng, w, owner)
    views, before = _content_views(rng, w, owner, ctype, pub, pub_ev, has, n_bg)
    buyers = rng.poisson(views * _lookup(P.CONVERSION, CONTENT_TYPES)[ctype] * (category >= 0))
    price = np.exp(P.PRICE_LOG_MEAN + P.PRICE_LOG_SD * rng.standard_normal(n))
    gmv = np.round(buyers * price, 2)
    violating, policy = _content_violations(rng, w, d, owner, is_ev, has, n_bg)

    ev_rows = np.arange(n_bg, n)
    order = np.argsort(pub, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    content = Content(
        pub[order],
        owner[order],
        ctype[order],
        language[order],
        category[order],
        views[order],
        gmv[order],
        violating[order],
        policy[order],
        offset + 1 + np.arange(n, dtype=np.int64),
    )
    event_row = np.full(len(ev), -1, np.int64)
    event_row[has] = rank[ev_rows]
    views_before = np.full(len(ev), -1, np.int64)
    views_before[has] = before
    return content, event_row, views_before


def _month_slices(times: np.ndarray, clock: Clock) -> list[slice]:
    """Row ranges of each local month in time-sorted ``times``."""
    cut = np.searchsorted(times, clock.month_start, side="left")
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(cut) if b > a]


def _appeals(rng: np.random.Generator, w: MarketWorld, d: ActionDetail, action_number: np.ndarray) -> dict:
    ev, end = w.events, w.clock.end
    n = len(ev)
    appealed = rng.random(n) < _lookup(P.APPEAL_RATE, ACTION_TYPES)[ev.action_type]
    idx = np.nonzero(appealed)[0]
    k = len(idx)
    out_of_court = (rng.random(k) < P.OUT_OF_COURT_SHARE) if w.params.regime == "DSA" else np.zeros(k, bool)
    channel = out_of_court.astype(np.int8)  # internal_complaint, out_of_court
    submitted = ev.actioned[idx] + lognormal_us(rng, k, *P.APPEAL_SUBMIT_HOURS)
    resolve = np.empty(k, np.int64)
    for ch, name in enumerate(APPEAL_CHANNELS):
        sel = channel == ch
        resolve[sel] = lognormal_us(rng, int(sel.sum()), *P.APPEAL_RESOLVE_HOURS[name])
    resolved = submitted + resolve
    wrong = ~d.true_violation[idx]
    u = rng.random(k)
    p_over, p_part = (
        np.where(wrong, P.OVERTURN_IF_WRONG[0], P.OVERTURN_IF_RIGHT[0]),
        np.where(wrong, P.OVERTURN_IF_WRONG[1], P.OVERTURN_IF_RIGHT[1]),
    )
    outcome = np.where(
        u < p_over,
        APPEAL_OUTCOMES.index("overturned"),
        np.where(
            u < p_over + p_part,
            APPEAL_OUTCOMES.index("partially_overturned"),
            APPEAL_OUTCOMES.index("upheld"),
        ),
    )
    pending = resolved >= end
    outcome[pending] = APPEAL_OUTCOMES.index("pending")
    keep = submitted < end
    return {
        "_t": submitted[keep],
        "_i": idx[keep],
        "action_number": action_number[idx][keep],
        "creator": ev.creator[idx][keep],
        "channel": channel[keep],
        "submitted": submitted[keep],
        "resolved": resolved[keep],
        "pending": pending[keep],
        "outcome": outcome[keep],
    }


def _notices(
    rng: np.random.Generator,
    w: MarketWorld,
    content: Content,
    event_row: np.ndarray,
    action_number: np.ndarray,
    truth: dict,
) -> dict:
    """Notices behind notice-detected actions, plus the allegations that find no violation.

    Actioned notices are the notices behind notice-detected actions (no randomness). The
    others come from :func:`_allegations` (the ``allegations`` stream), which plants the
    difference-in-differences deterrence truth.
    """
    ev = w.events
    source_to_reporter = {
        "user_report": "user",
        "trusted_flagger": "trusted_flagger",
        "authority_order": "authority",
    }
    parts = []
    for src, rep in source_to_reporter.items():
        r = REPORTER_TYPES.index(rep)
        idx = np.nonzero((ev.source == DETECTION_SOURCES.index(src)) & ~ev.sweep)[0]
        parts.append(
            {
                "reporter": np.full(len(idx), r, np.int8),
                "row": event_row[idx],
                "creator": ev.creator[idx],
                "policy": ev.policy[idx],
                "received": ev.detected[idx],
                "handled": ev.actioned[idx],
                "outcome": np.full(len(idx), NOTICE_OUTCOMES.index("actioned"), np.int8),
                "action": action_number[idx],
            }
        )
    parts.append(_allegations(rng, w, content, truth))
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["_t"] = out["received"]
    out["_i"] = np.arange(len(out["received"]))
    return out


def _allegations(rng: np.random.Generator, w: MarketWorld, content: Content, truth: dict) -> dict:
    """Notices alleging misconduct that review finds below the bar (``no_violation``; ``pending`` at the cut-off).

    Creator *i* draws a latent monthly rate ``lambda_i ~ Gamma(ALLEGATION_SHAPE, mean_i /
    ALLEGATION_SHAPE)`` with ``mean_i = ALLEGATION_RATE[prone_i] * ALLEGATION_TIER[tier_i]``.
    In local month *m* the creator receives ``Poisson((lambda_i + rho_m) * exposure)``
    allegations, ``rho_m = ALLEGATION_CLIMATE * MONTH_SEASON[m]`` being common to every
    creator of the market, exposure the share of the month between registration and a ban.
    From the creator's first-ever action on, the whole rate is multiplied by
    ``theta = ALLEGATION_DETERRENCE``. Rates are constant within a month (not per day), so the
    expected count of a fully exposed month is exactly ``lambda_i + rho_m`` (times ``theta``
    after the first action) and parallel trends in levels hold by construction: without the
    action, every creator's expected change between two months is ``rho_m' - rho_m``.
    Each allegation points to the creator's latest compliant item published before it
    (null when there is none).
    """
    c, clock, end = w.creators, w.clock, w.clock.end
    theta = P.ALLEGATION_DETERRENCE
    mean = (
        np.where(c.prone, P.ALLEGATION_RATE[True], P.ALLEGATION_RATE[False])
        * _lookup(P.ALLEGATION_TIER, TIERS)[c.tier]
    )
    lam = rng.gamma(P.ALLEGATION_SHAPE, mean / P.ALLEGATION_SHAPE)
    rho = P.ALLEGATION_CLIMATE * np.array([P.MONTH_SEASON[int(m[5:])] for m in clock.months])
    ms = clock.month_start
    length = np.diff(ms).astype(float)[None, :]
    a = np.maximum(c.registered[:, None], ms[None, :-1])
    b = np.minimum(np.minimum(c.ban_at, end)[:, None], ms[None, 1:])
    t0 = c.first_action_at[:, None]
    pre_end = np.minimum(b, t0)
    post_start = np.maximum(a, t0)
    pre = np.maximum(pre_end - a, 0)
    post = np.maximum(b - post_start, 0)
    rate = lam[:, None] + rho[None, :]
    k_pre = rng.poisson(rate * pre / length)
    k_post = rng.poisson(theta * rate * post / length)
    times, who = [], []
    for k, lo, span in ((k_pre, a, pre), (k_post, post_start, post)):
        ci, mi = np.nonzero(k)
        cnt = k[ci, mi]
        ci, mi = np.repeat(ci, cnt), np.repeat(mi, cnt)
        times.append(lo[ci, mi] + (rng.random(len(ci)) * span[ci, mi]).astype(np.int64))
        who.append(ci)
    received, creator = np.concatenate(times), np.concatenate(who)
    order = np.lexsort((creator, received))
    received, creator = received[order], creator[order]
    k = len(received)
    rep = draw_fixed(rng, P.ALLEGATION_REPORTER_MIX, k)
    policy = np.where(
        rng.random(k) < P.MAIN_POLICY_SHARE, c.main_policy[creator], draw_fixed(rng, w.model.policy_p, k)
    ).astype(np.int8)
    handled = received.copy()
    for r, name in enumerate(REPORTER_TYPES):
        sel = rep == r
        handled[sel] += lognormal_us(rng, int(sel.sum()), *P.NOTICE_REVIEW_HOURS[name])
    outcome = np.where(handled < end, NOTICE_OUTCOMES.index("no_violation"), NOTICE_OUTCOMES.index("pending"))
    # the creator's latest compliant item published at or before the notice (second resolution)
    comp = np.nonzero(~content.violating)[0]
    key_c = content.creator[comp] * (1 << 30) + (content.published[comp] - clock.start) // 1_000_000
    srt = np.argsort(key_c, kind="stable")
    key_c, comp = key_c[srt], comp[srt]
    pos = (
        np.searchsorted(key_c, creator * (1 << 30) + (received - clock.start) // 1_000_000, side="right") - 1
    )
    row = np.where(pos >= 0, comp[np.maximum(pos, 0)], -1)
    row[(row >= 0) & (content.creator[np.maximum(row, 0)] != creator)] = -1
    received = np.where(row >= 0, np.maximum(received, content.published[np.maximum(row, 0)]), received)
    handled = np.maximum(handled, received)
    _allegation_truth(w, lam, rho, (pre + post) / length, theta, truth)
    return {
        "reporter": rep.astype(np.int8),
        "row": row,
        "creator": creator,
        "policy": policy,
        "received": received,
        "handled": handled,
        "outcome": outcome.astype(np.int8),
        "action": np.full(k, -1, np.int64),
    }


DID_WINDOWS = (1, 2, 3)  # months before and after, for the recorded effects on the treated


def _allegation_truth(
    w: MarketWorld, lam: np.ndarray, rho: np.ndarray, exposure: np.ndarray, theta: float, truth: dict
) -> None:
    """Accumulate the true effect on the treated of the DiD design, for each window ``w``.

    Treated (the population of :func:`govlib.metrics.effectiveness.estimate_deterrence_did`
    before matching): creators registered inside the data window, first actioned in local
    month ``g`` with their registration month ``<= g - w`` and ``g + w`` inside the window,
    with some exposure (not banned) in months ``g+1..g+w``. Their expected allegations per
    exposed creator-month there are ``theta * cf_i``, ``cf_i`` = exposure-weighted mean of
    ``lambda_i + rho_m`` over those months, against ``cf_i`` without the action.
    """
    c, clock = w.creators, w.clock
    months = len(clock.months)
    reg = clock.month_index(c.registered)
    g = clock.month_index(c.first_action_at)
    for win in DID_WINDOWS:
        ok = (c.registered >= clock.start) & (reg <= g - win) & (g + win < months)
        idx = np.nonzero(ok)[0]
        cols = g[idx][:, None] + np.arange(1, win + 1)[None, :]
        e = exposure[idx[:, None], cols]
        rate = lam[idx][:, None] + rho[cols]
        keep = e.sum(axis=1) > 0
        cf = (e * rate).sum(axis=1)[keep] / e.sum(axis=1)[keep]
        acc = truth["allegations"].setdefault(win, {"n_treated": 0, "counterfactual_sum": 0.0})
        acc["n_treated"] += int(keep.sum())
        acc["counterfactual_sum"] += float(cf.sum())


def _prevalence(
    rng: np.random.Generator, w: MarketWorld, content: Content, n_per_month: int
) -> tuple[dict, dict]:
    """Stratified (by content type) probability-proportional-to-views sample of each month's views.

    Within stratum *h* of month *M*, ``n_h`` views are drawn with replacement with
    probability proportional to each item's views, so every sampled view represents
    ``V_h / n_h`` views (``V_h``: the stratum's views). Allocation over-samples the
    riskier formats. Returns the sample and, by month, the violating and all views (the true
    prevalence is their ratio, pooled over a chunked market's blocks, which are strata too).
    """
    clock = w.clock
    month = clock.month_index(content.published)
    oversample = {"livestream": 2.0, "product_showcase": 1.5}
    factor = _lookup(oversample, CONTENT_TYPES, 1.0)
    rows, strata, weights, times, truth = [], [], [], [], {}
    for m, label in enumerate(clock.months):
        in_m = np.nonzero(month == m)[0]
        if not len(in_m):
            continue
        v = content.views[in_m]
        total = int(v.sum())
        truth[label] = (int(v[content.violating[in_m]].sum()), total)  # violating views, views
        vh = np.array([v[content.ctype[in_m] == h].sum() for h in range(len(CONTENT_TYPES))], dtype=float)
        if vh.sum() == 0:
            continue
        alloc = vh * factor / (vh * factor).sum() * n_per_month
        nh = np.where(vh > 0, np.maximum(np.round(alloc), 20), 0).astype(np.int64)
        nh = np.minimum(nh, vh.astype(np.int64))
        m_end = min(int(clock.month_start[m + 1]), clock.end)
        for h in range(len(CONTENT_TYPES)):
            if nh[h] == 0:
                continue
            members = in_m[content.ctype[in_m] == h]
            cum = np.cumsum(content.views[members])
            pick = members[np.searchsorted(cum, rng.random(nh[h]) * cum[-1], side="right")]
            rows.append(pick)
            strata.append(np.full(nh[h], h, np.int8))
            weights.append(np.full(nh[h], vh[h] / nh[h]))
            start = content.published[pick]
            times.append(start + (rng.random(nh[h]) * (m_end - start)).astype(np.int64))
    if not rows:
        z = np.zeros(0, np.int64)
        return {"row": z, "stratum": z.astype(np.int8), "weight": z.astype(float), "_t": z, "_i": z}, truth
    row = np.concatenate(rows)
    t = np.concatenate(times)
    return {
        "row": row,
        "stratum": np.concatenate(strata),
        "weight": np.concatenate(weights),
        "_t": t,
        "_i": np.arange(len(row)),
    }, truth


def _signal(rng: np.random.Generator, w: MarketWorld, content: Content) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the text signal for every item (rounded to 4 decimals) and their time."""
    langs = w.params.languages
    n = len(content)
    mu_v = np.array([P.SIGNAL_QUALITY.get(lang, P.SIGNAL_QUALITY_DEFAULT)[0] for lang in langs])
    mu_c = np.array([P.SIGNAL_QUALITY.get(lang, P.SIGNAL_QUALITY_DEFAULT)[1] for lang in langs])
    sd = np.array([P.SIGNAL_QUALITY.get(lang, P.SIGNAL_QUALITY_DEFAULT)[2] for lang in langs])
    lang = content.language
    logit = np.where(content.violating, mu_v[lang], mu_c[lang]) + sd[lang] * rng.standard_normal(n)
    score = np.round(1.0 / (1.0 + np.exp(-logit)), 4)
    scored = content.published + (rng.standard_exponential(n) * 2 * US_MINUTE).astype(np.int64)
    return score, np.minimum(scored, w.clock.end - 1)


def _rewards(rng: np.random.Generator, w: MarketWorld) -> dict:
    c, clock, ev = w.creators, w.clock, w.events
    n, m = len(c), len(clock.months)
    ms = clock.month_start
    lo = np.maximum(c.registered[:, None], ms[None, :-1])
    hi = np.minimum(np.minimum(c.ban_at, clock.end)[:, None], ms[None, 1:])
    eligible = hi > lo
    acted = np.zeros(n * m, np.int64)
    np.add.at(acted, ev.creator * m + clock.month_index(ev.actioned), 1)
    acted = acted.reshape(n, m)
    recent = np.zeros((n, m), bool)
    recent[:, 1:] = acted[:, :-1] > 0
    p = _lookup(P.REWARD_RATE, TIERS)[c.tier][:, None] * np.where(recent, P.REWARD_AFTER_VIOLATION, 1.0)
    granted = eligible & (rng.random((n, m)) < p)
    ci, mi = np.nonzero(granted)
    k = len(ci)
    t = lo[ci, mi] + (rng.random(k) * (hi[ci, mi] - lo[ci, mi])).astype(np.int64)
    rtype = draw_fixed(rng, P.REWARD_TYPE_MIX, k)
    med = _lookup({r: P.REWARD_VALUE[r][0] for r in REWARD_TYPES}, REWARD_TYPES)[rtype]
    sd = _lookup({r: P.REWARD_VALUE[r][1] for r in REWARD_TYPES}, REWARD_TYPES)[rtype]
    value = med * _lookup(P.TIER_VALUE, TIERS)[c.tier[ci]] * np.exp(sd * rng.standard_normal(k))
    return {
        "creator": ci,
        "granted": t,
        "rtype": rtype,
        "value": np.round(value, 2),
        "_t": t,
        "_i": np.arange(k),
    }


# ----------------------------------------------------------------------------- output


@dataclass
class Offsets:
    content: int = 0
    action: int = 0


def _emit_market(
    root: Path,
    w: MarketWorld,
    seed: int,
    scale: str,
    offsets: Offsets,
    small: _HeldTables,
    truth: dict,
    counts: dict,
    prevalence_n: int,
) -> None:
    """Generate and write one market's (or creator block's) tables: partitioned ones now, small ones into
    ``small``; ``prevalence_n`` is the prevalence sample size per month (a block's share of its market's)."""
    code, ev, b = w.code, w.events, w.block
    detail = _action_detail(_rng(seed, code, "actions", b), ev)
    content, event_row, views_before = _build_content(
        _rng(seed, code, "content", b), w, detail, offsets.content
    )
    offsets.content += len(content)
    action_number = offsets.action + 1 + np.arange(len(ev), dtype=np.int64)
    offsets.action += len(ev)
    e = _MarketEmit(
        root,
        w,
        seed,
        scale,
        small,
        truth,
        counts,
        (P.MARKETS.index(code) if code in P.MARKETS else 99) * 1000 + b,
        W.ids("cr", w.creator_number),
        content,
        W.ids("ct", content.number),
        detail,
        event_row,
        views_before,
        action_number,
        prevalence_n,
    )
    _write_content(e)
    _write_actions(e)
    scored = _write_signal_scores(e)
    _emit_review_labels(e, scored)
    _emit_prevalence(e)
    _emit_appeals(e)
    _emit_notices(e)
    _emit_rewards(e)
    _emit_creators(e)
    _emit_qa_reviews(e)


@dataclass
class _MarketEmit:
    """What the output steps of one market share: where to write, the world, and its generated content and actions."""

    root: Path
    w: MarketWorld
    seed: int
    scale: str
    small: _HeldTables
    truth: dict
    counts: dict
    mi: int  # market index * 1000 + creator block: the second sort key of the small tables
    creator_ids: pa.Array
    content: Content
    content_ids: pa.Array
    detail: ActionDetail
    event_row: np.ndarray  # content row of each action, -1 for account-level ones
    views_before: np.ndarray
    action_number: np.ndarray
    prevalence_n: int


def _write_content(e: _MarketEmit) -> None:
    """The market's content partitions (sorted by published_at; ids follow that order)."""
    w, content, content_ids = e.w, e.content, e.content_ids
    out = W.PartWriter(e.root, "content", part=e.w.block, market=w.code)
    for s in _month_slices(content.published, w.clock):
        cat = content.category[s]
        out.write(
            {
                "content_id": content_ids[s],
                "creator_id": e.creator_ids.take(pa.array(content.creator[s])),
                "content_type": W.labels(CONTENT_TYPES, content.ctype[s]),
                "language": W.labels(tuple(w.params.languages), content.language[s]),
                "published_at": content.published[s],
                "product_category": W.labels(P.CATEGORIES, np.maximum(cat, 0), null=cat < 0),
                "views": content.views[s],
                "gmv_eur": content.gmv[s],
            }
        )
    out.close()
    e.counts["content"] += out.rows


def _write_actions(e: _MarketEmit) -> None:
    """The market's enforcement-action partitions (sorted by actioned_at)."""
    ev, detail = e.w.events, e.detail
    out = W.PartWriter(e.root, "enforcement_actions", part=e.w.block, market=e.w.code)
    account_level = e.event_row < 0
    for s in _month_slices(ev.actioned, e.w.clock):
        row = e.event_row[s]
        restr = detail.restriction_end[s]
        vb = e.views_before[s]
        out.write(
            {
                "action_id": W.ids("ac", e.action_number[s]),
                "creator_id": e.creator_ids.take(pa.array(ev.creator[s])),
                "content_id": e.content_ids.take(pa.array(np.maximum(row, 0), mask=row < 0)),
                "policy": W.labels(POLICIES, ev.policy[s]),
                "severity": W.labels(SEVERITIES, ev.severity[s]),
                "action_type": W.labels(ACTION_TYPES, ev.action_type[s]),
                "health_points": _lookup(P.HEALTH_POINTS, SEVERITIES).astype(np.int64)[ev.severity[s]],
                "detection_source": W.labels(DETECTION_SOURCES, ev.source[s]),
                "decision_mode": W.labels(DECISION_MODES, ev.mode[s]),
                "ground": W.labels(GROUNDS, np.where(detail.illegal[s], 0, 1)),
                "detected_at": ev.detected[s],
                "actioned_at": ev.actioned[s],
                "restriction_ends_at": W.timestamps(np.maximum(restr, 0), null=restr < 0),
                "views_before_action": pa.array(
                    np.maximum(vb, 0), pa.int64(), mask=account_level[s] | detail.views_missing[s]
                ),
            }
        )
    out.close()
    e.counts["enforcement_actions"] += out.rows


def _write_signal_scores(e: _MarketEmit) -> np.ndarray:
    """The market's signal-score partitions (sorted by scored_at, then content_id) and their
    confusion counts in the ground truth; returns each content's scoring time."""
    w, content, code = e.w, e.content, e.w.code
    score, scored = _signal(_rng(e.seed, code, "signal", e.w.block), w, content)
    order = np.lexsort((content.number, scored))
    out = W.PartWriter(e.root, "signal_scores", part=e.w.block, market=code)
    for s in _month_slices(scored[order], w.clock):
        o = order[s]
        out.write(
            {
                "content_id": e.content_ids.take(pa.array(o)),
                "signal": pa.array([P.SIGNAL_NAME] * len(o), pa.string()),
                "version": pa.array([P.SIGNAL_VERSION] * len(o), pa.string()),
                "score": score[o],
                "scored_at": scored[o],
            }
        )
    out.close()
    e.counts["signal_scores"] += out.rows
    flagged = score >= P.SIGNAL_THRESHOLD
    for key, group in (("by_language", content.language), ("by_market", None)):
        for g in range(len(w.params.languages)) if group is not None else [None]:
            sel = (group == g) if group is not None else np.ones(len(content), bool)
            name = w.params.languages[g] if g is not None else code
            acc = e.truth["signal_counts"][key].setdefault(name, [0, 0, 0, 0])
            acc[0] += int((sel & flagged & content.violating).sum())
            acc[1] += int((sel & flagged & ~content.violating).sum())
            acc[2] += int((sel & ~flagged & content.violating).sum())
            acc[3] += int(sel.sum())
    return scored


def _emit_review_labels(e: _MarketEmit, scored: np.ndarray) -> None:
    """Review labels: a Bernoulli QA sample of scored content."""
    content, code = e.content, e.w.code
    rng = _rng(e.seed, code, "labels", e.w.block)
    picked = np.nonzero(rng.random(len(content)) < P.QA_LABEL_RATE[e.scale])[0]
    reviewed = np.minimum(
        scored[picked] + (rng.uniform(1.0, 240.0, len(picked)) * US_HOUR).astype(np.int64), e.w.clock.end - 1
    )
    pol = content.policy[picked]
    e.small.add(
        "review_labels",
        _frame(
            e.mi,
            reviewed,
            content.number[picked],
            {
                "content_id": e.content_ids.take(pa.array(picked)),
                "market": code,
                "policy": W.labels(POLICIES, np.maximum(pol, 0), null=pol < 0),
                "is_violating": content.violating[picked],
                "reviewed_at": reviewed,
                "source": pa.array(["qa_sample"] * len(picked), pa.string()),
            },
        ),
    )


def _qa_items(rng: np.random.Generator, content: Content, rate: float) -> np.ndarray:
    """Content rows sent to QA review: ``rate`` of all content, half of them violating (sorted)."""
    n = int(round(len(content) * rate))
    bad, good = np.nonzero(content.violating)[0], np.nonzero(~content.violating)[0]
    n_bad = min(len(bad), int(round(n * P.QA_REVIEW_VIOLATING_SHARE)))
    n_good = min(len(good), n - n_bad)
    return np.sort(
        np.concatenate([rng.choice(bad, n_bad, replace=False), rng.choice(good, n_good, replace=False)])
    )


def _emit_qa_reviews(e: _MarketEmit) -> None:
    """QA reviews from their own random stream (no other table shifts): reviewers with planted
    accuracies label items once, twice or three times; golden items carry the truth."""
    content, code, w = e.content, e.w.code, e.w
    rng = _rng(e.seed, code, "qa_reviews", e.w.block)
    items = _qa_items(rng, content, P.QA_REVIEW_RATE[e.scale])
    n, n_rev = len(items), len(P.REVIEWER_ACCURACY)
    k = draw_fixed(rng, np.array(list(P.QA_REVIEWS_PER_ITEM.values())), n) + 1
    who = np.argsort(rng.random((n, n_rev)), axis=1)[:, :3]  # distinct reviewers per item
    golden = rng.random(n) < P.QA_GOLDEN_SHARE
    gaps = rng.uniform(*P.QA_ROUND_GAP_HOURS, (n, 3)).cumsum(axis=1) * US_HOUR
    correct = rng.random((n, 3)) < np.asarray(P.REVIEWER_ACCURACY)[who]
    policy = np.where(content.violating[items], content.policy[items], draw_fixed(rng, w.model.policy_p, n))
    rows, rnd = np.nonzero(np.arange(3)[None, :] < k[:, None])  # item-major, rounds in order
    it = items[rows]
    truth = content.violating[it]
    label = np.where(correct[rows, rnd], truth, ~truth)
    reviewed = np.minimum(content.published[it] + gaps[rows, rnd].astype(np.int64), w.clock.end - 1)
    names = tuple(f"rv_{code.lower()}_{i + 1:02d}" for i in range(n_rev))
    yes_no = ("violating", "not_violating")
    e.small.add(
        "qa_reviews",
        _frame(
            e.mi,
            reviewed,
            content.number[it] * 4 + rnd,
            {
                "content_id": e.content_ids.take(pa.array(it)),
                "market": code,
                "policy": W.labels(POLICIES, policy[rows]),
                "language": W.labels(tuple(w.params.languages), content.language[it]),
                "reviewer": W.labels(names, who[rows, rnd]),
                "review_round": (rnd + 1).astype(np.int64),
                "label": W.labels(yes_no, np.where(label, 0, 1)),
                "golden_label": W.labels(yes_no, np.where(truth, 0, 1), null=~golden[rows]),
                "reviewed_at": reviewed,
            },
        ),
    )
    _record_review_truth(e, names, who[rows, rnd], rows, it, label, golden, k)


def _record_review_truth(e: _MarketEmit, names, reviewer, rows, it, label, golden, k) -> None:
    """Planted accuracies, expected accuracy per language on golden items, realised disagreement.

    Sums, so that a market generated in creator blocks adds its blocks up (``_review_quality_truth``
    turns the accuracy sums into means)."""
    acc = np.asarray(P.REVIEWER_ACCURACY)[reviewer]
    lang, g = e.content.language[it], golden[rows]
    n_items = len(k)
    yes = np.bincount(rows, weights=label.astype(float), minlength=n_items)
    multi = k >= 2
    disagreed = multi & (yes > 0) & (yes < k)
    market = e.truth["review_quality"].setdefault(
        e.w.code,
        {
            "reviewer_accuracy": {nm: float(a) for nm, a in zip(names, P.REVIEWER_ACCURACY)},
            "by_language": {},
            "items": 0,
            "items_multi_reviewed": 0,
            "items_disagreed": 0,
        },
    )
    for j, name in enumerate(e.w.params.languages):
        sel = g & (lang == j)
        if sel.any():
            sums = market["by_language"].setdefault(name, {"accuracy_sum": 0.0, "golden_reviews": 0})
            sums["accuracy_sum"] += float(acc[sel].sum())
            sums["golden_reviews"] += int(sel.sum())
    market["items"] += int(n_items)
    market["items_multi_reviewed"] += int(multi.sum())
    market["items_disagreed"] += int(disagreed.sum())


def _emit_prevalence(e: _MarketEmit) -> None:
    """Prevalence samples, and the true prevalence into the ground truth."""
    content, code = e.content, e.w.code
    sample, prevalence = _prevalence(
        _rng(e.seed, code, "prevalence", e.w.block), e.w, content, e.prevalence_n
    )
    pooled = e.truth["prevalence"].setdefault(code, {})
    for month, (bad, views) in prevalence.items():
        acc = pooled.setdefault(month, [0, 0])
        acc[0], acc[1] = acc[0] + bad, acc[1] + views
    row = sample["row"]
    pol = content.policy[row]
    e.small.add(
        "prevalence_samples",
        _frame(
            e.mi,
            sample["_t"],
            sample["_i"],
            {
                "content_id": e.content_ids.take(pa.array(row)),
                "market": code,
                "sampled_at": sample["_t"],
                "stratum": W.labels(CONTENT_TYPES, sample["stratum"]),
                "weight": sample["weight"],
                "is_violating": content.violating[row],
                "policy": W.labels(POLICIES, np.maximum(pol, 0), null=pol < 0),
            },
        ),
    )


def _emit_appeals(e: _MarketEmit) -> None:
    """Appeals against the market's actions."""
    code = e.w.code
    a = _appeals(_rng(e.seed, code, "appeals", e.w.block), e.w, e.detail, e.action_number)
    e.small.add(
        "appeals",
        _frame(
            e.mi,
            a["_t"],
            a["_i"],
            {
                "action_id": W.ids("ac", a["action_number"]),
                "creator_id": e.creator_ids.take(pa.array(a["creator"])),
                "market": code,
                "channel": W.labels(APPEAL_CHANNELS, a["channel"]),
                "submitted_at": a["submitted"],
                "resolved_at": W.timestamps(a["resolved"], null=a["pending"]),
                "outcome": W.labels(APPEAL_OUTCOMES, a["outcome"]),
            },
        ),
    )


def _emit_notices(e: _MarketEmit) -> None:
    """Notices (allegations) against the market's content and creators."""
    code = e.w.code
    nt = _notices(
        _rng(e.seed, code, "allegations", e.w.block), e.w, e.content, e.event_row, e.action_number, e.truth
    )
    pending = nt["outcome"] == NOTICE_OUTCOMES.index("pending")
    row, act = nt["row"], nt["action"]
    e.small.add(
        "notices",
        _frame(
            e.mi,
            nt["_t"],
            nt["_i"],
            {
                "content_id": e.content_ids.take(pa.array(np.maximum(row, 0), mask=row < 0)),
                "creator_id": e.creator_ids.take(pa.array(nt["creator"])),
                "market": code,
                "reporter_type": W.labels(REPORTER_TYPES, nt["reporter"]),
                "policy": W.labels(POLICIES, nt["policy"]),
                "received_at": nt["received"],
                "handled_at": W.timestamps(nt["handled"], null=pending),
                "outcome": W.labels(NOTICE_OUTCOMES, nt["outcome"]),
                "action_id": _nullable_ids("ac", act),
            },
        ),
    )


def _emit_rewards(e: _MarketEmit) -> None:
    """Rewards granted to the market's creators."""
    code = e.w.code
    r = _rewards(_rng(e.seed, code, "rewards", e.w.block), e.w)
    e.small.add(
        "rewards",
        _frame(
            e.mi,
            r["_t"],
            r["_i"],
            {
                "creator_id": e.creator_ids.take(pa.array(r["creator"])),
                "market": code,
                "granted_at": r["granted"],
                "reward_type": W.labels(REWARD_TYPES, r["rtype"]),
                "value_eur": r["value"],
            },
        ),
    )


def _emit_creators(e: _MarketEmit) -> None:
    """The market's creators."""
    c = e.w.creators
    e.small.add(
        "creators",
        _frame(
            e.mi,
            c.registered,
            np.arange(len(c)),
            {
                "creator_id": e.creator_ids,
                "market": e.w.code,
                "registered_at": c.registered,
                "tier": W.labels(TIERS, c.tier),
                "follower_count": c.followers,
                "primary_category": W.labels(P.CATEGORIES, c.category),
            },
        ),
    )


def _nullable_ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """Ids where ``numbers >= 0``, null elsewhere."""
    return W.ids(prefix, np.maximum(numbers, 0)).take(pa.array(np.arange(len(numbers)), mask=numbers < 0))


def _frame(market_index: int, t: np.ndarray, i: np.ndarray, columns: dict) -> dict:
    """Columns of one market's slice of a small table, with the keys it will be sorted on."""
    n = len(t)
    out = {}
    for name, value in columns.items():
        if isinstance(value, str):
            value = pa.array([value] * n, pa.string())
        out[name] = value
    out["_t"], out["_m"], out["_i"] = (
        np.asarray(t, np.int64),
        np.full(n, market_index, np.int64),
        np.asarray(i),
    )
    return out


KEY_PREFIX = {
    "creators": "cr",
    "appeals": "ap",
    "notices": "nt",
    "rewards": "rw",
    "prevalence_samples": "ps",
    "qa_reviews": "qr",
}
SPILL_BUCKET_US = 30 * US_DAY  # a chunked run's small tables are merged in buckets of their time column
SORT_KEYS = ("_t", "_m", "_i")


def _column_array(spec, frame: dict, column: str) -> pa.Array:
    """One column of a frame as an Arrow array."""
    v = frame[column]
    if not isinstance(v, (pa.Array, pa.ChunkedArray)):
        v = W.timestamps(v) if spec.column(column).dtype == "timestamp" else pa.array(v)
    return v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v


def _write_small(root: Path, name: str, frames: list[dict]) -> int:
    """Concatenate the markets' slices, sort by time column, market, local order; number the keys."""
    spec = TABLES[name]
    t = np.concatenate([f["_t"] for f in frames])
    m = np.concatenate([f["_m"] for f in frames])
    i = np.concatenate([f["_i"] for f in frames])
    order = pa.array(np.lexsort((i, m, t)))
    cols = {}
    for c in spec.column_names:
        if c == spec.primary_key and c not in frames[0]:
            continue
        cols[c] = pa.concat_arrays([_column_array(spec, f, c) for f in frames]).take(order)
    if spec.primary_key and spec.primary_key not in cols:
        cols[spec.primary_key] = W.ids(KEY_PREFIX[name], np.arange(1, len(t) + 1))
    table = W.make_table(name, cols)
    W.write_single(table, root / f"{name}.parquet")
    return table.num_rows


class _HeldTables:
    """The small tables of a run whose markets are generated at once: held in memory, written at the end."""

    def __init__(self) -> None:
        self.frames: dict[str, list[dict]] = {name: [] for name in SINGLE}

    def add(self, name: str, frame: dict) -> None:
        self.frames[name].append(frame)

    def write(self, root: Path) -> dict[str, int]:
        return {name: _write_small(root, name, self.frames.pop(name)) for name in SINGLE}


class _SpilledTables(_HeldTables):
    """The small tables of a chunked run, never all in memory (at xlarge, notices alone are GBs).

    Each block's rows go to Arrow IPC files under ``spill``, one per 30-day bucket of the
    table's time column; :meth:`write` then sorts one bucket at a time (by time, market and
    block, local order: the order of :func:`_write_small`), numbers the keys on and appends it
    to the table's Parquet file.
    """

    def __init__(self, spill: Path) -> None:
        self.spill = spill
        self.seq = 0

    def add(self, name: str, frame: dict) -> None:
        spec, self.seq = TABLES[name], self.seq + 1
        sch = W.schema(name)
        cols = {f.name: _column_array(spec, frame, f.name).cast(f.type) for f in sch if f.name in frame}
        cols.update({k: pa.array(np.asarray(frame[k], np.int64)) for k in SORT_KEYS})
        table = pa.table(cols)
        bucket = np.asarray(frame["_t"], np.int64) // SPILL_BUCKET_US
        order = np.argsort(bucket, kind="stable")
        values, first = np.unique(bucket[order], return_index=True)
        for b, rows in zip(values, np.split(order, first[1:]), strict=True):
            folder = self.spill / name / str(int(b))
            folder.mkdir(parents=True, exist_ok=True)
            part = table.take(pa.array(rows))
            with pa.ipc.new_file(folder / f"{self.seq:06d}.arrow", part.schema) as out:
                out.write_table(part)

    def write(self, root: Path) -> dict[str, int]:
        counts = {name: self._write_table(root, name) for name in SINGLE}
        shutil.rmtree(self.spill, ignore_errors=True)
        return counts

    def _write_table(self, root: Path, name: str) -> int:
        spec, rows, writer = TABLES[name], 0, None
        folder = self.spill / name
        buckets = sorted(folder.iterdir(), key=lambda p: int(p.name)) if folder.exists() else []
        try:
            for bucket in buckets:
                t = pa.concat_tables([pa.ipc.open_file(p).read_all() for p in sorted(bucket.iterdir())])
                order = np.lexsort(tuple(t[k].to_numpy() for k in reversed(SORT_KEYS)))
                t = t.take(pa.array(order)).drop_columns(list(SORT_KEYS))
                cols = {c: t[c] for c in t.column_names}
                if spec.primary_key and spec.primary_key not in cols:
                    cols[spec.primary_key] = W.ids(KEY_PREFIX[name], np.arange(rows + 1, rows + len(t) + 1))
                table = W.make_table(name, cols)
                writer = writer or pq.ParquetWriter(root / f"{name}.parquet", table.schema, **W.WRITE_OPTIONS)
                writer.write_table(table, row_group_size=W.SINGLE_ROW_GROUP)
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            W.write_single(W.schema(name).empty_table(), root / f"{name}.parquet")
        return rows


# ----------------------------------------------------------------------------- entry point

_DATASET_NAMES = {".complete", DEMO_MARKER, "ground_truth.json", *TABLES, *(f"{t}.parquet" for t in TABLES)}


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DemoDataError(f"--out {out} is a file; give a directory for the demo dataset")
    if (out / ".complete").exists() and not force:
        raise DemoDataError(
            f"{out} already holds a complete demo dataset; pass --force to overwrite it "
            f"(or choose another --out)"
        )
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _DATASET_NAMES)
        if foreign:
            raise DemoDataError(
                f"{out} is not empty and does not look like a demo dataset ({len(foreign)} other entries, e.g. "
                f"{', '.join(foreign[:5])}); choose an empty or new directory for --out"
            )


def _clean_stale(out: Path) -> None:
    """Remove temporary directories left by interrupted runs whose process is gone."""
    for p in out.parent.glob(f".{out.name}.tmp-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def generate(
    out: str | Path,
    scale: str = "small",
    seed: int = config.DEMO_SEED,
    end_month: str = config.DEMO_END_MONTH,
    plant_wave: bool = True,
    *,
    force: bool = False,
    markets: tuple[str, ...] | None = None,
    size: float = 1.0,
    chunk_creators: int | None = None,
) -> dict:
    """Write the seeded demo marketplace to ``out`` and return its planted ground truth.

    Parameters
    ----------
    out : path
        Dataset directory. Written into a temporary sibling directory and renamed into place
        at the end, then ``out/.complete`` is written; an interrupted run never leaves a
        half-written dataset at ``out``.
    scale : {"small", "medium", "large", "xlarge"}
        ``small``: about 5k creators and 200k content items; ``medium`` 10x; ``large`` 100x
        (over 20M content rows and 2M actions), generated market by market; ``xlarge`` 10x
        ``large`` (about 200M content rows and 20M actions), generated in creator blocks.
    seed : int
        Seed of every random stream; the same seed gives byte-identical files.
    end_month : str
        Last local month (``YYYY-MM``). Each market holds 13 local months ending here, or
        fewer when it launched later (PL: from its ``launched`` month in params).
    plant_wave : bool
        Plant the emerging abuse wave (``False`` gives a quiet dataset for false-alarm checks).
    force : bool
        Overwrite a complete dataset at ``out``.
    markets : tuple of str, optional
        Subset of the demo markets (default: all of ``GB, IE, DE, FR, ES, IT, PL``).
    size : float
        Multiplier on the number of creators (tests use a fraction of ``small``).
    chunk_creators : int, optional
        Creators per generated block (default: ``profiles.CHUNK_CREATORS[scale]``, 100,000 at
        ``xlarge`` and none, a market at once, below). See Notes.

    Returns
    -------
    dict
        The ground truth, as written to ``out/ground_truth.json`` (see the module docstring
        and ``docs/DEVELOPING.md``).

    Notes
    -----
    Peak memory is that of the largest unit generated at once. Without chunking the unit is a
    market (1.3 GB at ``large``); a chunked market is cut into blocks of ``chunk_creators``
    creators, each generated like a market of that size from its own random streams (its wave
    planted against its own baseline, its prevalence sample a stratum of the market's) and
    written to its own partition files (``part-<block>.parquet``); the small tables are spilled
    per block and merged in time order at the end. The planted truths are pooled over the
    blocks (counts and sums add up), so they hold as at the other scales; the data of a
    chunked run differ from the unchunked run of the same seed. Blocks are generated twice
    (once for the registration times that number the creators, once to write them) rather
    than held: memory is bounded by one block.
    """
    if scale not in SCALES:
        raise UsageError(f"scale {scale!r} is not one of {', '.join(SCALES)}")
    parse_month(end_month)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    chosen = tuple(sorted(markets or P.MARKETS))
    unknown = [m for m in chosen if m not in P.MARKETS]
    if unknown:
        raise UsageError(f"unknown demo market(s) {', '.join(unknown)}; demo markets: {', '.join(P.MARKETS)}")
    chunk = P.CHUNK_CREATORS[scale] if chunk_creators is None else chunk_creators
    if chunk is not None and (not isinstance(chunk, (int, np.integer)) or chunk < 1):
        raise UsageError(f"chunk_creators must be a positive integer, got {chunk!r}")
    out = Path(out)
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        truth = _generate_into(tmp, scale, int(seed), end_month, plant_wave, chosen, size, chunk)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, out)
    (out / ".complete").write_text(
        json.dumps({"seed": int(seed), "scale": scale, "end_month": end_month}) + "\n"
    )
    return truth


@dataclass
class _Block:
    """A market's creators, or one block of them, generated at once."""

    code: str
    params: object
    n: int  # creators of the block
    block: int
    market_n: int  # creators of the whole market


def _blocks(markets: tuple[str, ...], factor: float, chunk: int | None) -> list[_Block]:
    out = []
    for code in markets:
        params = load_market(code)
        n = max(20, round(P.CREATORS_SMALL[code] * factor))
        k = 1 if chunk is None else -(-n // chunk)
        out += [_Block(code, params, n // k + (b < n % k), b, n) for b in range(k)]
    return out


def _generate_into(
    root: Path,
    scale: str,
    seed: int,
    end_month: str,
    plant_wave: bool,
    markets: tuple[str, ...],
    size: float,
    chunk: int | None,
) -> dict:
    factor = P.SCALE_FACTOR[scale] * size
    chunked = chunk is not None
    built, registered, waves, clocks = [], [], [], {}
    for blk in _blocks(markets, factor, chunk):
        world = _build_world(blk.code, blk.params, seed, end_month, blk.n, plant_wave, blk.block)
        if world is None:
            continue
        clocks.setdefault(blk.code, world.clock)
        registered.append((list(clocks).index(blk.code), world.creators.registered))
        if world.wave is not None:
            waves.append(world.wave)
        built.append((blk, None if chunked else world))  # a chunked run rebuilds each block when writing it
    numbers = _creator_numbers(registered)
    del registered
    small = _SpilledTables(root / ".spill") if chunked else _HeldTables()
    counts = {name: 0 for name in TABLES}
    truth: dict = {
        "prevalence": {},
        "signal_counts": {"by_language": {}, "by_market": {}},
        "allegations": {},
        "review_quality": {},
    }
    offsets = Offsets()
    for (blk, world), number in zip(built, numbers, strict=True):
        w = world or _build_world(blk.code, blk.params, seed, end_month, blk.n, plant_wave, blk.block)
        w.creator_number = number
        prevalence_n = round(P.PREVALENCE_SAMPLE[scale] * blk.n / blk.market_n)
        _emit_market(root, w, seed, scale, offsets, small, truth, counts, prevalence_n)
        w.events = w.creators = None  # free the market (block) before the next one
    counts.update(small.write(root))
    result = _ground_truth(clocks, _pooled_wave(waves), seed, scale, end_month, plant_wave, truth, counts)
    (root / "ground_truth.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    # the explicit demo switch (govlib.privacy.is_demo_mode): the public example pseudonym key is allowed here
    text = demo_marker_text(seed, scale, end_month, result["markets"])
    (root / DEMO_MARKER).write_text(text, encoding="utf-8")
    return result


def _pooled_wave(waves: list[dict]) -> dict | None:
    """The wave's truth, pooled over the blocks of a chunked market (each planted against its own baseline)."""
    if not waves:
        return None
    weekly = [w.pop("_weekly") for w in waves]
    if len(waves) == 1:
        return waves[0]
    before, during = sum(b for b, _ in weekly), sum(d for _, d in weekly)
    out = dict(waves[0])
    out["new_accounts"] = sum(w["new_accounts"] for w in waves)
    out["baseline_weekly_actions"] = round(before, 4)
    out["wave_weekly_actions"] = round(during, 4)
    out["observed_ratio"] = round(during / before, 4) if before else None
    return out


def _pr(counts: list[int]) -> dict:
    tp, fp, fn, n = counts
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "n_scored": n,
        "n_violating": tp + fn,
        "n_flagged": tp + fp,
    }


def _did_truth(acc: dict) -> dict:
    theta = P.ALLEGATION_DETERRENCE
    by_window = {}
    for win in DID_WINDOWS:
        n, cf = acc.get(win, {}).get("n_treated", 0), acc.get(win, {}).get("counterfactual_sum", 0.0)
        by_window[str(win)] = {
            "n_treated": n,
            "att": (theta - 1.0) * cf / n if n else None,
            "counterfactual_expected": cf / n if n else None,
            "treated_post_expected": theta * cf / n if n else None,
        }
    return {
        "outcome": "allegations",
        "rate_ratio": theta,
        "relative_change": theta - 1.0,
        "by_window": by_window,
        "latent_rate": {
            "mean_prone": P.ALLEGATION_RATE[True],
            "mean_other": P.ALLEGATION_RATE[False],
            "tier_factor": dict(P.ALLEGATION_TIER),
            "gamma_shape": P.ALLEGATION_SHAPE,
            "climate": P.ALLEGATION_CLIMATE,
        },
        "definition": (
            "Outcome 'allegations': notices against a creator that led to no action (action_id null: outcome "
            "no_violation, or pending at the cut-off), counted by the local month of received_at, per exposed "
            "creator-month (exposure: share of the local month after registration and before a ban). Each creator "
            "has a latent monthly rate lambda_i ~ Gamma(gamma_shape, mean/gamma_shape), mean = mean_prone or "
            "mean_other times tier_factor[tier], plus a market-wide additive term climate * MONTH_SEASON[calendar "
            "month]; expected allegations in a local month = (lambda_i + climate term) * exposure, times rate_ratio "
            "from the creator's first-ever action (actioned_at) on. Parallel trends in levels and no anticipation "
            "hold by construction; first actions and bans are independent of lambda_i given the creator's offence "
            "proneness. rate_ratio = expected allegations after the first action / expected without it, for every "
            "treated creator-month (estimate_deterrence_did's rate_ratio; relative_change = rate_ratio - 1). "
            "by_window[w].att: mean over the treated of (rate_ratio - 1) * cf_i, cf_i = exposure-weighted mean of "
            "lambda_i + climate term over months g+1..g+w, in allegations per creator-month "
            "(estimate_deterrence_did's estimate with window=w, outcome='allegations'); treated = creators "
            "registered inside the data, first actioned in local month g, registration month <= g-w, g+w inside the "
            "data, some exposure in g+1..g+w (before matching: estimate_deterrence_did's n_treated + n_unmatched, "
            "all markets pooled). Expected values given the drawn lambda_i, not realised counts."
        ),
    }


def _review_quality_truth(by_market: dict) -> dict:
    by_market = {
        code: {
            **m,
            "by_language": {
                lang: {
                    "expected_accuracy": v["accuracy_sum"] / v["golden_reviews"],
                    "golden_reviews": v["golden_reviews"],
                }
                for lang, v in m["by_language"].items()
            },
        }
        for code, m in by_market.items()
    }
    return {
        "by_market": by_market,
        "golden_share": P.QA_GOLDEN_SHARE,
        "reviews_per_item": {str(n): p for n, p in P.QA_REVIEWS_PER_ITEM.items()},
        "violating_share_of_items": P.QA_REVIEW_VIOLATING_SHARE,
        "definition": (
            "qa_reviews: a QA sample of each market's content (half drawn among violating content), each item "
            "reviewed 1, 2 or 3 times (reviews_per_item) by distinct reviewers of the market. A reviewer's label "
            "equals the truth (content violating any policy) with probability reviewer_accuracy[reviewer], "
            "independently of the item, language and other reviewers (symmetric errors). golden_share of the items "
            "are golden: golden_label = the truth on all their rows. by_language[l].expected_accuracy: mean planted "
            "accuracy over the golden reviews of items in language l (what accuracy per language estimates). "
            "items_disagreed: items reviewed at least twice whose labels are not all equal."
        ),
    }


def _ground_truth(clocks, wave, seed, scale, end_month, plant_wave, truth, counts) -> dict:
    hr = P.HAZARD_RATIO
    prevalence = {
        code: {m: (bad / views if views else None) for m, (bad, views) in sorted(months.items())}
        for code, months in truth["prevalence"].items()
    }
    return {
        "seed": seed,
        "scale": scale,
        "end_month": end_month,
        "markets": list(clocks),
        "windows": {
            code: {
                "first_month": clock.months[0],
                "last_month": clock.months[-1],
                "months": len(clock.months),
            }
            for code, clock in clocks.items()
        },
        "emerging_wave": wave,
        "deterrence": {
            "hazard_ratio_suspension_vs_warning": hr["account_suspended"] / hr["warning"],
            "baseline_weekly_hazard": P.BASELINE_WEEKLY_HAZARD,
            "hazard_ratio_by_action_type": dict(hr),
            "definition": (
                "After an action of type a, a creator's next violation is detected after an exponential wait with "
                "weekly hazard baseline_weekly_hazard * hazard_ratio_by_action_type[a] (a ban ends the history), "
                "the same in every market and tier. The time from a creator's first action in the data "
                "(actioned_at) to the detected_at of their next action is therefore exponential; a Cox model on "
                "first action type (warning as reference) recovers the ratios. Censored at the data end."
            ),
            "did_rate_ratio": P.ALLEGATION_DETERRENCE,
            "did": _did_truth(truth["allegations"]),
        },
        "prevalence": prevalence,
        "prevalence_definition": (
            "For market m and local month M: sum of views of violating content / sum of views of all content "
            "published by m in M (content.views: lifetime views at the data cut-off; violating = what a reviewer "
            "would label). prevalence_samples rows with sampled_at in M are a stratified (stratum = content_type) "
            "sample of those views drawn with probability proportional to views; weight = stratum views / stratum "
            "sample size, so sum(weight * is_violating) / sum(weight) is unbiased for it."
        ),
        "signal": {
            "name": P.SIGNAL_NAME,
            "version": P.SIGNAL_VERSION,
            "threshold": P.SIGNAL_THRESHOLD,
            "rule": "flagged when score >= threshold",
            "target": "content violating any policy (review_labels.is_violating)",
            "built_for": list(P.SIGNAL_BUILT_FOR),
            "population": "all content (every item is scored once)",
            "by_language": {k: _pr(v) for k, v in sorted(truth["signal_counts"]["by_language"].items())},
            "by_market": {k: _pr(v) for k, v in sorted(truth["signal_counts"]["by_market"].items())},
        },
        "review_quality": _review_quality_truth(truth["review_quality"]),
        "row_counts": dict(counts),
        "plant_wave": plant_wave,
    }
