"""Market and report parameters (``params/``), validated with pydantic.

``params/markets/<CC>.yaml`` holds everything that makes detection, enforcement and
reporting local to a market; ``params/reports.yaml`` says which notebooks run.
An unknown key or a wrong type is a :class:`ParamsError` naming the file and key.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from govlib import config
from govlib.contract import ACTION_TYPES, POLICY_DSA_CATEGORY, REPORTER_TYPES, SEVERITIES
from govlib.errors import GovlibError


class ParamsError(GovlibError):
    """A params file is missing, unreadable or does not match its schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthSettings(_Strict):
    """Creator account health, modelled on TikTok Shop's Creator Health Rating."""

    max_score: int = Field(1000, ge=1)
    start_score: int = Field(200, ge=0)
    deduction_window_days: int = Field(90, ge=1)
    # milestone score -> restriction applied at or below it
    milestones: dict[int, str] = Field(
        default_factory=lambda: {
            150: "traffic_limited",
            100: "commission_withheld",
            50: "ecommerce_suspended",
            0: "ecommerce_permanently_removed",
        }
    )
    repeat_policy_limit: int = Field(6, ge=1)
    repeat_policy_window_days: int = Field(90, ge=1)


class AlertSettings(_Strict):
    """Sensitivity of emerging-abuse alarms."""

    fdr_q: float = Field(0.05, gt=0, lt=1)  # Benjamini-Hochberg level
    min_expected: float = Field(2.0, ge=0)
    min_ratio: float = Field(1.5, ge=1)
    baseline_weeks: int = Field(26, ge=8)
    current_weeks: int = Field(2, ge=1)
    cusum_k: float = Field(0.5, ge=0)
    cusum_h: float = Field(5.0, gt=0)
    ewma_lambda: float = Field(0.2, gt=0, le=1)  # EWMA smoothing weight (Borror 1998)
    ewma_limit: float = Field(3.0, gt=0)  # EWMA upper control limit, in standard deviations


class ReviewQualitySettings(_Strict):
    """When a reviewer is listed for calibration (govlib.metrics.review_quality)."""

    min_accuracy: float = Field(0.9, gt=0, le=1)  # accuracy on golden items below this: calibrate
    min_golden_reviews: int = Field(10, ge=1)  # fewer golden reviews in the month: not judged


class MarketParams(_Strict):
    code: str
    name: str
    locale: str  # Babel locale for formats, e.g. de_DE
    report_language: str  # gettext catalog used by default, e.g. de_DE
    languages: list[str]  # ISO 639-1 codes spoken in the market
    timezone: str
    currency: str  # display currency, ISO 4217
    fx_rate_per_eur: float = Field(gt=0)
    regime: Literal["DSA", "UK_OSA"]
    launched: str  # YYYY-MM of market launch
    reference_market: str | None = None  # for expansion readiness
    health: HealthSettings = HealthSettings()
    alerts: AlertSettings = AlertSettings()
    review_quality: ReviewQualitySettings = ReviewQualitySettings()
    # service levels of time to action, in hours (govlib.metrics.enforcement.time_to_action_distribution)
    action_sla_hours: list[float] = Field(default_factory=lambda: [24.0, 72.0, 168.0])
    severity_weights: dict[str, float] = Field(
        default_factory=lambda: {"low": 1.0, "medium": 2.0, "high": 4.0, "critical": 8.0}
    )
    local_policies: dict[str, str] = Field(default_factory=dict)  # local policy -> DSA category
    prohibited_product_categories: list[str] = Field(default_factory=list)
    reviewer_languages: list[str] = Field(default_factory=list)
    min_cell_size: int = Field(10, ge=1)  # small-cell suppression in circulated tables
    # settings group (health, alerts, severity_weights) -> YYYY-MM of its last calibration on local
    # data; a group without an entry is uncalibrated (govlib.analyses.expansion, docs/localisation.md)
    calibrated_on: dict[str, str] = Field(default_factory=dict)
    # a reference market's local policy or prohibited product category -> why this market needs no
    # counterpart (recorded decision that closes an expansion-readiness gap)
    local_policy_waivers: dict[str, str] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _upper_alpha2(cls, v: str) -> str:
        if len(v) != 2 or not v.isalpha() or not v.isupper():
            raise ValueError(f"market code must be ISO 3166-1 alpha-2 upper case, got {v!r}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:  # noqa: BLE001 - any lookup failure means unknown zone
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("local_policies")
    @classmethod
    def _dsa_categories(cls, v: dict[str, str]) -> dict[str, str]:
        known = set(POLICY_DSA_CATEGORY.values())
        bad = {k: c for k, c in v.items() if c not in known}
        if bad:
            raise ValueError(f"local policies mapped to unknown DSA categories: {bad}")
        return v

    @field_validator("calibrated_on")
    @classmethod
    def _calibration_groups(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        bad = [k for k in v if k not in ("health", "alerts", "severity_weights")]
        if bad:
            raise ValueError(
                f"calibrated_on: unknown settings group(s) {bad}; use health, alerts, severity_weights"
            )
        bad = {k: m for k, m in v.items() if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(m))}
        if bad:
            raise ValueError(f"calibrated_on: months must be YYYY-MM, got {bad}")
        return v

    @model_validator(mode="after")
    def _start_within_range(self) -> MarketParams:
        if self.health.start_score > self.health.max_score:
            raise ValueError("health.start_score exceeds health.max_score")
        return self


class ReportsParams(_Strict):
    market_notebooks: list[str]
    rollup_notebooks: list[str]
    timeout_seconds: int = Field(600, ge=10)
    # run per market, like market_notebooks, but only for expansion markets: a reference_market
    # is set and the market launched within expansion_months of the report month
    expansion_notebooks: list[str] = Field(default_factory=list)
    expansion_months: int = Field(12, ge=1)
    # run once per month into the roll-up folder, only when a DSA statement archive is configured
    # (govlib run --dsa-archive DIR or GOVLIB_DSA_ARCHIVE): the dsa_peers report
    dsa_notebooks: list[str] = Field(default_factory=list)


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data


def _explain(path: Path, exc: ValidationError) -> ParamsError:
    lines = []
    for err in exc.errors():
        # pydantic marks an invalid dict key with a "[key]" step: the key itself names the place
        key = ".".join(str(p) for p in err["loc"] if p != "[key]") or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key {key!r}")
        else:
            lines.append(f"{path}: key {key!r}: {err['msg']} (got {err.get('input')!r})")
    return ParamsError("\n".join(lines))


def load_market(code: str, params_dir: Path | None = None) -> MarketParams:
    """Validated params of one market, e.g. ``load_market("DE")``."""
    path = Path(params_dir or config.PARAMS_DIR) / "markets" / f"{code}.yaml"
    if not (len(code) == 2 and code.isalpha() and code.isupper()):
        raise ParamsError(f"unknown market {code!r}: expected an ISO 3166-1 alpha-2 code such as 'DE'")
    if not path.exists():
        raise ParamsError(
            f"unknown market {code!r}: no params file {path}; known markets: {', '.join(list_markets(params_dir))}"
        )
    data = _read_yaml(path)
    try:
        params = MarketParams(**data)
    except ValidationError as exc:
        raise _explain(path, exc) from None
    if params.code != code:
        raise ParamsError(f"{path}: key 'code' is {params.code!r} but the file is for {code!r}")
    return params


def list_markets(params_dir: Path | None = None) -> list[str]:
    """Codes of every market with a params file, sorted."""
    folder = Path(params_dir or config.PARAMS_DIR) / "markets"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_reports(params_dir: Path | None = None) -> ReportsParams:
    path = Path(params_dir or config.PARAMS_DIR) / "reports.yaml"
    data = _read_yaml(path)
    try:
        return ReportsParams(**data)
    except ValidationError as exc:
        raise _explain(path, exc) from None


@cache
def market_timezone(code: str) -> str:
    """Time zone of a market from its params (cached; used for month bucketing)."""
    return load_market(code).timezone


# ------------------------------------------------------------------------------------------ proposals

# what a milestone may do to a creator (TikTok Shop's CHR steps; the default ladder's values)
RESTRICTIONS = (
    "traffic_limited",
    "commission_withheld",
    "ecommerce_suspended",
    "ecommerce_permanently_removed",
)
# operating rules the market params do not hold (the "current" side of a simulation when a proposal
# does not override them): the signal's operating threshold (signal evaluation report), no review band,
# and the notice-handling SLA target
CURRENT_AUTO_ACTION_THRESHOLD = 0.5
CURRENT_NOTICE_SLA_HOURS = 24.0
_Restriction = Literal[RESTRICTIONS]  # type: ignore[valid-type]
_Action = Literal[ACTION_TYPES]  # type: ignore[valid-type]
_Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
_Reporter = Literal[("default", *REPORTER_TYPES)]  # type: ignore[valid-type]
_Threshold = Annotated[float, Field(ge=0.0, le=1.0)]
_Days = Annotated[int, Field(ge=1, le=730)]


class ProposalHealth(_Strict):
    """Overrides of the health score: unset keys keep the market's :class:`HealthSettings`."""

    deduction_window_days: _Days | None = None
    milestones: dict[Annotated[int, Field(ge=0)], _Restriction] | None = None
    repeat_policy_limit: Annotated[int, Field(ge=1, le=100)] | None = None
    repeat_policy_window_days: _Days | None = None
    # policy (or "default") -> severity -> health points deducted per action
    deductions: dict[str, dict[_Severity, Annotated[int, Field(ge=0, le=1000)]]] | None = None


class ProposalRewards(_Strict):
    """Reward eligibility: a reward is withheld below ``min_health`` or after a recent violation."""

    min_health: Annotated[int, Field(ge=0)] | None = None
    no_violation_days: _Days | None = None


class ProposalSignal(_Strict):
    """Thresholds of one signal, per content language (``default`` for the others).

    An item scoring at least ``auto_action`` is actioned automatically; one scoring at least
    ``review`` (and below ``auto_action``) goes to human review.
    """

    auto_action: dict[str, _Threshold] = Field(default_factory=dict)
    review: dict[str, _Threshold] = Field(default_factory=dict)

    @field_validator("auto_action", "review")
    @classmethod
    def _languages(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k != "default" and not (len(k) == 2 and k.isalpha() and k.islower())]
        if bad:
            raise ValueError(f"keys must be 'default' or ISO 639-1 language codes such as 'de', got {bad}")
        return v


class Proposal(_Strict):
    """A proposed rule set (``params/proposals/<name>.yaml``, ``docs/simulation.md``).

    Anything not given keeps the market's current setting, so a proposal that only names
    itself replays the current rules.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    market: str | None = None  # when given, the proposal is for this market only
    description: str = ""
    health: ProposalHealth = ProposalHealth()
    # offence number of a creator -> the least harsh action taken from that offence on
    penalty_ladder: dict[Annotated[int, Field(ge=1, le=100)], _Action] | None = None
    rewards: ProposalRewards | None = None
    signals: dict[str, ProposalSignal] | None = None
    notice_sla_hours: dict[_Reporter, Annotated[float, Field(gt=0, le=8760)]] | None = None

    @model_validator(mode="after")
    def _review_below_auto(self) -> Proposal:
        for name, sig in (self.signals or {}).items():
            for lang, r in sig.review.items():
                auto = sig.auto_action.get(
                    lang, sig.auto_action.get("default", CURRENT_AUTO_ACTION_THRESHOLD)
                )
                if r > auto:
                    raise ValueError(
                        f"signals.{name}.review.{lang}: review threshold {r} is above the auto-action threshold {auto}"
                    )
        return self


def _check_proposal_for_market(path: Path, prop: Proposal, market: MarketParams) -> None:
    """Checks that need the market: its code, its policies, its score range."""
    problems = []
    if prop.market is not None and prop.market != market.code:
        problems.append(f"{path}: key 'market' is {prop.market!r} but the simulation is for {market.code!r}")
    known = {*POLICY_DSA_CATEGORY, *market.local_policies, "default"}
    for pol in prop.health.deductions or {}:
        if pol not in known:
            problems.append(
                f"{path}: key 'health.deductions.{pol}': policy {pol!r} is not in the contract's taxonomy nor a "
                f"local policy of {market.code} (use 'default' or one of: {', '.join(sorted(known - {'default'}))})"
            )
    for m in prop.health.milestones or {}:
        if m > market.health.max_score:
            problems.append(
                f"{path}: key 'health.milestones.{m}': threshold {m} is outside 0..{market.health.max_score} "
                f"(the market's max_score)"
            )
    if (
        prop.rewards
        and prop.rewards.min_health is not None
        and prop.rewards.min_health > market.health.max_score
    ):
        problems.append(
            f"{path}: key 'rewards.min_health': {prop.rewards.min_health} is outside 0..{market.health.max_score}"
        )
    if problems:
        raise ParamsError("\n".join(problems))


def load_proposal(path: str | Path, market: MarketParams | None = None) -> Proposal:
    """A validated proposal file; with ``market``, also checked against that market.

    Raises
    ------
    ParamsError
        Naming the file and the key: an unknown key, a value out of range (a threshold outside
        0..1, a milestone outside the market's score range), a policy neither in the contract
        nor a local policy of the market, a proposal for another market.
    """
    path = Path(path)
    data = _read_yaml(path)
    try:
        prop = Proposal(**data)
    except ValidationError as exc:
        raise _explain(path, exc) from None
    if market is not None:
        _check_proposal_for_market(path, prop, market)
    return prop
