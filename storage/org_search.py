"""The queries behind finding an org from what a person typed: by id, domain or name."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Org

LIKE_ESCAPE = "\\"


class OrgName(NamedTuple):
    org_id: str
    name: str
    domain: str | None


def like_pattern(text: str) -> str:
    """"%text%" with LIKE's own wildcards in `text` escaped, so "%" or "_" typed by a person
    match those characters only, never every org."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def exact_matches(session: Session, application_id: int, typed: str) -> list[OrgName]:
    """(org_id, name, domain) of the orgs whose id is `typed`, or whose domain or name is, in any case."""
    lowered = typed.lower()
    rows = session.execute(
        select(Org.org_id, Org.name, Org.domain)
        # Each alternative through its own index (id, lower-cased domain and name); ``+ 0``
        # keeps SQLite from walking every org of the application instead.
        .where((Org.application_id + 0) == application_id,
               or_(Org.org_id == typed, func.lower(Org.domain) == lowered, func.lower(Org.name) == lowered))
        .order_by(Org.name)
    ).all()
    return [OrgName(*r) for r in rows]


def _contains(typed: str) -> ColumnElement[bool]:
    like = like_pattern(typed.lower())
    return or_(func.lower(Org.name).like(like, escape=LIKE_ESCAPE),
               func.lower(Org.domain).like(like, escape=LIKE_ESCAPE))


def partial_matches(session: Session, application_id: int, typed: str,
                    limit: int) -> list[OrgName]:
    """At most `limit` orgs whose name or domain contains `typed` (case-insensitive), by name."""
    rows = session.execute(
        select(Org.org_id, Org.name, Org.domain)
        .where(Org.application_id == application_id, _contains(typed))
        .order_by(Org.name, Org.org_id).limit(limit)
    ).all()
    return [OrgName(*r) for r in rows]


def count_partial_matches(session: Session, application_id: int, typed: str) -> int:
    return session.scalar(
        select(func.count()).select_from(Org).where(Org.application_id == application_id, _contains(typed))
    ) or 0


def org_names(session: Session, application_id: int) -> list[str]:
    """Every org's name (for "did you mean"): read through the Core connection, since the ORM's
    per-row handling doubled the time of 100,000 names."""
    return list(session.connection().execute(select(Org.name).where(Org.application_id == application_id))
                .scalars().all())
