"""Rollup rows for tests, by names: one place that knows how usage is stored.

Tests that need usage without importing events write an org-day here instead of building the
rollup models themselves, and the import tests read what was stored through ``daily``,
``per_user`` and ``per_feature``, so a change in how the rollups are keyed or laid out
changes this file, not every test that needs a busy org or checks an import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import UsageDaily, UsageDailyFeature, UsageDailyUser


def add_usage_day(session: Session, org_id: str, day: dt.date, *, users: Mapping[str, int] | None = None,
                  features: Mapping[str, int] | None = None, last_event_at: dt.datetime | None = None,
                  events: int | None = None, active_users: int | None = None,
                  distinct_features: int | None = None) -> None:
    """One org-day: its daily row, and a row per user and per feature given. The daily
    counts follow the rows (events: the users' sum; active users and distinct features:
    how many) unless a test sets them, for a day whose users or features it leaves out."""
    users = users or {}
    features = features or {}
    session.add(UsageDaily(
        org_id=org_id, day=day, events=sum(users.values()) if events is None else events,
        active_users=len(users) if active_users is None else active_users,
        distinct_features=len(features) if distinct_features is None else distinct_features,
        last_event_at=last_event_at))
    for user, n in users.items():
        session.add(UsageDailyUser(org_id=org_id, day=day, user_id=user, events=n))
    for feature, n in features.items():
        session.add(UsageDailyFeature(org_id=org_id, day=day, feature=feature, events=n))


def add_event(session: Session, org_id: str, when: dt.datetime) -> None:
    """A small day of use at ``when``: three events by one user, one feature counted."""
    add_usage_day(session, org_id, when.date(), users={"u1": 3}, distinct_features=1, last_event_at=when)


# -- reading what an import stored, ordered by org, day and name ---------------------------

def _stored(factory: sessionmaker[Session], columns: tuple, order: tuple) -> list[tuple]:
    with factory() as s:
        return [tuple(r) for r in s.execute(select(*columns).order_by(*order)).all()]


def daily(factory: sessionmaker[Session]) -> list[tuple]:
    d = UsageDaily
    return _stored(factory, (d.org_id, d.day, d.events, d.active_users, d.distinct_features, d.last_event_at),
                   (d.org_id, d.day))


def per_user(factory: sessionmaker[Session]) -> list[tuple]:
    u = UsageDailyUser
    return _stored(factory, (u.org_id, u.day, u.user_id, u.events), (u.org_id, u.day, u.user_id))


def per_feature(factory: sessionmaker[Session]) -> list[tuple]:
    f = UsageDailyFeature
    return _stored(factory, (f.org_id, f.day, f.feature, f.events), (f.org_id, f.day, f.feature))
