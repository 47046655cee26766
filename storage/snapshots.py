"""Reads of the daily health snapshots a scan writes: each org's latest, and the one before.

Every read finds each org's latest day through the (org_id, day) index from the orgs
(``storage.queries.latest_snapshot_days``), so its cost does not grow with the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Float, and_, cast, select
from sqlalchemy.orm import Session, aliased

from storage import queries
from storage.models import HealthSnapshot


def latest_snapshots(session: Session, application_id: int, org_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Latest and previous health snapshot per org (all orgs, or ``org_ids``), index org_id:
    score, band, mrr, last_seen, day, prev_score and health_delta (score − prev_score)."""
    h = HealthSnapshot
    p = aliased(HealthSnapshot)
    latest = queries.latest_snapshot_days(application_id, org_ids=org_ids)
    prev_score = (
        select(p.score).where(p.org_id == latest.c.org_id, p.day < latest.c.day).order_by(p.day.desc()).limit(1)
        .scalar_subquery()
    )
    stmt = select(latest.c.org_id, h.score, h.band, cast(h.mrr, Float), h.last_seen, h.day, prev_score).join(
        h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day)
    )
    columns = ["org_id", "score", "band", "mrr", "last_seen", "day", "prev_score"]
    frame = queries.rows_frame(session.execute(stmt).all(), columns).set_index("org_id")
    frame = frame.assign(
        score=pd.to_numeric(frame["score"]).astype(float),
        mrr=pd.to_numeric(frame["mrr"]).astype(float),
        prev_score=pd.to_numeric(frame["prev_score"]).astype(float),
    )
    frame["health_delta"] = frame["score"] - frame["prev_score"]
    return frame


def latest_two(session: Session, org_id: str) -> list[HealthSnapshot]:
    """The org's latest snapshot and the one before it, newest first (fewer when there are none)."""
    return list(session.scalars(
        select(HealthSnapshot).where(HealthSnapshot.org_id == org_id).order_by(HealthSnapshot.day.desc()).limit(2)
    ))


def scores_between(session: Session, org_id: str, first: dt.date, last: dt.date) -> list[tuple[dt.date, float | None]]:
    """(day, health score) of the org's daily snapshots from `first` to `last`, oldest first."""
    return [(day, score) for day, score in session.execute(
        select(HealthSnapshot.day, HealthSnapshot.score)
        .where(HealthSnapshot.org_id == org_id, HealthSnapshot.day >= first, HealthSnapshot.day <= last)
        .order_by(HealthSnapshot.day)
    ).all()]
