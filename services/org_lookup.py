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
    matches: list[OrgMatch]  # one = found; several = ask which (at most `limit` of them)
    closest: list[str]  # names to suggest when nothing matched
    total: int = 0  # how many orgs match in all; more than len(matches) when cut at `limit`

    def __post_init__(self) -> None:
        if self.total < len(self.matches):
            object.__setattr__(self, "total", len(self.matches))


LIKE_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """"%text%" with LIKE's own wildcards in `text` escaped, so "%" or "_" typed by a person
    match those characters only, never every org."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def find_orgs(session: Session, application_id: int, query: str, limit: int = 10) -> LookupResult:
    """Id, domain or case-insensitive name; then substring; then the closest names.

    Substring matches are cut at `limit`; `total` says how many there are in all."""
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
        return LookupResult([OrgMatch(*r) for r in chosen[:limit]], [], total=len(chosen))
    like = like_pattern(ql)
    matching = or_(func.lower(Org.name).like(like, escape=LIKE_ESCAPE),
                   func.lower(Org.domain).like(like, escape=LIKE_ESCAPE))
    partial = session.execute(base.where(matching).order_by(Org.name, Org.org_id).limit(limit)).all()
    if partial:
        total = len(partial)
        if total == limit:
            total = session.scalar(
                select(func.count()).select_from(Org).where(Org.application_id == application_id, matching)
            ) or total
        return LookupResult([OrgMatch(*r) for r in partial], [], total=total)
    names = session.scalars(select(Org.name).where(Org.application_id == application_id)).all()
    lowered = {n.lower(): n for n in names}
    closest = difflib.get_close_matches(ql, list(lowered), n=5, cutoff=0.5)
    return LookupResult([], [lowered[c] for c in closest])
