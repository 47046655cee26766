"""Read models: what the terminal and Slack show, already computed.

The service layer fills these from the database and the scoring results; renderers (CLI
text, Block Kit builders, Jinja2 templates) only format them. That is what lets the Slack
message builders be pure functions tested with no database and no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SignalView:
    id: int
    type: str  # one of config.SIGNAL_TYPES
    label: str  # "Revenue at risk"
    priority: float
    reason: str  # one line: why this signal is open
    evidence: dict[str, object]
    status: str
    opened_at: dt.datetime
    suggested_case: str | None = None
    snoozed_until: dt.datetime | None = None


@dataclass(frozen=True)
class OrgItem:
    """One org in a ranked list (/signals, digest, alerts, App Home)."""

    org_id: str
    name: str
    owner: str | None
    mrr: float
    health: float | None
    band: str | None
    # Health change since the previous scan's snapshot; None when there is none.
    health_delta: float | None
    last_seen: dt.datetime | None
    priority: float
    signals: tuple[SignalView, ...]
    reason: str  # the top signal's reason
    case_type: str | None = None  # set by a person
    case_by: str | None = None
    case_at: dt.datetime | None = None
    case_suggested: str | None = None  # from signals and revenue, until a person tags


@dataclass(frozen=True)
class SummaryCards:
    orgs_with_signals: int
    mrr_at_risk: float  # MRR of orgs with an active risk-type signal
    opened_this_week: int
    resolved_this_week: int
    scanned_at: dt.datetime | None
    net_new_mrr_this_week: float | None = None
    active_signals: int = 0


@dataclass(frozen=True)
class CellView:
    """One cell of the Revenue x Health grid."""

    key: str  # revenue_at_risk | champions | watch | expansion
    label: str  # "Revenue at risk"
    org_count: int
    mrr: float


@dataclass(frozen=True)
class ComponentView:
    name: str  # activity
    label: str  # Activity
    value: float | None  # raw input (e.g. 12 active days, 0.83 utilization)
    value_text: str  # "12 of 28 days active"
    score: float | None  # 0-100, None when left out
    weight: float | None  # effective weight after re-normalization (percent), None when left out
    contribution: float | None  # points of the health score
    left_out: bool = False


@dataclass(frozen=True)
class SubscriptionView:
    subscription_id: str
    product: str | None
    plan: str | None
    mrr: float
    status: str
    started_at: dt.date
    ended_at: dt.date | None
    counts_now: bool  # part of current MRR


@dataclass(frozen=True)
class OrgDetail:
    item: OrgItem
    domain: str | None
    plan: str | None
    seats: int | None
    created_at: dt.datetime | None
    components: tuple[ComponentView, ...]
    # What moved since the previous scan: (component label, points of score change).
    moved: tuple[tuple[str, float], ...]
    # Events per week, oldest first, last 12 weeks ending at the scan.
    usage_weeks: tuple[int, ...]
    subscriptions: tuple[SubscriptionView, ...]
    # Dates on which the org's MRR changed, with the new MRR, oldest first.
    mrr_history: tuple[tuple[dt.date, float], ...]
    renewal_date: dt.date | None = None
    cell: str | None = None  # Revenue x Health cell label
    tier: str | None = None  # "Tier 1"
    quadrant: str | None = None  # "Stars"
    extras: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Digest:
    application: str
    period: str  # ISO week of the scheduled local time: "2026-W48"
    scheduled_for: dt.datetime  # that scheduled time, in the digest's time zone
    now: dt.datetime
    week_start: dt.date  # the seven local days the "this week" revenue numbers cover
    week_end: dt.date
    cards: SummaryCards
    total_mrr: float | None  # None when no subscriptions are imported
    total_arr: float | None
    items: list[OrgItem]  # the top orgs by priority (slack.digest_top)
    total: int  # orgs with active signals, before the top-N cut
    cells: list[CellView]  # Revenue x Health, grid order
    unscored: int  # paying orgs in no cell yet (no health snapshot)

    @property
    def all_clear(self) -> bool:
        return self.total == 0


@dataclass(frozen=True)
class AuditEntry:
    """One change a person made: a tag, a dismissal, a snooze or its undoing."""

    at: dt.datetime
    actor: str
    action: str  # tag | dismiss | snooze | restore
    org_id: str | None
    signal_id: int | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    via: str  # slack | cli

