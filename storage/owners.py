"""Who owns an org: the CSM a person assigned, else the owner the CSV import wrote.

An assignment lives in ``org_owners`` (see ``OrgOwner``) and wins over ``orgs.owner``
everywhere an owner is read, through ``effective_owner``; the import never touches it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Org, OrgOwner


def effective_owner() -> ColumnElement[str | None]:
    """The owner column to select beside Org, with ``outerjoin(OrgOwner, …)`` (see ``with_owner``)."""
    return func.coalesce(OrgOwner.owner, Org.owner)


def with_owner(stmt: Any) -> Any:
    """`stmt` (selecting from Org) outer-joined to the assignments, for ``effective_owner``."""
    return stmt.select_from(Org).outerjoin(OrgOwner, OrgOwner.org_id == Org.org_id)


def effective_owners(session: Session, application_id: int,
                     org_ids: Sequence[str] | None = None) -> dict[str, str | None]:
    """org_id → its owner (assigned, else imported), for every org of the application or `org_ids`."""
    stmt = with_owner(select(Org.org_id, effective_owner().label("owner"))).where(Org.application_id == application_id)
    if org_ids is not None:
        stmt = stmt.where(Org.org_id.in_(list(org_ids)))
    return dict(session.execute(stmt).all())


def distinct_owners(session: Session, application_id: int) -> list[str]:
    """Every owner value (CSM e-mail or Slack id) of an org of the application, assignments first."""
    owner = effective_owner()
    return list(session.scalars(
        with_owner(select(owner)).where(Org.application_id == application_id, owner.is_not(None)).distinct()
    ))


def assignment(session: Session, org_id: str, *, lock: bool = False, refresh: bool = False) -> OrgOwner | None:
    """The org's assignment, locked against a concurrent Assign when `lock` (None when there is none)."""
    return session.get(OrgOwner, org_id, with_for_update=lock, populate_existing=refresh)


def insert_assignment(session: Session, org_id: str, owner: str, by: str, now: dt.datetime) -> bool:
    """Add the org's first assignment in a savepoint; False when another click added one first."""
    try:
        with session.begin_nested():
            session.add(OrgOwner(org_id=org_id, owner=owner, assigned_by=by, assigned_at=now))
    except IntegrityError:
        return False
    return True


def imported_owner(session: Session, org_id: str) -> str | None:
    return session.scalar(select(Org.owner).where(Org.org_id == org_id))
