"""What the revenue, cells, tiers and case reads need from the database, as frames.

The database hands over one row per subscription and one row per org (joins and
aggregates, no per-row Python); the arithmetic happens in ``scoring``, put together by
``services.revenue``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from domain.vocabulary import OPEN_STATUSES
from storage import owners, queries
from storage.models import Application, HealthSnapshot, Org, Signal, Subscription, UsageDaily

# Up to this many orgs, a per-org read names them (an IN list) rather than reading them all.
FEW_ORGS = 500


def application_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Application.id).where(Application.name == name))


def _frame(session: Session, stmt: Select) -> pd.DataFrame:
    result = session.connection().execute(stmt)  # Core rows: the ORM's result layer adds only cost
    return queries.rows_frame(result.all(), list(result.keys()))


def subscriptions(session: Session, app_id: int) -> pd.DataFrame:
    """The application's subscriptions in the frame ``scoring.revenue`` reads."""
    subs = _frame(session, (
        select(Subscription.subscription_id, Subscription.org_id, Subscription.mrr, Subscription.started_at,
               Subscription.ended_at, Subscription.status)
        .join(Org, Org.org_id == Subscription.org_id)
        .where(Org.application_id == app_id)
    ))
    subs["mrr"] = subs["mrr"].astype(float)
    return subs


def org_names(session: Session, app_id: int) -> pd.Series:
    names = _frame(session, select(Org.org_id, Org.name).where(Org.application_id == app_id))
    return names.set_index("org_id")["name"]


def org_attributes(session: Session, app_id: int) -> pd.DataFrame:
    """Per org (index org_id): name, owner, source, created_at, renewal_date and the three
    scores tiers read (icp_fit, strategic, relationship) as floats."""
    orgs = _frame(
        session,
        owners.with_owner(
            select(Org.org_id, Org.name, owners.effective_owner().label("owner"), Org.source, Org.created_at,
                   Org.renewal_date, Org.icp_fit, Org.strategic, Org.relationship_score.label("relationship")))
        .where(Org.application_id == app_id),
    ).set_index("org_id")
    for col in ("icp_fit", "strategic", "relationship"):
        orgs[col] = pd.to_numeric(orgs[col], errors="coerce").astype(float)
    orgs["created_at"] = pd.to_datetime(orgs["created_at"], utc=True)
    orgs["renewal_date"] = pd.to_datetime(orgs["renewal_date"])
    return orgs


def latest_snapshot_numbers(session: Session, app_id: int, as_of: dt.date) -> pd.DataFrame:
    """Per org, its latest snapshot on or before ``as_of``: health, the three component numbers
    tiers and cases read (extracted from the JSON by the database) and last seen."""
    h = HealthSnapshot
    latest = queries.latest_snapshot_days(app_id, on_or_before=as_of)
    stmt = select(
        latest.c.org_id,
        h.score.label("health"),
        queries.component_field("activity", "score").label("activity_score"),
        queries.component_field("trend", "value").label("usage_change"),
        queries.component_field("seat_utilization", "value").label("seat_utilization"),
        h.last_seen,
    ).join(h, and_(h.org_id == latest.c.org_id, h.day == latest.c.day))
    snaps = _frame(session, stmt).set_index("org_id")
    out = snaps.drop(columns="last_seen").apply(pd.to_numeric, errors="coerce").astype(float)
    out["last_seen"] = pd.to_datetime(snaps["last_seen"], utc=True)
    return out


def rollup_last_seen(session: Session, app_id: int, as_of: dt.date, org_ids: pd.Index) -> pd.Series:
    """Last seen from the daily usage rollups, for orgs no scan has looked at yet: grouped by
    the orgs' numbers, their ids joined to the grouped rows."""
    d = UsageDaily
    orgs = queries.app_org_keys(app_id)
    if len(org_ids) <= FEW_ORGS:
        orgs = orgs.where(Org.org_id.in_(org_ids.tolist()))
    grouped = (
        select(d.org_key, func.max(d.last_event_at).label("last_event_at"), func.max(d.day).label("last_day"))
        .where(d.org_key.in_(orgs), d.day <= as_of, d.events > 0)
        .group_by(d.org_key)
    )
    seen = _frame(session, queries.named_by_org(grouped)).set_index("org_id")
    # A day with events but no recorded time still means "seen": fall back to that day.
    last_seen = pd.to_datetime(seen["last_event_at"], utc=True).fillna(pd.to_datetime(seen["last_day"], utc=True))
    return last_seen.reindex(org_ids)


def open_signal_types(session: Session, app_id: int) -> pd.DataFrame:
    """(org_id, type) of every open signal: active, dismissed or snoozed (its condition holds)."""
    return _frame(
        session,
        select(Signal.org_id, Signal.type)
        .where(Signal.application_id == app_id, Signal.status.in_(OPEN_STATUSES))
        .distinct(),
    )
