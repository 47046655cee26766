"""Reads and changes of stored signals outside a scan (a scan's own writes: storage.scan_results)."""

from __future__ import annotations

from collections.abc import Sequence

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from domain.vocabulary import STATUS_ACTIVE, STATUS_RESOLVED, STATUS_SNOOZED
from storage.models import Signal


def visible_condition(now: dt.datetime):
    """Signals on the active lists: active ones, and snoozed ones whose snooze has run out."""
    return or_(
        Signal.status == STATUS_ACTIVE,
        and_(Signal.status == STATUS_SNOOZED, Signal.snoozed_until <= now),
    )


def visible_org_ids(application_id: int, now: dt.datetime):
    """The orgs with a visible signal at ``now``, as a subquery (for ``IN``)."""
    return select(Signal.org_id).where(Signal.application_id == application_id, visible_condition(now))


def lock_signals(session: Session, signal_ids: Sequence[int]) -> list[Signal]:
    """The signals, in id order, locked (FOR UPDATE on PostgreSQL) so two clicks racing each
    other change them once."""
    return list(session.scalars(
        select(Signal).where(Signal.id.in_(list(signal_ids))).order_by(Signal.id).with_for_update()
    ))


def open_signal_ids(session: Session, org_id: str, types: Sequence[str] | None = None) -> list[int]:
    """Ids of an org's signals that are still open (what a Dismiss on the org acts on)."""
    stmt = select(Signal.id).where(Signal.org_id == org_id, Signal.status != STATUS_RESOLVED)
    if types:
        stmt = stmt.where(Signal.type.in_(list(types)))
    return list(session.scalars(stmt.order_by(Signal.id)))


def ids_of_org(session: Session, org_id: str, signal_ids: Sequence[int]) -> list[int]:
    """The given ids that belong to the org, whatever their status."""
    if not signal_ids:
        return []
    stmt = select(Signal.id).where(Signal.org_id == org_id, Signal.id.in_(list(signal_ids)))
    return list(session.scalars(stmt.order_by(Signal.id)))


def ids_with_priority_at_least(session: Session, signal_ids: Sequence[int], threshold: float) -> list[int]:
    if not signal_ids:
        return []
    return sorted(session.scalars(
        select(Signal.id).where(Signal.id.in_(list(signal_ids)), Signal.priority >= threshold)
    ))
