"""Scan runs: which scans happened, when, and whether they succeeded."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ScanRun

STATUS_OK = "ok"


def latest_ok_scan_id(session: Session, application_id: int) -> int | None:
    """The id of the application's latest successful scan: what a read cache is keyed on."""
    return session.scalar(
        select(func.max(ScanRun.id)).where(ScanRun.application_id == application_id, ScanRun.status == STATUS_OK)
    )


def latest_ok_scan_time(session: Session, application_id: int) -> dt.datetime | None:
    """The as-of instant of the application's latest successful scan."""
    return session.scalar(
        select(func.max(ScanRun.as_of)).where(ScanRun.application_id == application_id, ScanRun.status == STATUS_OK)
    )
