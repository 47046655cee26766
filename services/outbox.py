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
``next_attempt_at`` is set to a lease expiry (``slack.outbox_lease_minutes``, default 10):
if the process dies mid-send, the row is claimable again once the lease runs out. The SQL
lives in ``storage.outbox``; this module decides what each outcome means for the row.

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

from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from services.delivery import backoff_delay
from services.ports import ChannelNotFound, DeliveryError, ErrorCategory, SendFailure, SlackPort
from storage import outbox as rows
from storage.models import Outbox
from storage.outbox import FAILED, OUTBOX_STATUSES, PENDING, SENDING, SENT, ClaimedRow

log = logging.getLogger(__name__)

__all__ = ["FAILED", "OUTBOX_STATUSES", "PENDING", "SENDING", "SENT", "deliver_outbox", "list_outbox",
           "outbox_counts", "retry_outbox"]

# Senders racing for rows: after this many lost races in a row, a flush leaves the rest to
# the others rather than spin.
MAX_CLAIM_RACES = 50

ALERT_EVENT_TYPE = "saas_tracker_alert"
# A last_error saying the last send may have posted after all (see _error_text).
_MAY_HAVE_POSTED = re.compile(rf"^(gave up after \d+ attempts; last: )?{ErrorCategory.RETRYABLE.value}: ")


def sending_lease(cfg: Config) -> dt.timedelta:
    """How long a claimed row may stay 'sending' before another flush presumes its sender dead."""
    return dt.timedelta(minutes=cfg.slack.outbox_lease_minutes)


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
    def from_config(cls, cfg: Config) -> RetryPolicy:
        s = cfg.slack
        return cls(s.delivery_backoff_seconds, s.delivery_backoff_max_seconds, s.delivery_max_attempts)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed"


def _unsure(row: ClaimedRow) -> bool:
    """An earlier send may have posted: it failed ambiguously, or its sender died mid-send."""
    return row.previous_status == SENDING or bool(row.last_error and _MAY_HAVE_POSTED.match(row.last_error))


def deliver_outbox(factory: sessionmaker[Session], slack: SlackPort, now: dt.datetime,
                   cfg: Config | None = None, *, limit: int | None = None) -> DeliveryReport:
    """Send every row due at `now`; one failing row never stops the rest.

    A rate-limited channel is left alone for the rest of this flush (its rows stay
    pending): sending more would only earn more 429s.
    """
    cfg = cfg or Config()
    policy = RetryPolicy.from_config(cfg)
    lease = sending_lease(cfg)
    now = now.astimezone(dt.timezone.utc)
    report = DeliveryReport()
    handled: set[int] = set()
    rate_limited: set[str] = set()
    while limit is None or len(handled) < limit:
        row = rows.claim_next_due(factory, now, lease, handled, rate_limited, MAX_CLAIM_RACES)
        if row is None:
            break
        if row.previous_status == SENDING:
            log.warning("outbox %s: its sender's lease ran out; sending again", row.id)
        handled.add(row.id)
        attempts = row.attempts + 1
        metadata = alert_metadata(row.id)
        try:
            channel = slack.resolve_channel(row.channel)
            if _unsure(row) and _found_earlier_post(factory, slack, row, channel, metadata, now, report):
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
        rows.settle(factory, row.id, status=SENT, attempts=attempts, sent_at=now, message_ts=ts, next_attempt_at=now)
        report.sent.append(row.id)
        log.info("outbox %s sent to %s (ts %s)", row.id, row.channel, ts)
    return report


class _HistoryUnreadable(Exception):
    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.error)
        self.failure = failure


def _found_earlier_post(factory: sessionmaker[Session], slack: SlackPort, row: ClaimedRow, channel: str,
                        metadata: dict[str, Any], now: dt.datetime, report: DeliveryReport) -> bool:
    """True when the row's message is already in the channel (then recorded as sent). Raises
    _HistoryUnreadable when the history can't be read for now: better wait than post twice."""
    earlier = slack.find_earlier_post(channel, metadata, row.created_at)
    if earlier.ts is not None:
        rows.settle(factory, row.id, status=SENT, sent_at=now, message_ts=earlier.ts, next_attempt_at=now)
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


def _failed(factory: sessionmaker[Session], row: ClaimedRow, failure: SendFailure, now: dt.datetime,
            policy: RetryPolicy, report: DeliveryReport, rate_limited: set[str]) -> None:
    """Settle a row whose attempt failed: pending with backoff, or failed with the reason."""
    attempts = row.attempts + 1
    error = _error_text(failure)
    if failure.retryable and attempts < policy.max_attempts:
        delay = backoff_delay(attempts, policy.backoff_seconds, policy.backoff_max_seconds, failure.retry_after)
        rows.settle(factory, row.id, status=PENDING, attempts=attempts, last_error=error,
                    next_attempt_at=now + dt.timedelta(seconds=delay))
        report.retrying.append(row.id)
        if failure.category == ErrorCategory.RATE_LIMITED:
            rate_limited.add(row.channel)
        log.warning("outbox %s to %s: attempt %d failed (%s); retrying in %.0f s",
                    row.id, row.channel, attempts, error, delay)
        return
    if failure.retryable:
        error = f"gave up after {attempts} attempts; last: {error}"
    rows.settle(factory, row.id, status=FAILED, attempts=attempts, last_error=error, next_attempt_at=now)
    report.failed.append(row.id)
    log.error("outbox %s to %s failed: %s (see `saas-tracker outbox --status failed`)", row.id, row.channel, error)


def list_outbox(session: Session, status: str | None = None, limit: int = 50) -> Sequence[Outbox]:
    """Newest first; `status` narrows to one of OUTBOX_STATUSES."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise ValueError(f"{status!r} is not one of {', '.join(OUTBOX_STATUSES)}")
    return rows.list_rows(session, status, limit)


class OutboxRetryError(ValueError):
    """The row can't be re-queued (unknown id, or not failed); nothing was changed."""


def retry_outbox(session: Session, row_id: int, now: dt.datetime) -> Outbox:
    """Re-queue a failed row for the next flush, with a fresh set of attempts."""
    row = rows.get_row(session, row_id)
    if row is None:
        raise OutboxRetryError(f"no outbox row {row_id}")
    if row.status != FAILED:
        raise OutboxRetryError(f"outbox row {row_id} is {row.status}, not failed: only failed rows are re-queued")
    if not rows.requeue_failed(session, row_id, now):
        raise OutboxRetryError(f"outbox row {row_id} changed while being re-queued; try again")
    session.refresh(row)
    return row


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status (all four, zero when none): for `outbox` and health checks."""
    return rows.status_counts(session)
