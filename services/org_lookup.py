"""Finding an org from what a person typed: its id, domain or name, else the closest names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from storage import org_search

CANDIDATES = 200  # names kept by the fast comparison for difflib to rank


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


def find_orgs(session: Session, application_id: int, query: str, limit: int = 10) -> LookupResult:
    """Id, domain or case-insensitive name; then substring; then the closest names.

    Substring matches are cut at `limit`; `total` says how many there are in all."""
    q = query.strip()
    if not q:
        return LookupResult([], [])
    ql = q.lower()
    exact = org_search.exact_matches(session, application_id, q)
    if exact:
        by_id = [r for r in exact if r.org_id == q]
        chosen = by_id or exact
        return LookupResult([OrgMatch(*r) for r in chosen[:limit]], [], total=len(chosen))
    partial = org_search.partial_matches(session, application_id, q, limit)
    if partial:
        total = len(partial)
        if total == limit:
            total = org_search.count_partial_matches(session, application_id, q) or total
        return LookupResult([OrgMatch(*r) for r in partial], [], total=total)
    return LookupResult([], closest_names(ql, org_search.org_names(session, application_id)))


def closest_names(typed: str, names: list[str], n: int = 5, cutoff: float = 0.5) -> list[str]:
    """The names most like ``typed`` (lower-cased), best first, as difflib ranks them.

    difflib alone compares the text with every name (0.3-0.9 s at 30,000 orgs, seconds at
    100,000). rapidfuzz's ratio, from the longest common subsequence, is never below
    difflib's for the same pair, so every name difflib would accept is among the ones it
    keeps at the same cutoff, in milliseconds; difflib then ranks those few as before."""
    lowered = {name.lower(): name for name in names}
    kept = process.extract(typed, list(lowered), scorer=fuzz.ratio, score_cutoff=cutoff * 100,
                           limit=CANDIDATES)
    closest = difflib.get_close_matches(typed, [choice for choice, _score, _index in kept], n=n, cutoff=cutoff)
    return [lowered[c] for c in closest]
