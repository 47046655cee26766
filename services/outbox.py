"""Delivering the outbox: every queued Slack message ends up sent, pending a retry, or failed
with its reason; none is silently lost.

Row life cycle::

    pending --claim--> sending --ok--> sent (message_ts)
                          |--rate limited / 5xx / network--> pending (attempts + 1, backoff)
                          |--channel / auth / bad request, or out of attempts--> failed (last_error)

Rows are claimed one at a time so several workers (or a worker and ``serve``) can flush at
once without sending a row twice: on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``,
on SQLite with a compare-and-set ``UPDATE … WHERE status = 'pending'`` whose row count says
who won. The network call happens outside any transaction. A claimed row's
``next_attempt_at`` is set to a lease expiry: if the process dies mid-send, the row is
claimable again once the lease runs out.

No alert twice: a 5xx, timeout or dropped connection may come after Slack posted the
message, so posts go through a client without the SDK's own 5xx/connection retries
(``bot.client.posting_client``) and carry message metadata with the outbox id. Before
re-sending a row whose last attempt failed that way (``retryable`` in ``last_error``), or
whose sender died mid-send, the channel history is searched for that metadata: when the
message is there the row is recorded as sent with its ts. When the history can't be read
for a passing reason the row waits for the next attempt; when it can't be read at all (no
history scope) the alert is sent, a duplicate being preferred to a lost alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from services.delivery import backoff_delay
from services.ports import ChannelNotFound, DeliveryError, ErrorCategory, SendFailure, SlackPort
from storage.models import Outbox

log = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
OUTBOX_STATUSES = (PENDING, SENDING, SENT, FAILED)

# How long a claimed row may stay 'sending' before another flush presumes its sender dead.
SENDING_LEASE = dt.timedelta(minutes=10)

ALERT_EVENT_TYPE = "saas_tracker_alert"
# A last_error saying the last send may have posted after all (see _error_text).
_MAY_HAVE_POSTED = re.compile(rf"^(gave up after \d+ attempts; last: )?{ErrorCategory.RETRYABLE.value}: ")


def alert_metadata(outbox_id: int) -> dict[str, Any]:
    """Slack message metadata that lets a re-send recognise the row's message already posted."""
    return {"event_type": ALERT_EVENT_TYPE, "event_payload": {"outbox_id": outbox_id}}


def _error_text(failure: SendFailure) -> str:
    return f"{failure.category.value}: {failure.error}"


@dataclass(frozen=True)
class RetryPolicy:
    backoff_seconds: float
    backoff_max_seconds: float
    max_attempts: int

    @classmethod
    def from_config(cls, cfg: Config) -> "RetryPolicy":
        s = cfg.slack
        return cls(s.delivery_backoff_seconds, s.delivery_backoff_max_seconds, s.delivery_max_attempts)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed"


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime
    last_error: str | None
    # An earlier send may have posted: it failed ambiguously, or its sender died mid-send.
    unsure: bool


def _due(now: dt.datetime):
    # 'sending' rows whose lease ran out belong to a sender that died: claimable again.
    return and_(Outbox.status.in_((PENDING, SENDING)), Outbox.next_attempt_at <= now)


def _claim_next(factory: sessionmaker[Session], now: dt.datetime, skip_ids: set[int],
                skip_channels: set[str]) -> _Claimed | None:
    while True:
        with factory() as session, session.begin():
            stmt = select(Outbox).where(_due(now)).order_by(Outbox.next_attempt_at, Outbox.id).limit(1)
            if skip_ids:
                stmt = stmt.where(Outbox.id.notin_(skip_ids))
            if skip_channels:
                stmt = stmt.where(Outbox.channel.notin_(skip_channels))
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = session.scalar(stmt)
            if row is None:
                return None
            was = row.status
            unsure = was == SENDING or bool(row.last_error and _MAY_HAVE_POSTED.match(row.last_error))
            claimed = _Claimed(row.id, row.channel, dict(row.payload), row.attempts, row.created_at,
                               row.last_error, unsure)
            won = session.execute(
                update(Outbox)
                .where(Outbox.id == row.id, Outbox.status == was, Outbox.next_attempt_at == row.next_attempt_at)
                .values(status=SENDING, next_attempt_at=now + SENDING_LEASE)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won == 1:
                if was == SENDING:
                    log.warning("outbox %s: its sender's lease ran out; sending again", row.id)
                return claimed
        # Another process claimed that row between our read and our update: pick again.


def _settle(factory: sessionmaker[Session], row_id: int, **values: Any) -> None:
    with factory() as session, session.begin():
        session.execute(update(Outbox).where(Outbox.id == row_id, Outbox.status == SENDING).values(**values))


def deliver_outbox(factory: sessionmaker[Session], slack: SlackPort, now: dt.datetime,
                   cfg: Config | None = None, *, limit: int | None = None) -> DeliveryReport:
    """Send every row due at `now`; one failing row never stops the rest.

    A rate-limited channel is left alone for the rest of this flush (its rows stay
    pending): sending more would only earn more 429s.
    """
    policy = RetryPolicy.from_config(cfg or Config())
    now = now.astimezone(dt.timezone.utc)
    report = DeliveryReport()
    handled: set[int] = set()
    rate_limited: set[str] = set()
    while limit is None or len(handled) < limit:
        row = _claim_next(factory, now, handled, rate_limited)
        if row is None:
            break
        handled.add(row.id)
        attempts = row.attempts + 1
        metadata = alert_metadata(row.id)
        try:
            channel = slack.resolve_channel(row.channel)
            if row.unsure and _found_earlier_post(factory, slack, row, channel, metadata, now, report):
                continue
            ts = slack.post(channel, row.payload, metadata)
        except _HistoryUnreadable as exc:
            # Still unsure: recorded as a retryable failure, so the next attempt looks again.
            unread = SendFailure(ErrorCategory.RETRYABLE, f"{exc.failure.error} reading the channel history "
                                 "(an earlier send may have posted)", exc.failure.retry_after)
            _failed(factory, row, unread, now, policy, report, rate_limited)
            continue
        except ChannelNotFound as exc:
            _failed(factory, row, SendFailure(ErrorCategory.PERMANENT_CHANNEL, str(exc)), now, policy, report,
                    rate_limited)
            continue
        except DeliveryError as exc:
            _failed(factory, row, exc.failure, now, policy, report, rate_limited)
            continue
        _settle(factory, row.id, status=SENT, attempts=attempts, sent_at=now, message_ts=ts, next_attempt_at=now)
        report.sent.append(row.id)
        log.info("outbox %s sent to %s (ts %s)", row.id, row.channel, ts)
    return report


class _HistoryUnreadable(Exception):
    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.error)
        self.failure = failure


def _found_earlier_post(factory: sessionmaker[Session], slack: SlackPort, row: _Claimed, channel: str,
                        metadata: dict[str, Any], now: dt.datetime, report: DeliveryReport) -> bool:
    """True when the row's message is already in the channel (then recorded as sent). Raises
    _HistoryUnreadable when the history can't be read for now: better wait than post twice."""
    earlier = slack.find_earlier_post(channel, metadata, row.created_at)
    if earlier.ts is not None:
        _settle(factory, row.id, status=SENT, sent_at=now, message_ts=earlier.ts, next_attempt_at=now)
        report.sent.append(row.id)
        log.warning("outbox %s: found in %s already (ts %s) after %s; recorded as sent, not sent again",
                    row.id, row.channel, earlier.ts, row.last_error or "its sender stopped mid-send")
        return True
    if earlier.unknown:
        assert earlier.failure is not None
        raise _HistoryUnreadable(earlier.failure)
    if earlier.failure is not None:
        log.warning("outbox %s: could not read %s history to check for an earlier post (%s); sending",
                    row.id, row.channel, earlier.failure.error)
    return False


def _failed(factory: sessionmaker[Session], row: _Claimed, failure: SendFailure, now: dt.datetime,
            policy: RetryPolicy, report: DeliveryReport, rate_limited: set[str]) -> None:
    """Settle a row whose attempt failed: pending with backoff, or failed with the reason."""
    attempts = row.attempts + 1
    error = _error_text(failure)
    if failure.retryable and attempts < policy.max_attempts:
        delay = backoff_delay(attempts, policy.backoff_seconds, policy.backoff_max_seconds, failure.retry_after)
        _settle(factory, row.id, status=PENDING, attempts=attempts, last_error=error,
                next_attempt_at=now + dt.timedelta(seconds=delay))
        report.retrying.append(row.id)
        if failure.category == ErrorCategory.RATE_LIMITED:
            rate_limited.add(row.channel)
        log.warning("outbox %s to %s: attempt %d failed (%s); retrying in %.0f s",
                    row.id, row.channel, attempts, error, delay)
        return
    if failure.retryable:
        error = f"gave up after {attempts} attempts; last: {error}"
    _settle(factory, row.id, status=FAILED, attempts=attempts, last_error=error, next_attempt_at=now)
    report.failed.append(row.id)
    log.error("outbox %s to %s failed: %s (see `saas-tracker outbox --status failed`)", row.id, row.channel, error)


def list_outbox(session: Session, status: str | None = None, limit: int = 50) -> Sequence[Outbox]:
    """Newest first; `status` narrows to one of OUTBOX_STATUSES."""
    stmt = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise ValueError(f"{status!r} is not one of {', '.join(OUTBOX_STATUSES)}")
        stmt = stmt.where(Outbox.status == status)
    return session.scalars(stmt).all()


class OutboxRetryError(ValueError):
    """The row can't be re-queued (unknown id, or not failed); nothing was changed."""


def retry_outbox(session: Session, row_id: int, now: dt.datetime) -> Outbox:
    """Re-queue a failed row for the next flush, with a fresh set of attempts."""
    row = session.get(Outbox, row_id)
    if row is None:
        raise OutboxRetryError(f"no outbox row {row_id}")
    if row.status != FAILED:
        raise OutboxRetryError(f"outbox row {row_id} is {row.status}, not failed: only failed rows are re-queued")
    changed = session.execute(
        update(Outbox).where(Outbox.id == row_id, Outbox.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    ).rowcount
    if changed != 1:
        raise OutboxRetryError(f"outbox row {row_id} changed while being re-queued; try again")
    session.refresh(row)
    return row


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status (all four, zero when none): for `outbox` and health checks."""
    counts = dict(session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    return {s: int(counts.get(s, 0)) for s in OUTBOX_STATUSES}

