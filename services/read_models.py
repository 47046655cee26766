"""Read models: what the terminal and Slack show, already computed.

The service layer fills these from the database and the scoring results; renderers (CLI
text, Block Kit builders, Jinja2 templates) only format them. That is what lets the Slack
message builders be pure functions tested with no database and no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SignalView:
    id: int
    type: str  # one of config.SIGNAL_TYPES
    label: str  # "Revenue at risk"
    priority: float
    reason: str  # one line: why this signal is open
    evidence: dict[str, Any]
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
    # Never seen in the product (scanned, no event ever): no health score, shown "not active yet".
    not_active: bool = False


@dataclass(frozen=True)
class SummaryCards:
    orgs_with_signals: int
    # MRR of orgs holding an active risk signal: Revenue at risk, Usage drop, or Inactive paying
    # for an org that was active before. Orgs not active yet are onboarding, not at risk.
    mrr_at_risk: float
    opened_this_week: int
    resolved_this_week: int
    scanned_at: dt.datetime | None
    net_new_mrr_this_week: float | None = None
    active_signals: int = 0
    # MRR of orgs whose only open work is getting started: not active yet (Inactive paying,
    # onboarding). Never part of mrr_at_risk.
    onboarding_mrr: float = 0.0


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
class NoteView:
    """A person's note on an org."""

    id: int
    author: str  # Slack user id, or the CLI's actor
    text: str
    created_at: dt.datetime
    via: str  # slack | cli


@dataclass(frozen=True)
class OwnerView:
    """Who owns the org and where that comes from: a person's assignment wins over the import."""

    owner: str | None  # the owner in force
    source: str | None  # "assigned" | "import" | None (nobody)
    imported: str | None  # what the CSV import says, whatever is in force
    assigned_by: str | None = None
    assigned_at: dt.datetime | None = None


@dataclass(frozen=True)
class HealthMove:
    """Why the health score moved since the previous scan: the data, the configuration, or both."""

    cause: str  # "data" | "configuration" | "data and configuration"
    changes: tuple[str, ...] = ()  # configuration keys that changed, "health.weights.activity 30 → 40"
    changed_by: str | None = None  # who first scanned with the new configuration
    changed_at: dt.datetime | None = None
    # Points of the move due to the configuration, when it can be told apart (a change of
    # health weights only: the previous scan's component scores re-weighted); None otherwise.
    config_points: float | None = None


@dataclass(frozen=True)
class PlaybookView:
    """How to read a case or a signal type, and what to do next."""

    kind: str  # "case" | "signal"
    key: str  # risk | revenue_at_risk | …
    title: str
    read: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class ReviewStatus:
    """An account's review cadence: its tier's interval and when it was last reviewed."""

    tier: str
    interval_days: int
    last_review: dt.datetime | None  # the latest note or case tag; None: never reviewed
    due_on: dt.date | None  # last review + interval; None when never reviewed (due now)
    due: bool


@dataclass(frozen=True)
class ReviewDue:
    """An account in the digest's "review due" list."""

    org_id: str
    name: str
    tier: str
    interval_days: int
    mrr: float
    owner: str | None
    last_review: dt.datetime | None  # None: never reviewed
    overdue_days: int | None  # days past the due date; None when never reviewed


@dataclass(frozen=True)
class TierMove:
    """An org whose tier changed over the month, with the inputs that moved most."""

    org_id: str
    name: str
    before: str | None  # "Tier 3"; None when it had no tier then
    after: str
    priority_before: float | None
    priority_after: float | None
    why: tuple[str, ...]  # "revenue 45 → 80", at most three, largest change first


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
    # The last day of each of the usage_weeks (oldest first) and the health score at the end
    # of that week (its latest daily snapshot; None for a week without one).
    week_ends: tuple[dt.date, ...] = ()
    health_weeks: tuple[float | None, ...] = ()
    health_move: HealthMove | None = None  # why health moved since the previous scan
    notes: tuple[NoteView, ...] = ()  # newest first, at most NOTES_SHOWN
    notes_total: int = 0
    owner: OwnerView | None = None
    playbooks: tuple[PlaybookView, ...] = ()  # the case's first, then one per open signal type
    review: ReviewStatus | None = None


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
    # Total MRR at the end of each of the last 12 months (the current month: today), oldest
    # first, keyed by the month's first day; () without subscriptions.
    mrr_trend: tuple[tuple[dt.date, float], ...] = ()
    reviews_due: tuple[ReviewDue, ...] = ()  # the first review.digest_due_shown
    reviews_due_total: int = 0
    # Orgs that moved tier over the month, in the first digest of each month; None in the others.
    tier_moves: tuple[TierMove, ...] | None = None
    tier_moves_total: int = 0
    tier_moves_since: dt.date | None = None

    @property
    def all_clear(self) -> bool:
        return self.total == 0


@dataclass(frozen=True)
class AuditEntry:
    """One change a person made: a tag, a dismissal, a snooze or its undoing, a note, an
    assignment."""

    at: dt.datetime
    actor: str
    action: str  # tag | dismiss | snooze | restore | note | assign
    org_id: str | None
    signal_id: int | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    via: str  # slack | cli

