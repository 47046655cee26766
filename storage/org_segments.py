"""Reads of each org's segments as the latest scan stored them (``storage.scan_results`` writes
them): one row per org, so one org's view is a primary-key read and a cell's or tier's orgs an
indexed query."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from storage import queries
from storage.models import Org, OrgSegment, ScanRun

ROW_COLUMNS = ("org_id", "score", "band", "snapshot_mrr", "last_seen", "prev_score", "mrr", "cell", "tier",
               "quadrant", "value", "potential", "account_priority", "suggested_case", "case_why")


def stored_for(session: Session, application_id: int) -> tuple[int, dt.date, str] | None:
    """(scan run id, day, configuration fingerprint) of the stored segments when the latest
    successful scan wrote them, else None (no scan yet, or scanned before segments were stored)."""
    latest = session.scalar(select(func.max(ScanRun.id)).where(
        ScanRun.application_id == application_id, ScanRun.status == "ok"))
    if latest is None:
        return None
    row = session.execute(
        select(OrgSegment.scan_run_id, OrgSegment.day, OrgSegment.config_fingerprint)
        .where(OrgSegment.application_id == application_id).limit(1)).first()
    if row is None or row.scan_run_id != latest:
        return None
    return int(row.scan_run_id), row.day, row.config_fingerprint


def _select():
    s = OrgSegment
    return select(s.org_id, s.score, s.band, cast(s.snapshot_mrr, Float), s.last_seen, s.prev_score, s.mrr,
                  s.cell, s.tier, s.quadrant, s.value, s.potential, s.account_priority, s.suggested_case,
                  s.case_why)


def _of_application(application_id: int, conditions: tuple[Any, ...]) -> Any:
    """The application condition, kept out of index choice when other conditions are given:
    those pick a few orgs by id (the primary key), and SQLite without statistics would
    otherwise walk every org of the application through an index led by application_id
    (``+ 0`` is SQLite's way to say "not through an index"; PostgreSQL plans the same)."""
    if conditions:
        return (OrgSegment.application_id + 0) == application_id
    return OrgSegment.application_id == application_id


def rows(session: Session, application_id: int, *conditions: Any) -> pd.DataFrame:
    """Stored rows (index org_id, ``ROW_COLUMNS``) of the application's orgs matching ``conditions``."""
    stmt = _select().where(_of_application(application_id, conditions), *conditions)
    frame = queries.rows_frame(session.execute(stmt).all(), ROW_COLUMNS).set_index("org_id")
    for col in ("score", "snapshot_mrr", "prev_score", "mrr", "value", "potential", "account_priority"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["last_seen"] = pd.to_datetime(frame["last_seen"], utc=True)
    return frame


def rank_rows(session: Session, application_id: int, *conditions: Any) -> pd.DataFrame:
    """What ranking a list needs of each matching org (index org_id): its latest snapshot's MRR
    (``mrr``) and the suggested case (``suggested_case``)."""
    stmt = select(OrgSegment.org_id, cast(OrgSegment.snapshot_mrr, Float), OrgSegment.suggested_case).where(
        _of_application(application_id, conditions), *conditions)
    frame = queries.rows_frame(session.execute(stmt).all(), ["org_id", "mrr", "suggested_case"]).set_index("org_id")
    frame["mrr"] = pd.to_numeric(frame["mrr"], errors="coerce").astype(float)
    return frame


def org_ids(session: Session, application_id: int, *conditions: Any) -> pd.Index:
    """Ids of the application's orgs whose stored segments match ``conditions`` (an indexed read)."""
    return pd.Index(session.scalars(select(OrgSegment.org_id).where(
        OrgSegment.application_id == application_id, *conditions)).all())


def cell_totals(session: Session, application_id: int) -> dict[str, tuple[int, list[float]]]:
    """Per cell: (orgs, their MRRs in org order)."""
    found = session.execute(
        select(OrgSegment.cell, OrgSegment.mrr)
        .where(OrgSegment.application_id == application_id, OrgSegment.cell.is_not(None))
        .order_by(OrgSegment.cell, OrgSegment.org_id)).all()
    out: dict[str, tuple[int, list[float]]] = {}
    for cell, mrr in found:
        count, values = out.get(str(cell), (0, []))
        values.append(float(mrr))
        out[str(cell)] = (count + 1, values)
    return out


def cell_members(session: Session, application_id: int, cell: str) -> pd.DataFrame:
    """The orgs of one cell: org_id, name, mrr (as of the scan's day), health."""
    found = session.execute(
        select(OrgSegment.org_id, Org.name, OrgSegment.mrr, OrgSegment.score)
        .join(Org, Org.org_id == OrgSegment.org_id)
        .where(OrgSegment.application_id == application_id, OrgSegment.cell == cell)).all()
    frame = queries.rows_frame(found, ["org_id", "name", "mrr", "health"])
    frame["mrr"] = pd.to_numeric(frame["mrr"]).astype(float)
    frame["health"] = pd.to_numeric(frame["health"], errors="coerce").astype(float)
    return frame
