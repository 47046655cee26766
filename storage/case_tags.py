"""A person's case tag per org, and the audit log of every change a person makes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import AuditLog, CaseTag, Org


def org_exists(session: Session, org_id: str) -> bool:
    return session.get(Org, org_id) is not None


def lock_tag(session: Session, org_id: str, *, refresh: bool = False) -> CaseTag | None:
    """The org's tag, locked against a concurrent tag click (None when untagged)."""
    return session.get(CaseTag, org_id, with_for_update=True, populate_existing=refresh)


def insert_tag(session: Session, org_id: str, case_type: str, actor: str, now: dt.datetime) -> bool:
    """Add the org's first tag in a savepoint; False when another click added one first (the
    primary key refused ours), so the caller carries on as an update of that row."""
    try:
        with session.begin_nested():
            session.add(CaseTag(org_id=org_id, case_type=case_type, tagged_by=actor, tagged_at=now))
    except IntegrityError:
        return False
    return True


def tags_of_application(session: Session, application_id: int) -> dict[str, str]:
    """org_id → tagged case type, for every tagged org of the application."""
    return dict(session.execute(
        select(CaseTag.org_id, CaseTag.case_type).join(Org, Org.org_id == CaseTag.org_id)
        .where(Org.application_id == application_id)
    ).all())


def add_audit(session: Session, *, actor: str, action: str, org_id: str | None, signal_id: int | None,
              before: dict | None, after: dict | None, via: str, now: dt.datetime) -> None:
    session.add(AuditLog(at=now, actor=actor, action=action, org_id=org_id, signal_id=signal_id,
                         before=before, after=after, via=via))


def latest_audit(session: Session, limit: int) -> list[AuditLog]:
    """The newest audit rows first."""
    return list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)))
