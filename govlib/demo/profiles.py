"""Model constants of the demo marketplace: what makes each market and policy look different.

Everything here is a *generator* setting (how the synthetic world behaves), not a market
parameter: time zones, languages and launch months come from ``params/markets/*.yaml``
through :func:`govlib.params.load_market`. Column names and allowed values come from
:mod:`govlib.contract`. Rates are per week unless stated; probabilities are per event.
"""

from __future__ import annotations

from govlib.contract import ACTION_TYPES, CONTENT_TYPES, POLICIES, SEVERITIES, TIERS

MARKETS = ("DE", "ES", "FR", "GB", "IE", "IT", "PL")  # processing order (sorted) fixes the random streams

# Creators per market at scale "small" (x10 medium, x100 large); PL is the three-month expansion market.
CREATORS_SMALL = {"GB": 1100, "DE": 950, "FR": 750, "IT": 600, "ES": 600, "IE": 280, "PL": 800}
# large: >= 20M content, >= 2M actions; xlarge: 10x large (~200M content, ~20M actions), written in chunks
SCALE_FACTOR = {"small": 1, "medium": 10, "large": 110, "xlarge": 1100}
# Labelled QA share of scored content, and prevalence sample size per market-month, by scale:
# the label sample does not need to grow with the population, the QA team's capacity does not.
QA_LABEL_RATE = {"small": 0.08, "medium": 0.02, "large": 0.004, "xlarge": 0.0004}
PREVALENCE_SAMPLE = {"small": 2000, "medium": 3000, "large": 4000, "xlarge": 4000}
# Creators per generated block (None: a market at once). A block is generated like a market of that
# size (its own random streams); xlarge's blocks are the size of DE at large, so peak memory stays
# that of the large scale (about 1.3 GB) whatever the market's size.
CHUNK_CREATORS = {"small": None, "medium": None, "large": None, "xlarge": 100_000}

# Review quality (qa_reviews): share of content sent to QA review by scale; half the items are drawn
# among violating content (an enriched sample: agreement on clean items alone says little).
QA_REVIEW_RATE = {"small": 0.1, "medium": 0.02, "large": 0.002}
QA_REVIEW_VIOLATING_SHARE = 0.5
# Every market has one reviewer per planted accuracy (the probability that a label equals the
# truth; errors are symmetric). Two are below a 0.9 calibration threshold.
REVIEWER_ACCURACY = (0.98, 0.96, 0.95, 0.94, 0.93, 0.91, 0.85, 0.75)
QA_REVIEWS_PER_ITEM = {1: 0.55, 2: 0.30, 3: 0.15}  # independent reviews of an item, by distinct reviewers
QA_GOLDEN_SHARE = 0.3  # items with a known answer (golden_label = truth)
QA_ROUND_GAP_HOURS = (2.0, 72.0)  # uniform wait before each review round

CATEGORIES = (
    "beauty",
    "fashion",
    "electronics",
    "home_living",
    "food_beverage",
    "health_wellness",
    "toys_games",
    "sports_outdoors",
    "jewellery_accessories",
    "mother_baby",
    "pet_supplies",
    "automotive",
)
CATEGORY_WEIGHTS = (0.17, 0.17, 0.12, 0.1, 0.07, 0.08, 0.05, 0.06, 0.07, 0.04, 0.04, 0.03)
# Categories where product-safety policies concentrate.
RISKY_CATEGORIES = ("electronics", "health_wellness", "toys_games", "beauty", "mother_baby")

# --- time patterns (local time) ------------------------------------------------------------
# Publishing seasonality by calendar month: Q4 peak (Black Friday, Christmas), January dip.
MONTH_SEASON = {
    1: 0.88,
    2: 0.93,
    3: 0.98,
    4: 1.0,
    5: 1.0,
    6: 0.98,
    7: 0.94,
    8: 0.94,
    9: 1.0,
    10: 1.08,
    11: 1.32,
    12: 1.28,
}
WEEKDAY = (0.92, 0.95, 0.98, 1.0, 1.04, 1.1, 1.01)  # Monday .. Sunday
HOURLY = (  # share of publishing by local hour: evening peak
    0.6,
    0.35,
    0.2,
    0.15,
    0.15,
    0.25,
    0.5,
    0.9,
    1.1,
    1.2,
    1.25,
    1.3,
    1.4,
    1.35,
    1.3,
    1.3,
    1.35,
    1.5,
    1.75,
    2.0,
    2.15,
    2.0,
    1.6,
    1.05,
)

# --- creators ------------------------------------------------------------------------------
FOLLOWERS_LOG_MEAN, FOLLOWERS_LOG_SD = 7.0, 2.0  # lognormal: median ~1.1k, heavy tail
TIER_THRESHOLDS = (1_000, 10_000, 100_000)  # followers: new < 1k <= rising < 10k <= established < 100k <= top
assert len(TIERS) == len(TIER_THRESHOLDS) + 1
REGISTRATION_GROWTH = 0.15  # per year: registrations grow exponentially since market launch ...
LAUNCH_COHORT = (
    0.4,
    60,
)  # ... after a launch cohort (share of creators, days): sellers moving their shops over
POSTS_PER_WEEK = {"new": 0.85, "rising": 1.2, "established": 1.5, "top": 1.9}
POSTS_LOG_SD = 0.9
OFFENDER_SHARE = {"GB": 0.72, "DE": 0.7, "FR": 0.74, "ES": 0.76, "IT": 0.78, "IE": 0.7, "PL": 0.8}
ONSET_WEEKS = 9.0  # mean weeks from registration to an offence-prone creator's first action

# --- content -------------------------------------------------------------------------------
CONTENT_MIX = {  # content_type shares of background publishing
    "default": (0.46, 0.14, 0.2, 0.12, 0.08),
    "GB": (0.42, 0.18, 0.2, 0.12, 0.08),
    "DE": (0.44, 0.12, 0.24, 0.12, 0.08),
    "PL": (0.52, 0.12, 0.18, 0.12, 0.06),
}
assert all(len(v) == len(CONTENT_TYPES) for v in CONTENT_MIX.values())
VIEW_TYPE_FACTOR = {
    "short_video": 1.0,
    "livestream": 1.6,
    "product_showcase": 0.8,
    "image": 0.4,
    "text": 0.25,
}
VIEWS_LOG_BASE, VIEWS_FOLLOWER_ELASTICITY, VIEWS_LOG_SD = 1.5, 0.55, 1.4
VIEW_ACCRUAL_DAYS = 2.5  # views accrue as 1 - exp(-age / 2.5 days)
CONVERSION = {
    "short_video": 0.0015,
    "livestream": 0.004,
    "product_showcase": 0.006,
    "image": 0.0005,
    "text": 0.0,
}
PRICE_LOG_MEAN, PRICE_LOG_SD = 3.1, 0.8  # EUR per order, median ~22
NULL_CATEGORY = {"short_video": 0.3, "livestream": 0.15, "product_showcase": 0.0, "image": 0.6, "text": 0.6}
SECONDARY_LANGUAGE_SHARE = {"ga": 0.04, "ca": 0.17, "eu": 0.02, "gl": 0.05, "cy": 0.03}
DEFAULT_SECONDARY_SHARE = 0.08
# Undetected violations among background content (share of items), by market; offence-prone
# creators violate OFFENDER_VIOLATION_FACTOR times as often as the market average.
UNDETECTED_VIOLATION = {
    "GB": 0.006,
    "DE": 0.005,
    "FR": 0.007,
    "ES": 0.0075,
    "IT": 0.008,
    "IE": 0.006,
    "PL": 0.014,
}
OFFENDER_VIOLATION_FACTOR = 1.4

# --- policies ------------------------------------------------------------------------------
POLICY_MIX_BASE = {
    "prohibited_product": 0.07,
    "unsafe_product": 0.06,
    "counterfeit_ip": 0.1,
    "misleading_claims": 0.16,
    "undisclosed_ads": 0.14,
    "scam_fraud": 0.09,
    "fake_engagement": 0.1,
    "off_platform_trade": 0.06,
    "hate_harassment": 0.05,
    "minor_safety": 0.03,
    "adult_content": 0.04,
    "dangerous_activity": 0.03,
    "privacy_violation": 0.02,
    "other": 0.05,
}
assert tuple(POLICY_MIX_BASE) == POLICIES
POLICY_MIX_MARKET = {  # multipliers on the base mix
    "GB": {"counterfeit_ip": 1.3, "hate_harassment": 1.3, "undisclosed_ads": 1.2},
    "DE": {"scam_fraud": 1.25, "privacy_violation": 1.8, "misleading_claims": 1.2, "hate_harassment": 1.2},
    "FR": {"counterfeit_ip": 1.5, "undisclosed_ads": 1.3},
    "ES": {"off_platform_trade": 1.4, "fake_engagement": 1.3},
    "IT": {"counterfeit_ip": 1.7, "prohibited_product": 1.2},
    "IE": {"undisclosed_ads": 1.3, "scam_fraud": 0.8},
    "PL": {"scam_fraud": 1.4, "off_platform_trade": 1.5, "fake_engagement": 1.4},
}
MAIN_POLICY_SHARE = 0.35  # share of a creator's actions under their habitual policy
SEVERITY_BY_POLICY = {  # low, medium, high, critical
    "prohibited_product": (0.05, 0.35, 0.45, 0.15),
    "unsafe_product": (0.1, 0.45, 0.35, 0.1),
    "counterfeit_ip": (0.1, 0.5, 0.35, 0.05),
    "misleading_claims": (0.45, 0.45, 0.1, 0.0),
    "undisclosed_ads": (0.65, 0.33, 0.02, 0.0),
    "scam_fraud": (0.0, 0.3, 0.5, 0.2),
    "fake_engagement": (0.35, 0.5, 0.15, 0.0),
    "off_platform_trade": (0.3, 0.55, 0.15, 0.0),
    "hate_harassment": (0.15, 0.45, 0.3, 0.1),
    "minor_safety": (0.0, 0.2, 0.45, 0.35),
    "adult_content": (0.15, 0.5, 0.3, 0.05),
    "dangerous_activity": (0.1, 0.45, 0.35, 0.1),
    "privacy_violation": (0.2, 0.5, 0.25, 0.05),
    "other": (0.5, 0.4, 0.1, 0.0),
}
# Action type by severity (columns in ACTION_TYPES order), for a creator's first three
# actions and for later ones (escalation).
ACTION_BY_SEVERITY = {
    "low": (0.62, 0.2, 0.14, 0.02, 0.02, 0.0, 0.0),
    "medium": (0.28, 0.42, 0.1, 0.07, 0.07, 0.06, 0.0),
    "high": (0.08, 0.4, 0.06, 0.1, 0.1, 0.24, 0.02),
    "critical": (0.0, 0.2, 0.0, 0.05, 0.05, 0.55, 0.15),
}
ACTION_BY_SEVERITY_REPEAT = {
    "low": (0.5, 0.26, 0.14, 0.04, 0.04, 0.02, 0.0),
    "medium": (0.2, 0.42, 0.1, 0.08, 0.08, 0.11, 0.01),
    "high": (0.04, 0.36, 0.04, 0.1, 0.1, 0.3, 0.06),
    "critical": (0.0, 0.12, 0.0, 0.04, 0.04, 0.5, 0.3),
}
assert all(len(v) == len(ACTION_TYPES) for v in ACTION_BY_SEVERITY.values())
HEALTH_POINTS = {"low": 4, "medium": 12, "high": 30, "critical": 60}
assert tuple(HEALTH_POINTS) == SEVERITIES

# --- deterrence (planted): hazard of the next violation after an action of each type ------
BASELINE_WEEKLY_HAZARD = 0.18  # after a warning
HAZARD_RATIO = {  # relative to warning; banned accounts cannot re-offend
    "warning": 1.0,
    "content_removed": 0.85,
    "visibility_limited": 0.95,
    "commission_withheld": 0.75,
    "feature_restricted": 0.7,
    "account_suspended": 0.5,
    "account_banned": 0.0,
}
assert tuple(HAZARD_RATIO) == ACTION_TYPES
ACCOUNT_LEVEL_SHARE = {  # share of actions of each type with no content_id
    "warning": 0.1,
    "content_removed": 0.0,
    "visibility_limited": 0.0,
    "commission_withheld": 0.3,
    "feature_restricted": 0.4,
    "account_suspended": 0.5,
    "account_banned": 0.7,
}
# A decision often comes with follow-on removals of the creator's other offending items (a
# "sweep"): extra content_removed actions at the same moment, Poisson with this mean by the
# primary action type. Only for primaries at least as harsh as content_removed, so the
# harshest action of the bundle is the one that drives the creator's next wait.
SWEEP_REMOVALS = {
    "content_removed": 0.35,
    "commission_withheld": 0.3,
    "feature_restricted": 0.3,
    "account_suspended": 0.8,
    "account_banned": 1.0,
}
RESTRICTION_DAYS = {
    "account_suspended": (3, 7, 14, 30),
    "feature_restricted": (7, 14, 30),
    "commission_withheld": (7, 14, 30),
}

# --- detection and decision ------------------------------------------------------------------
AUTOMATED_DETECTION = {  # share detected by automated systems, by policy
    "prohibited_product": 0.72,
    "unsafe_product": 0.5,
    "counterfeit_ip": 0.7,
    "misleading_claims": 0.45,
    "undisclosed_ads": 0.6,
    "scam_fraud": 0.55,
    "fake_engagement": 0.88,
    "off_platform_trade": 0.62,
    "hate_harassment": 0.35,
    "minor_safety": 0.5,
    "adult_content": 0.75,
    "dangerous_activity": 0.4,
    "privacy_violation": 0.2,
    "other": 0.3,
}
AUTOMATION_MARKET = {"GB": 1.08, "DE": 1.0, "FR": 0.95, "ES": 0.9, "IT": 0.88, "IE": 1.02, "PL": 0.7}
# Non-automated detection sources: proactive_review, user_report, trusted_flagger, authority_order.
OTHER_SOURCES = {
    "default": (0.26, 0.5, 0.17, 0.07),
    "DE": (0.22, 0.46, 0.2, 0.12),
    "GB": (0.3, 0.5, 0.14, 0.06),
    "PL": (0.3, 0.6, 0.06, 0.04),
}
AUTOMATED_DECISION = {"GB": 0.82, "DE": 0.72, "FR": 0.75, "ES": 0.78, "IT": 0.76, "IE": 0.8, "PL": 0.6}
AUTOMATED_DECISION_POLICY = {
    "hate_harassment": 0.6,
    "minor_safety": 0.5,
    "privacy_violation": 0.5,
    "dangerous_activity": 0.7,
    "fake_engagement": 1.15,
}
FALSE_POSITIVE = {"automated": 0.12, "hybrid": 0.06, "human": 0.03}  # actions on non-violating content
ILLEGAL_SHARE = {
    "prohibited_product": 0.6,
    "unsafe_product": 0.5,
    "counterfeit_ip": 0.7,
    "misleading_claims": 0.2,
    "undisclosed_ads": 0.1,
    "scam_fraud": 0.6,
    "fake_engagement": 0.02,
    "off_platform_trade": 0.02,
    "hate_harassment": 0.4,
    "minor_safety": 0.7,
    "adult_content": 0.2,
    "dangerous_activity": 0.3,
    "privacy_violation": 0.4,
    "other": 0.05,
}
# Hours from detection to action: lognormal (median, sd of log) by detection source; automated
# detection decided automatically takes minutes.
ACTION_DELAY_HOURS = {
    "automated": (8.0, 1.0),
    "proactive_review": (12.0, 0.9),
    "user_report": (30.0, 1.0),
    "trusted_flagger": (6.0, 0.9),
    "authority_order": (14.0, 0.8),
}
AUTO_DECISION_MINUTES = 5.0
# Hours from publication to detection.
DETECTION_LAG_HOURS = {
    "automated": (3.0, 1.2),
    "proactive_review": (24.0, 1.0),
    "user_report": (36.0, 1.1),
    "trusted_flagger": (48.0, 1.0),
    "authority_order": (72.0, 0.9),
}
UPLOAD_SCAN_SHARE = 0.4  # automated detections caught at upload, before any view

# --- appeals and notices ---------------------------------------------------------------------
APPEAL_RATE = {
    "warning": 0.03,
    "content_removed": 0.1,
    "visibility_limited": 0.06,
    "commission_withheld": 0.15,
    "feature_restricted": 0.12,
    "account_suspended": 0.25,
    "account_banned": 0.35,
}
OUT_OF_COURT_SHARE = 0.04  # DSA Art. 21 bodies; not in UK_OSA markets
APPEAL_SUBMIT_HOURS = (36.0, 1.0)
APPEAL_RESOLVE_HOURS = {"internal_complaint": (40.0, 0.9), "out_of_court": (960.0, 0.5)}
OVERTURN_IF_WRONG = (0.75, 0.1)  # overturned, partially_overturned when the action hit compliant content
OVERTURN_IF_RIGHT = (0.04, 0.04)
NOTICE_REVIEW_HOURS = {"user": (30.0, 1.0), "trusted_flagger": (6.0, 0.9), "authority": (14.0, 0.8)}

# --- allegations (planted DiD deterrence) ------------------------------------------------------
# Notices that find no violation (outcome no_violation, or pending at the cut-off) come from each
# creator's latent rate of reportable misconduct: lambda_i ~ Gamma(shape, mean / shape) per local
# month, mean = ALLEGATION_RATE[prone] * ALLEGATION_TIER[tier], plus a market-wide additive
# "reporting climate" ALLEGATION_CLIMATE * MONTH_SEASON (common to all creators, so parallel trends
# in levels hold). From a creator's first-ever action on, the whole rate is multiplied by
# ALLEGATION_DETERRENCE (the planted deterrence); a ban ends it. Actioned notices stay those behind
# notice-detected actions, so users' notices are actioned far less often than trusted flaggers'.
ALLEGATION_RATE = {True: 0.9, False: 0.15}  # per creator-month, offence-prone vs not
ALLEGATION_TIER = {"new": 0.8, "rising": 1.0, "established": 1.3, "top": 1.8}
ALLEGATION_SHAPE = 2.0
ALLEGATION_CLIMATE = 0.05
ALLEGATION_DETERRENCE = 0.6  # rate ratio after / before the first action
ALLEGATION_REPORTER_MIX = (0.975, 0.02, 0.005)  # user, trusted_flagger, authority (REPORTER_TYPES order)

# --- rewards -----------------------------------------------------------------------------------
REWARD_RATE = {"new": 0.04, "rising": 0.1, "established": 0.2, "top": 0.38}  # per creator-month
REWARD_AFTER_VIOLATION = 0.6  # rewards still reach recent violators, less often
REWARD_TYPE_MIX = (0.4, 0.3, 0.15, 0.15)  # commission_boost, traffic_boost, badge, cash_incentive
REWARD_VALUE = {
    "commission_boost": (20.0, 0.8),
    "traffic_boost": (15.0, 0.7),
    "badge": (0.0, 0.0),
    "cash_incentive": (100.0, 0.9),
}
TIER_VALUE = {"new": 0.5, "rising": 1.0, "established": 2.5, "top": 8.0}

# --- the detection signal (planted language gap) ---------------------------------------------
SIGNAL_NAME = "violation_text_v2"
SIGNAL_VERSION = "2.1.0"
SIGNAL_THRESHOLD = 0.5
SIGNAL_BUILT_FOR = ("en", "de")
# logit(score) ~ Normal(mean_violating | mean_compliant, sd) by language: sharp where the model was
# trained, blurred where it transfers, poor in Polish.
SIGNAL_QUALITY = {
    "en": (2.2, -3.2, 1.3),
    "de": (2.0, -3.1, 1.3),
    "fr": (1.3, -2.7, 1.4),
    "es": (1.3, -2.6, 1.4),
    "it": (1.2, -2.6, 1.4),
    "ca": (0.6, -2.2, 1.5),
    "ga": (0.3, -2.1, 1.5),
    "pl": (-0.1, -1.7, 1.5),
}
SIGNAL_QUALITY_DEFAULT = (0.0, -1.7, 1.5)

# --- the emerging wave (planted) --------------------------------------------------------------
WAVE_MARKET, WAVE_POLICY, WAVE_CONTENT_TYPE = "DE", "scam_fraud", "livestream"
WAVE_MULTIPLIER_FROM, WAVE_MULTIPLIER_TO = 2.0, 4.0  # linear growth; mean 3.0
WAVE_CONTENT_TYPE_SHARE = 0.75
WAVE_POLICY_SHARE = 0.9
WAVE_BASELINE_WEEKS = 26


def market_value(table: dict, market: str, default_key: str = "default"):
    """``table[market]`` with a ``default`` fallback (markets added to params later)."""
    return table.get(market, table.get(default_key))
