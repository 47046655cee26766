"""Notes people write on an org, and when each org was last reviewed (a note or a case tag)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from storage.models import AuditLog, Note, Org

# Audit actions that count as a review of the account (see ReviewConfig).
REVIEW_ACTIONS = ("note", "tag")


def add_note(session: Session, org_id: str, author: str, text: str, now: dt.datetime, via: str) -> Note:
    note = Note(org_id=org_id, author=author, text=text, created_at=now, via=via)
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, org_id: str, limit: int | None = None) -> tuple[list[Note], int]:
    """The org's notes, newest first (at most `limit`), and how many it has in all."""
    stmt = select(Note).where(Note.org_id == org_id).order_by(Note.created_at.desc(), Note.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    notes = list(session.scalars(stmt))
    total = len(notes) if limit is None or len(notes) < limit else int(
        session.scalar(select(func.count()).select_from(Note).where(Note.org_id == org_id)) or 0)
    return notes, total


def last_reviews(session: Session, application_id: int, org_ids: list[str] | None = None) -> dict[str, dt.datetime]:
    """org_id → the time of its latest note or case tag, for the application's reviewed orgs
    (only ``org_ids`` when given: one org's page reads its own rows, not every org's).

    Read from the audit log, where every note and tag is recorded, so a tag changed since
    (or a note deleted by hand) still counts as the review it was.
    """
    conditions: list[ColumnElement[bool]] = [AuditLog.action.in_(REVIEW_ACTIONS)]
    if org_ids is None:
        conditions.append(Org.application_id == application_id)
    else:  # through the audit log's org_id index (``+ 0`` keeps SQLite off the application's)
        conditions += [AuditLog.org_id.in_(list(org_ids)), (Org.application_id + 0) == application_id]
    rows = session.execute(
        select(AuditLog.org_id, func.max(AuditLog.at))
        .join(Org, Org.org_id == AuditLog.org_id)
        .where(*conditions)
        .group_by(AuditLog.org_id)
    ).all()
    return {str(org_id): at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at for org_id, at in rows}
