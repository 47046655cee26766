"""The database schema, in SQLAlchemy 2 typed ORM style.

External ids (org_id, subscription_id, ticket_id) are the primary keys because they are what
the customer's billing and CRM exports carry: re-importing the same file must hit the same
rows, and a Slack button can carry the id a person will recognise.

Raw usage events are never kept: the import rolls them up into per-org daily tables, which is
all a scan reads. ``EventKeyBlock`` remembers which events were already counted so a re-import adds
nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timestamps are stored as naive UTC and handed back timezone-aware.

    SQLite has no time zones; storing naive UTC on both databases keeps comparisons and
    round-trips identical on SQLite and PostgreSQL.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


Money = Numeric(14, 2)


class Base(DeclarativeBase):
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
        Decimal: Money,
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    orgs: Mapped[list[Org]] = relationship(back_populates="application")


class Org(Base):
    __tablename__ = "orgs"

    org_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    domain: Mapped[str | None] = mapped_column(String(500), index=True)
    created_at: Mapped[dt.datetime | None]
    source: Mapped[str | None] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(320))
    plan: Mapped[str | None] = mapped_column(String(200))
    seats: Mapped[int | None]
    industry: Mapped[str | None] = mapped_column(String(200))
    renewal_date: Mapped[dt.date | None]
    icp_fit: Mapped[float | None] = mapped_column(Float)
    strategic: Mapped[float | None] = mapped_column(Float)
    relationship_score: Mapped[float | None] = mapped_column("relationship", Float)

    application: Mapped[Application] = relationship(back_populates="orgs")
    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="org")



# `/org acme` looks for the typed text as a name or domain in any case: an index each.
Index("ix_orgs_lower_name", func.lower(Org.name))
Index("ix_orgs_lower_domain", func.lower(Org.domain))
# Indexes on expressions, which Alembic's schema comparison can't match with what it reads back
# from PostgreSQL: checked by name instead (tests/test_migrations.py).
EXPRESSION_INDEXES = {"orgs": frozenset({"ix_orgs_lower_name", "ix_orgs_lower_domain"})}

class Subscription(Base):
    __tablename__ = "subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), index=True)
    mrr: Mapped[Decimal]
    started_at: Mapped[dt.date]
    ended_at: Mapped[dt.date | None]
    product: Mapped[str | None] = mapped_column(String(200))
    plan: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    currency: Mapped[str | None] = mapped_column(String(3))

    org: Mapped[Org] = relationship(back_populates="subscriptions")


# The rollup tables are written by the import in bulk (millions of rows) and read by org and
# day: on SQLite they are clustered on their primary key (WITHOUT ROWID: one B-tree instead of
# a table and an index). They have no foreign key to ``orgs``: the import refuses unknown orgs
# itself, before anything is written, so a per-row check would only slow the writing down.
ROLLUP_TABLE_ARGS = {"sqlite_with_rowid": False}


class UsageOrg(Base):
    """An org's number in the usage rollups. The rollups key their rows by numbers, not
    names: every row and index entry is shorter, so the import writes and indexes fewer
    bytes and the scan groups integers (``storage.usage_numbers`` gives the numbers)."""

    __tablename__ = "usage_orgs"

    org_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    org_id: Mapped[str] = mapped_column(String(200), unique=True)


class UsageUser(Base):
    """A user's number in the usage rollups: one per (org, user id), user ids being scoped by
    their org."""

    __tablename__ = "usage_users"
    __table_args__ = (UniqueConstraint("org_key", "user_id"),)

    user_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    org_key: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(200))


class UsageFeature(Base):
    """A feature's (event name's) number in the usage rollups."""

    __tablename__ = "usage_features"

    feature_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    feature: Mapped[str] = mapped_column(String(200), unique=True)


class UsageDaily(Base):
    """Per org and day: the rollup every scan reads instead of raw events."""

    __tablename__ = "usage_daily"
    __table_args__ = ROLLUP_TABLE_ARGS

    org_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    active_users: Mapped[int] = mapped_column(Integer, default=0)
    distinct_features: Mapped[int] = mapped_column(Integer, default=0)
    # Latest event time of that day: "last seen" without keeping raw events.
    last_event_at: Mapped[dt.datetime | None]


class UsageDailyUser(Base):
    """Who was active on a day: distinct users over a window can't be summed from days."""

    __tablename__ = "usage_daily_users"
    __table_args__ = ROLLUP_TABLE_ARGS

    org_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    user_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageDailyFeature(Base):
    """Which features were used on a day: breadth counts distinct key features per window."""

    __tablename__ = "usage_daily_features"
    __table_args__ = ROLLUP_TABLE_ARGS

    org_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    feature_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class EventKeyBlock(Base):
    """Up to ``KEY_BLOCK`` 63-bit event fingerprints (``storage.event_keys``), packed.

    One row per block of keys, not one per key: the keys are only ever read all together
    (a re-import's lookup joins the whole file against them), so a B-tree over ten million
    random numbers, built on every first import and grown on every later one, bought nothing
    but its cost. ``keys`` holds ``key_count`` keys in ascending order, each as 8 bytes
    big-endian, so the bytes of a block sort the way its numbers do.
    """

    __tablename__ = "event_key_blocks"

    block_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_count: Mapped[int] = mapped_column(Integer)
    keys: Mapped[bytes] = mapped_column(LargeBinary)


# The blocks are random numbers: PostgreSQL's TOAST would try to compress each one in vain.
event.listen(EventKeyBlock.__table__, "after_create",
             DDL('ALTER TABLE event_key_blocks ALTER COLUMN "keys" SET STORAGE EXTERNAL').execute_if(
                 dialect="postgresql"))


class SupportTicket(Base):
    __tablename__ = "support_tickets"

    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), index=True)
    opened_at: Mapped[dt.datetime]
    severity: Mapped[str] = mapped_column(String(2))
    closed_at: Mapped[dt.datetime | None]


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "responded_at", "score", name="uq_survey_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), index=True)
    score: Mapped[int]
    responded_at: Mapped[dt.datetime]
    # Empty user ids are stored as "" so the uniqueness above also holds for them.
    user_id: Mapped[str] = mapped_column(String(200), default="")


class ScanRun(Base):
    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    as_of: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    orgs_scanned: Mapped[int] = mapped_column(Integer, default=0)
    signals_opened: Mapped[int] = mapped_column(Integer, default=0)
    signals_updated: Mapped[int] = mapped_column(Integer, default=0)
    signals_resolved: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="running")
    # The configuration the scan ran with (None for scans made before it was recorded).
    config_version_id: Mapped[int | None] = mapped_column(ForeignKey("config_versions.id"))


class HealthSnapshot(Base):
    """One per org per day, the last scan of the day winning: the health timeline."""

    __tablename__ = "health_snapshots"
    __table_args__ = (UniqueConstraint("org_id", "day", name="uq_health_org_day"),)

    # No foreign keys (migration 0007): only a scan writes these rows, for the orgs it read in
    # the same transaction and its own run, and nothing deletes an org or a run; on PostgreSQL
    # checking both keys cost a 100k-org scan's COPY two trigger calls per row, seconds.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Looked up by org through uq_health_org_day, whose first column it is (migration 0008).
    org_id: Mapped[str] = mapped_column(String(200))
    day: Mapped[dt.date]
    scan_run_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(10))
    # {component: {"value": ..., "score": ..., "weight": ..., "contribution": ...}}
    components: Mapped[dict[str, Any]]
    # {component: score}, the scores of ``components`` again: what the next scan reads of
    # this one ("what moved") without parsing about 1 KB of JSON per org (migration 0009;
    # NULL on snapshots written before it, which are read from ``components``).
    component_scores: Mapped[dict[str, Any] | None]
    left_out: Mapped[list[Any]]
    mrr: Mapped[Decimal]
    last_seen: Mapped[dt.datetime | None]
    usage: Mapped[dict[str, Any]]


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        # At most one open signal per (org, type): the database enforces the episode rule.
        Index(
            "uq_signal_open_episode",
            "org_id",
            "type",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        # The summary cards' "opened / resolved this week": a range of each, not every signal.
        Index("ix_signals_app_opened", "application_id", "opened_at"),
        Index("ix_signals_app_resolved", "application_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    priority: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    suggested_case: Mapped[str | None] = mapped_column(String(20))
    opened_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    opened_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))
    dismissed_by: Mapped[str | None] = mapped_column(String(200))
    dismissed_at: Mapped[dt.datetime | None]
    snoozed_until: Mapped[dt.datetime | None]

    org: Mapped[Org] = relationship()


class OrgSegment(Base):
    """Each org's segments as the latest scan saw them, one row per org, replaced by every scan:
    its Revenue × Health cell, tier and quadrant (with the numbers behind them) and case
    suggestion as of the scan's day and configuration, and its latest snapshot's numbers the
    lists show. So `/org` reads one row and a cell or tier list one indexed query."""

    __tablename__ = "org_segments"
    __table_args__ = (
        Index("ix_org_segments_app_cell", "application_id", "cell"),
        Index("ix_org_segments_app_tier", "application_id", "tier"),
        # The lists' order, and (covering) the summary cards' sums over orgs with signals.
        Index("ix_org_segments_rank", "application_id", "top_priority", "snapshot_mrr", "org_id", "active_signals",
              "at_risk", "onboarding"),
    )

    # No foreign keys (migration 0007): every row is written by one scan, for the orgs it read
    # in the same transaction; checking them cost a 100k-org scan an index probe per row (on
    # PostgreSQL a trigger call per row of the COPY).
    org_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer)
    scan_run_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[dt.date]  # the day the segments are as of (the scan's UTC day)
    config_fingerprint: Mapped[str] = mapped_column(String(64))
    # The org's latest snapshot (this scan's) and the score of the one before it.
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(10))
    snapshot_mrr: Mapped[Decimal]
    last_seen: Mapped[dt.datetime | None]
    prev_score: Mapped[float | None] = mapped_column(Float)
    # Segments as of ``day``: MRR from the subscriptions on that day, cell, tier, case.
    mrr: Mapped[float] = mapped_column(Float)
    cell: Mapped[str | None] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(10))
    quadrant: Mapped[str | None] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    potential: Mapped[float | None] = mapped_column(Float)
    account_priority: Mapped[float | None] = mapped_column(Float)
    suggested_case: Mapped[str | None] = mapped_column(String(20))
    case_why: Mapped[str | None] = mapped_column(Text)
    # The org's place in the lists, over its active signals, kept by the scan and by every
    # dismiss, snooze or restore (``storage.org_segments.store_ranks``): its highest priority
    # (None: no active signal), how many, and whether one puts it at risk or only onboarding.
    top_priority: Mapped[float | None] = mapped_column(Float)
    active_signals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    at_risk: Mapped[bool] = mapped_column(default=False, server_default=false())
    onboarding: Mapped[bool] = mapped_column(default=False, server_default=false())


class CaseTag(Base):
    """A person's case type for an org; wins over the suggestion until someone changes it."""

    __tablename__ = "case_tags"

    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), primary_key=True)
    case_type: Mapped[str] = mapped_column(String(20))
    tagged_by: Mapped[str] = mapped_column(String(200))
    tagged_at: Mapped[dt.datetime]


class AuditLog(Base):
    """Every change a person makes: who, when, what, and the before/after values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str | None] = mapped_column(String(200), index=True)
    signal_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    via: Mapped[str] = mapped_column(String(20), default="cli")


class Outbox(Base):
    """Slack messages written in the scan's transaction and delivered afterwards.

    A message is either sent, pending (to be retried, across restarts) or failed with the
    reason; never silently lost.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(40))


class DigestClaim(Base):
    """The week's digest is claimed here before posting: unique per app, channel and period."""

    __tablename__ = "digest_claims"
    __table_args__ = (UniqueConstraint("application_id", "channel", "period", name="uq_digest_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    channel: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(20))
    claimed_at: Mapped[dt.datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="claimed")
    posted_at: Mapped[dt.datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    # Chart images already uploaded for this digest ({chart name: Slack file id}): a retry or
    # a takeover of the claim shows the same files instead of uploading them again.
    charts: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SlackEventSeen(Base):
    """Slack retries an event it thinks we missed; remembering event ids stops double work."""

    __tablename__ = "slack_events_seen"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[dt.datetime]


class SlackRequestKey(Base):
    """Signed Slack requests already taken (commands, clicks, events), so a captured request
    sent again inside Slack's five-minute timestamp window is refused — by every replica,
    since they share this table. ``key`` is the hex SHA-256 of "v0:{timestamp}:{body}" (what
    the signature signs); ``sent_at`` is the request's own timestamp, which is how old keys
    are pruned once no request carrying them could pass the timestamp check any more."""

    __tablename__ = "slack_request_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[dt.datetime] = mapped_column(index=True)


class Note(Base):
    """A person's note on an org: what was done or agreed, with who wrote it and when."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_org_created", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"))
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    via: Mapped[str] = mapped_column(String(20), default="cli")


class OrgOwner(Base):
    """The owning CSM a person assigned (Slack's Assign, `saas-tracker assign`).

    Kept apart from ``orgs.owner``, which the CSV import writes: an assignment wins over the
    imported owner wherever an owner is read, and the next import, which only ever writes
    ``orgs.owner``, cannot undo it. Removing the row (``assign --imported``) gives the org
    back to the imported owner.
    """

    __tablename__ = "org_owners"

    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.org_id"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(320))
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[dt.datetime]


class ConfigVersion(Base):
    """One configuration a scan ran with, stored once: the settings as loaded (defaults and
    file together), their fingerprint, and who first ran a scan with them, and when."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    settings: Mapped[dict[str, Any]]
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
