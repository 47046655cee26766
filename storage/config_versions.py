"""The configurations scans ran with: each stored once, found again by its fingerprint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import ConfigVersion, HealthSnapshot, ScanRun


def version_id(session: Session, fingerprint: str, settings: dict[str, Any], now: dt.datetime, by: str) -> int:
    """The id of the stored configuration with this fingerprint, storing it first when new.

    Two scans racing to store the same new configuration: the loser's insert fails on the
    unique fingerprint inside a savepoint, and it reads the winner's row.
    """
    found = session.scalar(select(ConfigVersion.id).where(ConfigVersion.fingerprint == fingerprint))
    if found is not None:
        return int(found)
    try:
        with session.begin_nested():
            row = ConfigVersion(fingerprint=fingerprint, settings=settings, recorded_at=now, recorded_by=by)
            session.add(row)
        return int(row.id)
    except IntegrityError:
        winner = session.scalar(select(ConfigVersion.id).where(ConfigVersion.fingerprint == fingerprint))
        assert winner is not None, "the insert that beat ours is committed by now"
        return int(winner)


def scan_configs(session: Session, application_id: int) -> list[tuple[int, dt.datetime]]:
    """(configuration id, as-of time) of the application's successful scans that recorded
    theirs, in scan order."""
    rows = session.execute(
        select(ScanRun.config_version_id, ScanRun.as_of)
        .where(ScanRun.application_id == application_id, ScanRun.config_version_id.is_not(None),
               ScanRun.status == "ok")
        .order_by(ScanRun.as_of, ScanRun.id)
    ).all()
    return [(int(vid), as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc))
            for vid, as_of in rows if vid is not None]


def versions(session: Session, ids: Sequence[int]) -> dict[int, ConfigVersion]:
    return {v.id: v for v in session.scalars(select(ConfigVersion).where(ConfigVersion.id.in_(list(ids))))}


def settings_of_snapshots(session: Session, snapshot_ids: Sequence[int]) -> dict[int, ConfigVersion | None]:
    """snapshot id → the configuration of the scan that wrote it (None when not recorded)."""
    rows = session.execute(
        select(HealthSnapshot.id, ConfigVersion)
        .select_from(HealthSnapshot)
        .outerjoin(ScanRun, ScanRun.id == HealthSnapshot.scan_run_id)
        .outerjoin(ConfigVersion, ConfigVersion.id == ScanRun.config_version_id)
        .where(HealthSnapshot.id.in_(list(snapshot_ids)))
    ).all()
    return {int(sid): version for sid, version in rows}
