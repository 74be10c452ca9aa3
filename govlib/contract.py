"""The govlib data contract as code.

One source of truth for validation, the demo generator, adapters and the docs.
The prose version lives in ``docs/data-contract.md``; keep both in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["str", "timestamp", "int", "float", "bool"]

CONTRACT_VERSION = "1"


# The one map from a contract type to its Arrow and Ibis types (Parquet writers, the demo
# generator, label import, typed tables and validation all use these). Imports are lazy:
# importing the contract stays cheap.
def arrow_type(dtype: DType):
    """The Arrow type of contract type ``dtype`` (timestamps: microseconds, UTC)."""
    import pyarrow as pa

    return {
        "str": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
    }[dtype]


def ibis_type(dtype: DType):
    """The Ibis type of contract type ``dtype`` (timestamps in UTC)."""
    import ibis.expr.datatypes as dt

    return {
        "str": dt.string,
        "timestamp": dt.Timestamp(timezone="UTC"),
        "int": dt.int64,
        "float": dt.float64,
        "bool": dt.boolean,
    }[dtype]


def arrow_schema(table: str, drop: tuple[str, ...] = ()):
    """Arrow schema of contract table ``table`` (columns in contract order, without ``drop``)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(c.name, arrow_type(c.dtype), nullable=c.nullable)
            for c in TABLES[table].columns
            if c.name not in drop
        ]
    )


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    references: str | None = None  # "table.column" foreign key
    doc: str = ""
    future_ok: bool = False  # a timestamp that may lie in the future (the end of a running restriction)


@dataclass(frozen=True)
class TimeOrder:
    """``later >= earlier`` must hold; ``via`` joins another table for ``earlier``.

    ``via = (fk_column, other_table, other_key)``: earlier is a column of
    ``other_table`` reached through ``fk_column``.
    """

    later: str
    earlier: str
    via: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class NullIff:
    """``column`` is null exactly when ``when_column == when_value``."""

    column: str
    when_column: str
    when_value: str


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    primary_key: str | None
    columns: tuple[Column, ...]
    time_column: str | None = None  # used to slice a market-month
    time_orders: tuple[TimeOrder, ...] = ()
    null_iff: tuple[NullIff, ...] = ()
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


TIERS = ("new", "rising", "established", "top")
CONTENT_TYPES = ("short_video", "livestream", "product_showcase", "image", "text")
SEVERITIES = ("low", "medium", "high", "critical")
ACTION_TYPES = (
    "warning",
    "content_removed",
    "visibility_limited",
    "commission_withheld",
    "feature_restricted",
    "account_suspended",
    "account_banned",
)
DETECTION_SOURCES = ("automated", "proactive_review", "user_report", "trusted_flagger", "authority_order")
PROACTIVE_SOURCES = ("automated", "proactive_review")
DECISION_MODES = ("automated", "human", "hybrid")
GROUNDS = ("illegal_content", "terms_of_service")
APPEAL_CHANNELS = ("internal_complaint", "out_of_court")
APPEAL_OUTCOMES = ("upheld", "overturned", "partially_overturned", "pending")
OVERTURN_OUTCOMES = ("overturned", "partially_overturned")
REPORTER_TYPES = ("user", "trusted_flagger", "authority")
NOTICE_OUTCOMES = ("actioned", "no_violation", "pending")
REWARD_TYPES = ("commission_boost", "traffic_boost", "badge", "cash_incentive")
LABEL_SOURCES = ("qa_sample", "appeal", "investigation", "audit_sample")
REVIEW_LABELS = ("violating", "not_violating")  # qa_reviews.label and golden_label

# Policy taxonomy -> DSA statement category (v2, from 1 July 2025).
POLICY_DSA_CATEGORY: dict[str, str] = {
    "prohibited_product": "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "unsafe_product": "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "counterfeit_ip": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "misleading_claims": "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "undisclosed_ads": "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "scam_fraud": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "fake_engagement": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "off_platform_trade": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "hate_harassment": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "minor_safety": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "adult_content": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "dangerous_activity": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "privacy_violation": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "other": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
}
POLICIES = tuple(POLICY_DSA_CATEGORY)


# Plausible timestamps (rule ``implausible_time``): none before TIME_FLOOR (a default such as
# 1970-01-01 or 1900-01-01, not an event of an online marketplace), none later than the time of
# the check plus FUTURE_TOLERANCE (clock skew, time zones), except columns with ``future_ok``.
TIME_FLOOR = "2000-01-01T00:00:00Z"
FUTURE_TOLERANCE_HOURS = 24


def _ts(name: str, nullable: bool = False, doc: str = "") -> Column:
    return Column(name, "timestamp", nullable=nullable, doc=doc)


def _money(name: str) -> Column:
    return Column(name, "float", min=0.0, doc="EUR")


def _count(name: str, nullable: bool = False) -> Column:
    return Column(name, "int", nullable=nullable, min=0)


def _market() -> Column:
    return Column("market", "str", doc="ISO 3166-1 alpha-2, upper case")


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "creators",
            required=True,
            primary_key="creator_id",
            time_column="registered_at",
            columns=(
                Column("creator_id", "str"),
                _market(),
                _ts("registered_at"),
                Column("tier", "str", allowed=TIERS),
                _count("follower_count"),
                Column("primary_category", "str"),
            ),
        ),
        Table(
            "content",
            required=True,
            primary_key="content_id",
            time_column="published_at",
            columns=(
                Column("content_id", "str"),
                Column("creator_id", "str", references="creators.creator_id"),
                _market(),
                Column("content_type", "str", allowed=CONTENT_TYPES),
                Column("language", "str", doc="ISO 639-1 lower case"),
                _ts("published_at"),
                Column("product_category", "str", nullable=True),
                _count("views"),
                _money("gmv_eur"),
            ),
        ),
        Table(
            "enforcement_actions",
            required=True,
            primary_key="action_id",
            time_column="actioned_at",
            columns=(
                Column("action_id", "str"),
                Column("creator_id", "str", references="creators.creator_id"),
                Column("content_id", "str", nullable=True, references="content.content_id"),
                _market(),
                Column("policy", "str", doc="policy taxonomy or a market's local policy"),
                Column("severity", "str", allowed=SEVERITIES),
                Column("action_type", "str", allowed=ACTION_TYPES),
                _count("health_points"),
                Column("detection_source", "str", allowed=DETECTION_SOURCES),
                Column("decision_mode", "str", allowed=DECISION_MODES),
                Column("ground", "str", allowed=GROUNDS),
                _ts("detected_at"),
                _ts("actioned_at"),
                Column("restriction_ends_at", "timestamp", nullable=True, future_ok=True),
                _count("views_before_action", nullable=True),
            ),
            time_orders=(TimeOrder("actioned_at", "detected_at"),),
        ),
        Table(
            "appeals",
            required=False,
            primary_key="appeal_id",
            time_column="submitted_at",
            columns=(
                Column("appeal_id", "str"),
                Column("action_id", "str", references="enforcement_actions.action_id"),
                Column("creator_id", "str"),
                _market(),
                Column("channel", "str", allowed=APPEAL_CHANNELS),
                _ts("submitted_at"),
                _ts("resolved_at", nullable=True),
                Column("outcome", "str", allowed=APPEAL_OUTCOMES),
            ),
            time_orders=(
                TimeOrder(
                    "submitted_at", "actioned_at", via=("action_id", "enforcement_actions", "action_id")
                ),
                TimeOrder("resolved_at", "submitted_at"),
            ),
            null_iff=(NullIff("resolved_at", "outcome", "pending"),),
        ),
        Table(
            "notices",
            required=False,
            primary_key="notice_id",
            time_column="received_at",
            columns=(
                Column("notice_id", "str"),
                Column("content_id", "str", nullable=True),
                Column("creator_id", "str", nullable=True),
                _market(),
                Column("reporter_type", "str", allowed=REPORTER_TYPES),
                Column("policy", "str"),
                _ts("received_at"),
                _ts("handled_at", nullable=True),
                Column("outcome", "str", allowed=NOTICE_OUTCOMES),
                Column("action_id", "str", nullable=True, references="enforcement_actions.action_id"),
            ),
            time_orders=(TimeOrder("handled_at", "received_at"),),
        ),
        Table(
            "rewards",
            required=False,
            primary_key="reward_id",
            time_column="granted_at",
            columns=(
                Column("reward_id", "str"),
                Column("creator_id", "str"),
                _market(),
                _ts("granted_at"),
                Column("reward_type", "str", allowed=REWARD_TYPES),
                _money("value_eur"),
            ),
        ),
        Table(
            "prevalence_samples",
            required=False,
            primary_key="sample_id",
            time_column="sampled_at",
            columns=(
                Column("sample_id", "str"),
                Column("content_id", "str"),
                _market(),
                _ts("sampled_at"),
                Column("stratum", "str"),
                Column("weight", "float", min=1.0, doc="views represented: 1 / inclusion probability"),
                Column("is_violating", "bool"),
                Column("policy", "str", nullable=True),
            ),
        ),
        Table(
            "signal_scores",
            required=False,
            primary_key=None,
            time_column="scored_at",
            columns=(
                Column("content_id", "str"),
                _market(),
                Column("signal", "str"),
                Column("version", "str"),
                Column("score", "float", min=0.0, max=1.0),
                _ts("scored_at"),
            ),
        ),
        Table(
            "review_labels",
            required=False,
            primary_key=None,
            time_column="reviewed_at",
            columns=(
                Column("content_id", "str"),
                _market(),
                Column("policy", "str", nullable=True),
                Column("is_violating", "bool"),
                _ts("reviewed_at"),
                Column("source", "str", allowed=LABEL_SOURCES),
            ),
        ),
        Table(
            "qa_reviews",
            required=False,
            primary_key="review_id",
            time_column="reviewed_at",
            columns=(
                Column("review_id", "str"),
                Column("content_id", "str", references="content.content_id", doc="the item reviewed"),
                _market(),
                Column("policy", "str", doc="the policy the item was reviewed against"),
                Column("language", "str", doc="ISO 639-1 lower case: the item's language"),
                Column("reviewer", "str", doc="reviewer pseudonym (never a name or staff id)"),
                Column(
                    "review_round", "int", min=1.0, doc="1 = first review, 2, 3, ... = independent re-reviews"
                ),
                Column("label", "str", allowed=REVIEW_LABELS),
                Column(
                    "golden_label",
                    "str",
                    nullable=True,
                    allowed=REVIEW_LABELS,
                    doc="the known answer when the item is a golden (calibration) item, else null",
                ),
                _ts("reviewed_at"),
            ),
            time_orders=(
                TimeOrder("reviewed_at", "published_at", via=("content_id", "content", "content_id")),
            ),
        ),
    )
}

REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)


def dsa_category(policy: str, local_policies: dict[str, str] | None = None) -> str:
    """DSA statement category of a policy, including a market's local policies."""
    if local_policies and policy in local_policies:
        return local_policies[policy]
    try:
        return POLICY_DSA_CATEGORY[policy]
    except KeyError:
        raise KeyError(
            f"policy {policy!r} is neither in the taxonomy nor a local policy of the market"
        ) from None
