"""Every threshold, weight, window and default of the product, in one place.

Each number is a *default* a deployment may change, so they all live here as dataclass
defaults and are overridden from one TOML file (``saas-tracker.toml``). Loading is
strict on purpose: a misspelt key silently falling back to a default would change who shows
up at the top of Monday's digest without anyone noticing, so unknown keys and out-of-range
values stop the program at start with the key's dotted name.

Secrets (Slack tokens, the database URL) never come from this file: see ``Secrets``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from domain.vocabulary import (
    DEFAULT_APPLICATION,
    REVENUE_AT_RISK,
    USAGE_DROP,
    INACTIVE_PAYING,
    EXPANSION_CANDIDATE,
    SIGNAL_TYPES,
    HEALTH_COMPONENTS,
    SEVERITIES,
    CASE_TYPES,
    TIERS,
)

DEFAULT_CONFIG_PATH = "saas-tracker.toml"
DEFAULT_DATABASE_URL = "sqlite:///saas-tracker.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"



class ConfigError(ValueError):
    """A configuration file that can't be trusted; the message names the key."""


def _rng(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True)
class ScanConfig:
    recent_window_days: int = field(default=14, metadata=_rng(1, 365))
    activity_window_days: int = field(default=28, metadata=_rng(1, 365))
    # Active days in the activity window that earn a full activity score: B2B teams work
    # weekdays, so 20 of 28 days is "every working day".
    activity_full_days: int = field(default=20, metadata=_rng(1, 365))
    interval_hours: float = field(default=6.0, metadata=_rng(0.1, 24 * 7))
    sentiment_lookback_days: int = field(default=180, metadata=_rng(1, 3650))


@dataclass(frozen=True)
class HealthConfig:
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "activity": 30.0,
            "breadth": 20.0,
            "seat_utilization": 20.0,
            "trend": 15.0,
            "support": 10.0,
            "sentiment": 5.0,
        }
    )
    red_below: float = field(default=40.0, metadata=_rng(0, 100))
    green_from: float = field(default=70.0, metadata=_rng(0, 100))
    trend_floor: float = field(default=-0.5, metadata=_rng(-1, 0))
    trend_ceiling: float = field(default=0.5, metadata=_rng(0, 100))
    key_features: list[str] = field(default_factory=list)
    severity_penalty: dict[str, float] = field(
        default_factory=lambda: {"p1": 40.0, "p2": 20.0, "p3": 10.0, "p4": 5.0}
    )


@dataclass(frozen=True)
class SignalsConfig:
    revenue_at_risk_health_below: float = field(default=40.0, metadata=_rng(0, 100))
    # Renewal at risk, a condition of Revenue at risk: a renewal_date within
    # renewal_window_days, with health below renewal_health_below (the Revenue × Health split:
    # yellow below 60 is not red, but not a renewal to walk into unprepared) or health that
    # fell by renewal_health_fall_points or more over the last renewal_fall_days days.
    renewal_window_days: int = field(default=90, metadata=_rng(1, 3650))
    renewal_health_below: float = field(default=60.0, metadata=_rng(0, 100))
    renewal_health_fall_points: float = field(default=10.0, metadata=_rng(0, 100))
    renewal_fall_days: int = field(default=28, metadata=_rng(1, 365))
    # Key account slipping, a condition of Revenue at risk: an org paying at least the revenue
    # reference (the MRR at which priority's revenue term is one half: by default the paying
    # orgs' 90th percentile) whose health is below key_account_health_below. A lower-yellow
    # health is worth a call when a top-decile account's money rides on it; for a small
    # account it is not yet. 0 turns the condition off.
    key_account_health_below: float = field(default=45.0, metadata=_rng(0, 100))
    usage_drop_change_at_most: float = field(default=-0.40, metadata=_rng(-1, 0))
    usage_drop_min_previous_events: int = field(default=20, metadata=_rng(0, None))
    # Sustained decline, a second way to a Usage drop: over the last usage_decline_weeks
    # weeks, the typical (median) week of the last usage_decline_compare_weeks weeks against
    # the typical week of the first ones. A fall spread over a quarter looks the same from one
    # fortnight to the next, yet a person sees it at once in the 12-week chart; medians keep
    # one unusual week (a batch import, a holiday, today's partial day) from making or
    # hiding a decline. The earlier typical week needs usage_decline_min_weekly_events (10
    # a week, the fortnight rule's 20 previous events).
    usage_decline_weeks: int = field(default=12, metadata=_rng(4, 13))
    usage_decline_compare_weeks: int = field(default=4, metadata=_rng(1, 6))
    usage_decline_change_at_most: float = field(default=-0.40, metadata=_rng(-1, 0))
    usage_decline_min_weekly_events: float = field(default=10.0, metadata=_rng(0, None))
    inactive_days: int = field(default=14, metadata=_rng(1, 3650))
    # Champion gone quiet (said in the drivers and in every signal's evidence): one of the
    # org's champion_top_users most active users of the previous window, each with at least
    # champion_min_share of its events, has no event in the recent window while others carry
    # on, in an org with at least champion_min_previous_events previous events.
    champion_top_users: int = field(default=3, metadata=_rng(1, 20))
    champion_min_share: float = field(default=0.15, metadata=_rng(0, 1))
    champion_min_previous_events: int = field(default=20, metadata=_rng(0, None))
    expansion_health_from: float = field(default=70.0, metadata=_rng(0, 100))
    expansion_growth_from: float = field(default=0.20, metadata=_rng(0, 100))
    expansion_seat_utilization_from: float = field(default=0.90, metadata=_rng(0, 10))
    # Minimum evidence for an Expansion candidate, as Usage drop has one for a fall: growth
    # counts only from this many events in the previous window (a small team's +20 % is then
    # at least six more events, not four), and either path (growth or full seats) needs this
    # many active users in the recent window: one user going from 20 to 24 events is noise,
    # not a team outgrowing its plan.
    expansion_min_previous_events: int = field(default=30, metadata=_rng(0, None))
    expansion_min_active_users: int = field(default=3, metadata=_rng(0, None))


@dataclass(frozen=True)
class PriorityConfig:
    # The revenue term is measured against the customer base's own scale: the MRR at which
    # it is worth half its points (the *revenue reference*) is, by default, this percentile
    # of the application's paying orgs' MRR at the scan — the 90th: an account paying like
    # your top tenth gets half the revenue points, your biggest accounts nearly all of them,
    # whether the median customer pays $100 or $10,000.
    revenue_half_percentile: float = field(default=90.0, metadata=_rng(1, 100))
    # An absolute override of that reference (MRR at which the revenue term is one half);
    # 0, the default, means "use revenue_half_percentile".
    revenue_half_mrr: float = field(default=0.0, metadata=_rng(0, None))
    # How the revenue term grows with MRR: r = m^c / (m^c + reference^c). With c = 1, the
    # default, r = m / (m + reference): half the revenue points at the reference, a tenth of
    # them at a ninth of it, nearly all at ten times it (on the demo data +16 points from
    # $100 to $1k, +20 from $1k to $10k). Below 1 the points spread more evenly over the
    # decades, for a base whose biggest accounts pay a hundred times its reference.
    revenue_curve: float = field(default=1.0, metadata=_rng(0.05, 5))
    type_weight: dict[str, float] = field(
        default_factory=lambda: {
            REVENUE_AT_RISK: 1.0,
            INACTIVE_PAYING: 0.95,
            USAGE_DROP: 0.9,
            EXPANSION_CANDIDATE: 0.8,
        }
    )
    base_points: float = field(default=20.0, metadata=_rng(0, 100))
    # Severity is raised to this power before it earns points (1 = linear). Below 1 the first
    # steps past a threshold count most: health 20 is already serious, not "half of health 0".
    severity_curve: float = field(default=0.5, metadata=_rng(0.05, 5))
    severity_points: float = field(default=35.0, metadata=_rng(0, 100))
    revenue_points: float = field(default=45.0, metadata=_rng(0, 100))
    # Severity saturates smoothly, x / (x + half): it keeps rising with the strength of the
    # condition but never passes 1. Inactive paying: days of silence beyond
    # signals.inactive_days at which severity is one half.
    inactive_half_days: float = field(default=14.0, metadata=_rng(0.1, None))
    # Expansion: growth beyond signals.expansion_growth_from, and seat utilization beyond
    # signals.expansion_seat_utilization_from, at which that part of severity is one half.
    expansion_growth_half: float = field(default=0.25, metadata=_rng(0.001, None))
    expansion_utilization_half: float = field(default=0.10, metadata=_rng(0.001, None))
    # Payment past due, a condition of Revenue at risk: its severity when all of the org's
    # MRR is past due (scaled by the past-due share). 0.5 weighs like health 20 against the
    # 40 threshold: failed payments turn into churn without anyone deciding to leave.
    past_due_severity: float = field(default=0.5, metadata=_rng(0, 1))


@dataclass(frozen=True)
class SegmentsConfig:
    # 0 means "split MRR at the application's median MRR of paying orgs".
    mrr_split_amount: float = field(default=0.0, metadata=_rng(0, None))
    health_split: float = field(default=60.0, metadata=_rng(0, 100))


@dataclass(frozen=True)
class TiersConfig:
    mode: str = field(default="balanced", metadata={"choices": ("balanced", "retention", "growth")})
    mode_weight: dict[str, float] = field(
        default_factory=lambda: {"balanced": 0.5, "retention": 0.7, "growth": 0.3}
    )
    value_weights: dict[str, float] = field(
        default_factory=lambda: {"revenue": 40.0, "tenure": 15.0, "engagement": 20.0, "strategic": 25.0}
    )
    potential_weights: dict[str, float] = field(
        default_factory=lambda: {"expansion": 35.0, "fit": 25.0, "relationship": 20.0, "timing": 20.0}
    )
    quadrant_split: float = field(default=50.0, metadata=_rng(0, 100))
    tier1_from: float = field(default=80.0, metadata=_rng(0, 100))
    tier2_from: float = field(default=60.0, metadata=_rng(0, 100))
    tier3_from: float = field(default=40.0, metadata=_rng(0, 100))
    # Tenure that earns full tenure value, and how close a renewal must be to count as timing.
    tenure_full_days: int = field(default=730, metadata=_rng(1, None))
    renewal_horizon_days: int = field(default=90, metadata=_rng(1, None))
    # A missing tier input counts as the median of the orgs that have it (when at least ten
    # do), else as this score: halfway, neither good nor bad.
    missing_input_score: float = field(default=50.0, metadata=_rng(0, 100))


@dataclass(frozen=True)
class BacktestConfig:
    # Defaults of `saas-tracker backtest` and `calibrate` (docs/backtest.md).
    every_days: int = field(default=7, metadata=_rng(1, 365))
    horizon_days: int = field(default=60, metadata=_rng(7, 730))
    # An org "expanded" when its MRR at the horizon's end is at least this much above its MRR
    # on the as-of day (0.10 = +10 %); "contracted" when below it but not zero; "churned" at 0.
    expansion_threshold: float = field(default=0.10, metadata=_rng(0.0, 10.0))
    # Fewer churns than this in the scored period and a figure is "too few to tell".
    min_churns: int = field(default=5, metadata=_rng(1, 10000))
    # Calibrate fits on about this share of the observations (the earliest as-of days).
    train_fraction: float = field(default=0.6, metadata=_rng(0.1, 0.9))


@dataclass(frozen=True)
class SlackConfig:
    api_url: str = DEFAULT_SLACK_API_URL
    # The address `serve --http` listens on when --host is not given. 0.0.0.0 is every
    # network interface: other machines can reach the port (a load balancer must); use
    # 127.0.0.1 for this machine only, e.g. behind a reverse proxy on the same host.
    http_host: str = "0.0.0.0"
    digest_channel: str = "#customer-success"
    # Empty means "the digest channel".
    alerts_channel: str = ""
    digest_day: str = field(
        default="mon", metadata={"choices": ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    digest_time: str = "09:00"
    timezone: str = "Europe/London"
    digest_top: int = field(default=10, metadata=_rng(1, 25))
    digest_grace_hours: float = field(default=12.0, metadata=_rng(0, 24 * 6))
    signals_default_top: int = field(default=10, metadata=_rng(1, 25))
    signals_max_top: int = field(default=25, metadata=_rng(1, 25))
    alert_priority_threshold: float = field(default=80.0, metadata=_rng(0, 100))
    alert_group_over: int = field(default=5, metadata=_rng(1, 50))
    alert_mrr_floor: float = field(default=0.0, metadata=_rng(0, None))
    # Delivery (outbox and digest). The outbox is flushed after every scan and every
    # outbox_flush_minutes, so a retry waits at most this long past its due time.
    outbox_flush_minutes: float = field(default=2.0, metadata=_rng(0.1, 60))
    # A row claimed for sending stays 'sending' this long at most: past it, the next flush
    # presumes its sender died (crash, kill -9) and sends it again, after checking the
    # channel for the message first. Longer than any one Slack call with its retries.
    outbox_lease_minutes: float = field(default=10.0, metadata=_rng(1, 24 * 60))
    # Exponential backoff for a retryable failure: base × 2^(attempt − 1), capped; Slack's
    # Retry-After wins when it is longer. After delivery_max_attempts the row is failed.
    delivery_backoff_seconds: float = field(default=30.0, metadata=_rng(0, 3600))
    delivery_backoff_max_seconds: float = field(default=3600.0, metadata=_rng(1, 24 * 3600))
    delivery_max_attempts: int = field(default=10, metadata=_rng(1, 100))
    # The digest is retried in-process this many times (short backoff) before its claim
    # is released for the next run; see digest_claim_stale_minutes.
    digest_post_attempts: int = field(default=3, metadata=_rng(1, 10))
    digest_retry_seconds: float = field(default=5.0, metadata=_rng(0, 300))
    # A digest claim still 'claimed' after this long belongs to a poster that crashed: the
    # next run (within digest_grace_hours) may take it over. Longer than any in-process retry.
    digest_claim_stale_minutes: float = field(default=15.0, metadata=_rng(1, 24 * 60))
    # Charts (PNG, uploaded with files:write) in /org, the org modal and the digest. Off: text
    # only, no upload is tried. A failed upload never stops a message either way.
    charts: bool = True
    # Empty lists mean "anyone in the workspace may tag, dismiss, snooze, note and assign".
    authorized_users: list[str] = field(default_factory=list)
    authorized_usergroups: list[str] = field(default_factory=list)


# Longest playbook texts Slack messages and the terminal show in full.
PLAYBOOK_TITLE_MAX = 80
PLAYBOOK_READ_MAX = 500
PLAYBOOK_STEP_MAX = 200
PLAYBOOK_STEPS_MAX = 8


@dataclass(frozen=True)
class Playbook:
    """How to read one signal type or case type, and the recommended next steps.

    The defaults below are the team's starting point (docs/playbooks.md); a deployment
    rewrites any of them under ``[playbooks.<name>]`` in its configuration file, and only
    the keys it names change.
    """

    title: str = field(default="", metadata={"max_len": PLAYBOOK_TITLE_MAX})
    read: str = field(default="", metadata={"max_len": PLAYBOOK_READ_MAX})
    steps: list[str] = field(default_factory=list, metadata={"max_len": PLAYBOOK_STEP_MAX,
                                                             "max_items": PLAYBOOK_STEPS_MAX})

    @property
    def next_step(self) -> str | None:
        """The first recommended step: what a list item shows in one line."""
        return self.steps[0] if self.steps else None


@dataclass(frozen=True)
class PlaybooksConfig:
    """One playbook per case type (what to do) and per signal type (how to read it)."""

    risk: Playbook = field(default_factory=lambda: Playbook(
        title="Urgent retention",
        read="Revenue is at stake: a paying account that is unhealthy, quieter or using less. Act this week.",
        steps=[
            "Reach the champion and the economic buyer this week",
            "Find the cause: usage, support or value",
            "Agree a recovery plan with dates, and note it here",
        ],
    ))
    onboarding: Playbook = field(default_factory=lambda: Playbook(
        title="Activation",
        read="The account pays but has not started using the product: getting it live is the work.",
        steps=[
            "Hold a kickoff call",
            "Get the admin set up",
            "First key feature used within 14 days",
            "Train the team",
        ],
    ))
    expansion: Playbook = field(default_factory=lambda: Playbook(
        title="Growth",
        read="A healthy account with room to grow: talk about value before it hits its limits.",
        steps=[
            "Book a QBR or an upsell call",
            "Show their usage and the value it brings",
            "Propose more seats or a plan upgrade",
        ],
    ))
    revenue_at_risk: Playbook = field(default_factory=lambda: Playbook(
        title="Revenue at risk",
        read="Low health on a paying account: the health drivers say what is weak, the MRR says how much is at stake.",
        steps=[
            "Check which health drivers are weakest",
            "Call the champion this week and ask what is in the way",
        ],
    ))
    usage_drop: Playbook = field(default_factory=lambda: Playbook(
        title="Usage drop",
        read="Usage fell sharply against the previous weeks: something changed at the customer.",
        steps=[
            "Ask what changed: team, project or a competitor",
            "Check open support tickets for a blocker",
        ],
    ))
    inactive_paying: Playbook = field(default_factory=lambda: Playbook(
        title="Inactive paying",
        read="Paying but silent: nobody has used the product for weeks.",
        steps=[
            "Confirm the contact still owns the tool",
            "Offer a short session to get the team back in",
        ],
    ))
    expansion_candidate: Playbook = field(default_factory=lambda: Playbook(
        title="Expansion candidate",
        read="Healthy and growing, or at seat capacity: a natural moment to talk about more.",
        steps=[
            "Check seat utilization and usage growth",
            "Hand over to the account owner for a growth conversation",
        ],
    ))

    def for_case(self, case_type: str | None) -> Playbook | None:
        """The playbook of a case type (risk, onboarding, expansion); None for no case."""
        return getattr(self, case_type) if case_type in CASE_TYPES else None

    def for_signal(self, signal_type: str) -> Playbook | None:
        """The playbook of a signal type (revenue_at_risk, …); None for an unknown type."""
        return getattr(self, signal_type) if signal_type in SIGNAL_TYPES else None


@dataclass(frozen=True)
class ReviewConfig:
    """How often an account of each tier is reviewed: a note or a case tag within the
    interval counts as a review; the digest lists the accounts whose review is due."""

    tier1_days: int = field(default=7, metadata=_rng(1, 366))
    tier2_days: int = field(default=14, metadata=_rng(1, 366))
    tier3_days: int = field(default=30, metadata=_rng(1, 366))
    tier4_days: int = field(default=90, metadata=_rng(1, 366))
    # Accounts whose review is due, listed in the digest (the rest are counted).
    digest_due_shown: int = field(default=10, metadata=_rng(0, 25))
    # Orgs that moved tier, listed in the first digest of each month (the rest are counted).
    digest_tier_moves_shown: int = field(default=10, metadata=_rng(0, 25))

    def interval_days(self, tier: str) -> int | None:
        """The review interval of "Tier 1" … "Tier 4"; None for anything else."""
        if tier not in TIERS:
            return None
        return int(getattr(self, f"tier{TIERS.index(tier) + 1}_days"))


@dataclass(frozen=True)
class Config:
    application: str = DEFAULT_APPLICATION
    # One reporting currency per deployment; amounts are never converted, only its symbol is shown.
    currency_symbol: str = "$"
    scan: ScanConfig = field(default_factory=ScanConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    tiers: TiersConfig = field(default_factory=TiersConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    playbooks: PlaybooksConfig = field(default_factory=PlaybooksConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)


# Keys a dict-valued setting may hold; anything else is a typo worth stopping for.
_DICT_KEYS: dict[str, tuple[str, ...]] = {
    "health.weights": HEALTH_COMPONENTS,
    "health.severity_penalty": SEVERITIES,
    "priority.type_weight": SIGNAL_TYPES,
    "tiers.mode_weight": ("balanced", "retention", "growth"),
    "tiers.value_weights": ("revenue", "tenure", "engagement", "strategic"),
    "tiers.potential_weights": ("expansion", "fit", "relationship", "timing"),
}


def _check_scalar(name: str, value: Any, typ: Any, meta: dict[str, Any]) -> Any:
    raw = value
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        value = float(value)
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected text, got {value!r}")
    max_len = meta.get("max_len")
    if max_len is not None and len(value) > max_len:
        raise ConfigError(f"{name}: {len(value)} characters, more than the {max_len} allowed")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise ConfigError(f"{name}: {raw!r} is below the minimum {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{name}: {raw!r} is above the maximum {hi}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str, base: Any = None) -> Any:
    """`cls` from a TOML table: the keys it names over `base` (default: the class defaults).

    A nested table starts from its parent's default value, so `[playbooks.risk]` with only
    `steps` keeps the default title and text of the risk playbook.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a table")
    base = base if base is not None else cls()
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{name}: unknown setting")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        typ = hints[key]
        meta = dict(fields[key].metadata)
        if dataclasses.is_dataclass(typ):
            kwargs[key] = _build(typ, value, name, getattr(base, key))  # type: ignore[arg-type]
        elif get_origin(typ) is dict:
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: expected a table")
            allowed = _DICT_KEYS.get(name)
            merged = dict(getattr(base, key))
            for sub, subval in value.items():
                if allowed and sub not in allowed:
                    raise ConfigError(f"{name}.{sub}: unknown key (expected one of {', '.join(allowed)})")
                merged[sub] = _check_scalar(f"{name}.{sub}", subval, float, {"min": 0})
            kwargs[key] = merged
        elif get_origin(typ) is list:
            (item_type,) = get_args(typ)
            if not isinstance(value, list):
                raise ConfigError(f"{name}: expected a list")
            max_items = meta.pop("max_items", None)
            if max_items is not None and len(value) > max_items:
                raise ConfigError(f"{name}: {len(value)} items, more than the {max_items} allowed")
            kwargs[key] = [_check_scalar(f"{name}[{i}]", v, item_type, meta) for i, v in enumerate(value)]
        else:
            kwargs[key] = _check_scalar(name, value, typ, meta)
    return dataclasses.replace(base, **kwargs)


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _is_host(value: str) -> bool:
    """An IPv4/IPv6 address or a DNS host name ("0.0.0.0", "::", "localhost", "bot.internal")."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    return 0 < len(value) <= 253 and all(_HOST_LABEL.match(label) for label in value.rstrip(".").split("."))


def _check_consistency(cfg: Config) -> None:
    if cfg.health.red_below > cfg.health.green_from:
        raise ConfigError("health.red_below: must not be above health.green_from")
    if sum(cfg.health.weights.values()) <= 0:
        raise ConfigError("health.weights: at least one weight must be positive")
    if 2 * cfg.signals.usage_decline_compare_weeks > cfg.signals.usage_decline_weeks:
        raise ConfigError("signals.usage_decline_compare_weeks: the first and last weeks compared must not "
                          "overlap (at most half of signals.usage_decline_weeks)")
    t = cfg.tiers
    if not (t.tier3_from <= t.tier2_from <= t.tier1_from):
        raise ConfigError("tiers.tier1_from: tier thresholds must satisfy tier3 <= tier2 <= tier1")
    for key, weight in t.mode_weight.items():
        if weight > 1:
            raise ConfigError(f"tiers.mode_weight.{key}: {weight} is above the maximum 1")
    for f in dataclasses.fields(cfg.playbooks):
        for i, step in enumerate(getattr(cfg.playbooks, f.name).steps):
            if not step.strip():
                raise ConfigError(f"playbooks.{f.name}.steps[{i}]: a step must say something")
    hh, _, mm = cfg.slack.digest_time.partition(":")
    if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
        raise ConfigError(f"slack.digest_time: {cfg.slack.digest_time!r} is not HH:MM")
    if not _is_host(cfg.slack.http_host):
        raise ConfigError(f"slack.http_host: {cfg.slack.http_host!r} is not an IP address or host name")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(cfg.slack.timezone)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd strings
        raise ConfigError(f"slack.timezone: {cfg.slack.timezone!r} is not a known time zone") from exc


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a Config from parsed TOML, rejecting unknown keys and out-of-range values."""
    cfg = _build(Config, data, "")
    _check_consistency(cfg)
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration file; a missing default file means "all defaults"."""
    explicit = path is not None or "SAAS_TRACKER_CONFIG" in os.environ
    cfg_path = Path(path or os.environ.get("SAAS_TRACKER_CONFIG", DEFAULT_CONFIG_PATH))
    if not cfg_path.exists():
        if explicit:
            raise ConfigError(f"{cfg_path}: configuration file not found")
        return Config()
    try:
        data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: {exc}") from exc
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{cfg_path}: {exc}") from exc


@dataclass(frozen=True)
class Secrets:
    """What must never sit in a file: read from the environment only."""

    database_url: str
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str | None

    @classmethod
    def from_env(cls) -> "Secrets":
        return cls(
            database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            slack_bot_token=os.environ.get("SLACK_BOT_TOKEN"),
            slack_signing_secret=os.environ.get("SLACK_SIGNING_SECRET"),
            slack_app_token=os.environ.get("SLACK_APP_TOKEN"),
            slack_api_url=os.environ.get("SLACK_API_URL"),
        )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_table(name: str, value: Any) -> list[str]:
    """`[name]` with the table's own keys, then its nested tables (`[name.sub]`)."""
    lines = [f"[{name}]"]
    nested: list[str] = []
    for sub in dataclasses.fields(value):
        item = getattr(value, sub.name)
        if dataclasses.is_dataclass(item):
            nested += ["", *_toml_table(f"{name}.{sub.name}", item)]
        elif isinstance(item, list) and item and all(isinstance(v, str) for v in item) \
                and len(_toml_value(item)) > 80:
            lines.append(f"{sub.name} = [")  # long lists of text read better one item a line
            lines += [f"    {_toml_value(v)}," for v in item]
            lines.append("]")
        else:
            lines.append(f"{sub.name} = {_toml_value(item)}")
    if len(lines) == 1 and nested:  # a table of tables: no header of its own
        return nested[1:]
    return lines + nested


def config_to_toml(cfg: Config) -> str:
    """The configuration as a TOML file that loads back to the same Config.

    `saas-tracker config show` prints it; saas-tracker.example.toml is this for the defaults.
    """
    top, tables = [], []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            tables.append("\n".join(_toml_table(f.name, value)))
        else:
            top.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"
