"""Finding an org from what a person typed: its id, domain or name, else the closest names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.models import Org


@dataclass(frozen=True)
class OrgMatch:
    org_id: str
    name: str
    domain: str | None


@dataclass(frozen=True)
class LookupResult:
    matches: list[OrgMatch]  # one = found; several = ask which
    closest: list[str]  # names to suggest when nothing matched


def find_orgs(session: Session, application_id: int, query: str, limit: int = 10) -> LookupResult:
    """Id, domain or case-insensitive name; then substring; then the closest names."""
    q = query.strip()
    if not q:
        return LookupResult([], [])
    ql = q.lower()
    base = select(Org.org_id, Org.name, Org.domain).where(Org.application_id == application_id)
    exact = session.execute(
        base.where(or_(Org.org_id == q, func.lower(Org.domain) == ql, func.lower(Org.name) == ql)).order_by(Org.name)
    ).all()
    if exact:
        by_id = [r for r in exact if r.org_id == q]
        chosen = by_id or exact
        return LookupResult([OrgMatch(*r) for r in chosen[:limit]], [])
    like = f"%{ql.replace('%', '').replace('_', '')}%"
    partial = session.execute(
        base.where(or_(func.lower(Org.name).like(like), func.lower(Org.domain).like(like))).order_by(Org.name).limit(limit)
    ).all()
    if partial:
        return LookupResult([OrgMatch(*r) for r in partial], [])
    names = session.scalars(select(Org.name).where(Org.application_id == application_id)).all()
    lowered = {n.lower(): n for n in names}
    closest = difflib.get_close_matches(ql, list(lowered), n=5, cutoff=0.5)
    return LookupResult([], [lowered[c] for c in closest])
