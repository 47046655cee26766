"""An org's subscriptions as its detail lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Subscription


def org_subscriptions(session: Session, org_id: str) -> list[Subscription]:
    """The org's subscriptions, latest start first."""
    return list(session.scalars(
        select(Subscription).where(Subscription.org_id == org_id).order_by(Subscription.started_at.desc())
    ))
