"""The outbox table: queued Slack messages, claimed one at a time by any number of senders.

A row is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL and, on both
databases, a compare-and-set ``UPDATE … WHERE status = <what we read>`` whose row count says
who won; so two workers (or a worker and ``serve``) never send one row twice. What a
failure means for the row (retry when, give up when) is decided by ``services.outbox``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Outbox

log = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
OUTBOX_STATUSES = (PENDING, SENDING, SENT, FAILED)


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    channel: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime
    last_error: str | None
    previous_status: str  # SENDING: its earlier sender's lease ran out


def _due(now: dt.datetime):
    # 'sending' rows whose lease ran out belong to a sender that died: claimable again.
    return and_(Outbox.status.in_((PENDING, SENDING)), Outbox.next_attempt_at <= now)


def claim_next_due(factory: sessionmaker[Session], now: dt.datetime, lease: dt.timedelta,
                   skip_ids: set[int], skip_channels: set[str], max_races: int) -> ClaimedRow | None:
    """Claim the next row due at ``now`` (oldest due first) for ``lease``; None when none is due.

    Losing a race to another sender means picking again; after ``max_races`` lost races in a
    row this gives up for now (returns None, with a log line) instead of spinning.
    """
    for _ in range(max_races):
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
            claimed = ClaimedRow(row.id, row.channel, dict(row.payload), row.attempts, row.created_at,
                                 row.last_error, row.status)
            won = cast(CursorResult[Any], session.execute(
                update(Outbox)
                .where(Outbox.id == row.id, Outbox.status == row.status,
                       Outbox.next_attempt_at == row.next_attempt_at)
                .values(status=SENDING, next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )).rowcount
            if won == 1:
                return claimed
        # Another sender claimed that row between our read and our update: pick again.
    log.warning("outbox: lost %d claim races in a row to other senders; leaving the rest to them", max_races)
    return None


def settle(factory: sessionmaker[Session], row_id: int, **values: Any) -> None:
    """Record the outcome of a send on a row this sender holds (status 'sending')."""
    with factory() as session, session.begin():
        session.execute(update(Outbox).where(Outbox.id == row_id, Outbox.status == SENDING).values(**values))


def add_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Queue messages in the caller's transaction (a scan's, so alerts commit with it)."""
    objects = [Outbox(**row) for row in rows]
    session.add_all(objects)
    session.flush()
    return [o.id for o in objects]


def list_rows(session: Session, status: str | None = None, limit: int = 50) -> Sequence[Outbox]:
    """Newest first; ``status`` narrows to one of OUTBOX_STATUSES."""
    stmt = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Outbox.status == status)
    return session.scalars(stmt).all()


def get_row(session: Session, row_id: int) -> Outbox | None:
    return session.get(Outbox, row_id)


def requeue_failed(session: Session, row_id: int, now: dt.datetime) -> bool:
    """A failed row back to pending with a fresh set of attempts; False when it is not failed
    (any more)."""
    changed = cast(CursorResult[Any], session.execute(
        update(Outbox).where(Outbox.id == row_id, Outbox.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )).rowcount
    return changed == 1


def status_counts(session: Session) -> dict[str, int]:
    """Rows per status, all four (zero when none)."""
    counts = dict(session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    return {s: int(counts.get(s, 0)) for s in OUTBOX_STATUSES}
