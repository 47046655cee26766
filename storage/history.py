"""How far back the data goes: what a backtest may score and what its outcomes may look at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Org, Subscription, UsageDaily
from storage.queries import app_org_keys


def usage_span(session: Session, application_id: int) -> tuple[dt.date, dt.date] | None:
    """First and last day with usage rolled up for the application; None without usage. The
    rollups are keyed by the orgs' numbers: filtered by those of the application's orgs."""
    first, last = session.execute(
        select(func.min(UsageDaily.day), func.max(UsageDaily.day))
        .where(UsageDaily.org_key.in_(app_org_keys(application_id)))
    ).one()
    return (first, last) if first is not None else None


def first_subscription_day(session: Session, application_id: int) -> dt.date | None:
    return session.scalar(
        select(func.min(Subscription.started_at)).join(Org, Org.org_id == Subscription.org_id)
        .where(Org.application_id == application_id)
    )
