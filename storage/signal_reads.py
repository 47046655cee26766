"""The reads behind the ranked lists, the summary cards and alerts: visible signals, the
orgs and case tags they name, and the week's counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import queries
from storage.models import CaseTag, Org, Signal
from storage.signals import visible_condition

SIGNAL_COLUMNS = (Signal.id, Signal.org_id, Signal.type, Signal.priority, Signal.reason, Signal.evidence,
                  Signal.status, Signal.opened_at, Signal.suggested_case, Signal.snoozed_until)
# What ranking and filtering need: no reason or evidence JSON to decode for every open signal.
RANK_COLUMNS = (Signal.org_id, Signal.type, Signal.priority, Signal.suggested_case)


def visible_signals(session: Session, application_id: int, now: dt.datetime,
                    org_ids: list[str] | None = None, columns: tuple[Any, ...] = SIGNAL_COLUMNS) -> pd.DataFrame:
    """The signals people see now (active, and snoozed ones whose snooze ran out), as a frame."""
    stmt = select(*columns).where(Signal.application_id == application_id, visible_condition(now))
    if org_ids is not None:
        stmt = stmt.where(Signal.org_id.in_(org_ids))
    return queries.rows_frame(session.execute(stmt).all(), [c.key for c in columns])


def signals_by_id(session: Session, signal_ids: list[int]) -> pd.DataFrame:
    rows = session.execute(select(*SIGNAL_COLUMNS).where(Signal.id.in_(signal_ids))).all()
    return pd.DataFrame.from_records(rows, columns=[c.key for c in SIGNAL_COLUMNS])


def orgs_by_id(session: Session, org_ids: list[str]) -> dict[str, Org]:
    return {o.org_id: o for o in session.scalars(select(Org).where(Org.org_id.in_(org_ids)))}


def case_tags_of(session: Session, org_ids: list[str]) -> dict[str, CaseTag]:
    return {t.org_id: t for t in session.scalars(select(CaseTag).where(CaseTag.org_id.in_(org_ids)))}


def case_types(session: Session, application_id: int) -> dict[str, str]:
    """The case type a person tagged, per org of the application."""
    rows = session.execute(
        select(CaseTag.org_id, CaseTag.case_type).join(Org, Org.org_id == CaseTag.org_id)
        .where(Org.application_id == application_id)
    ).all()
    return {org_id: case_type for org_id, case_type in rows}


def opened_and_resolved_between(session: Session, application_id: int, start: dt.datetime,
                                end: dt.datetime) -> tuple[int, int]:
    """How many signals opened, and how many resolved, in (start, end]."""
    opened = session.scalar(select(func.count()).select_from(Signal).where(
        Signal.application_id == application_id, Signal.opened_at > start, Signal.opened_at <= end))
    resolved = session.scalar(select(func.count()).select_from(Signal).where(
        Signal.application_id == application_id, Signal.resolved_at > start, Signal.resolved_at <= end))
    return int(opened or 0), int(resolved or 0)
