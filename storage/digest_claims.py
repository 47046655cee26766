"""Digest claims: one row per (application, channel, ISO week), the exactly-once key.

The unique constraint does the deciding: the first INSERT wins the week; a later one gets an
IntegrityError. Taking over a claim (a crashed or failed poster's) is a compare-and-set on
the row as it was read, so two processes can't both take it over. When a claim may be taken
over is the digest use case's decision (``services.digest``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker

from storage.models import DigestClaim


def find_claim(session: Session, app_id: int, channel: str, period: str) -> DigestClaim | None:
    return session.scalar(select(DigestClaim).where(
        DigestClaim.application_id == app_id, DigestClaim.channel == channel, DigestClaim.period == period))


def insert_claim(factory: sessionmaker[Session], app_id: int, channel: str, period: str, now: dt.datetime,
                 claimed_by: str, status: str) -> int | None:
    """The new claim's id, or None when the week's claim exists already."""
    try:
        with factory() as session, session.begin():
            claim = DigestClaim(application_id=app_id, channel=channel, period=period, claimed_at=now,
                                claimed_by=claimed_by, status=status)
            session.add(claim)
            session.flush()
            return claim.id
    except IntegrityError:
        return None


def take_over(session: Session, claim: DigestClaim, now: dt.datetime, claimed_by: str, status: str) -> bool:
    """Make the claim ours if it is still exactly as read; False when someone changed it first."""
    taken = cast(CursorResult[Any], session.execute(
        update(DigestClaim)
        .where(DigestClaim.id == claim.id, DigestClaim.status == claim.status,
               DigestClaim.claimed_by == claim.claimed_by, DigestClaim.claimed_at == claim.claimed_at)
        .values(status=status, claimed_by=claimed_by, claimed_at=now, error=None)
        .execution_options(synchronize_session=False)
    )).rowcount
    return taken == 1


def finish_claim(factory: sessionmaker[Session], claim_id: int, claimed_by: str, **values: Any) -> None:
    """Record the outcome on a claim this process holds."""
    with factory() as session, session.begin():
        session.execute(update(DigestClaim)
                        .where(DigestClaim.id == claim_id, DigestClaim.claimed_by == claimed_by)
                        .values(**values))


def charts_of(factory: sessionmaker[Session], claim_id: int) -> dict[str, Any] | None:
    """The chart file ids an attempt at this claim uploaded; None when none was tried yet."""
    with factory() as session:
        return session.scalar(select(DigestClaim.charts).where(DigestClaim.id == claim_id))
