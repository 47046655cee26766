"""Rollup rows for tests, by names: one place that knows how usage is stored.

Tests that need usage without importing events write an org-day here instead of building the
rollup models themselves, and the import tests read what was stored through ``daily``,
``per_user`` and ``per_feature``, so a change in how the rollups are keyed or laid out
changes this file, not every test that needs a busy org or checks an import. The rollups are
keyed by numbers (``usage_orgs``, ``usage_users``, ``usage_features``): the writers number
the names they are given, the readers join the names back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import UsageDaily, UsageDailyFeature, UsageDailyUser, UsageFeature, UsageOrg, UsageUser

# -- numbering names the way the import does: an existing name keeps its number, a new one
# gets the largest number so far plus one ---------------------------------------------------


def _number(session: Session, model: type, key: str, **name: object) -> int:
    """The number of the dictionary entry of ``model`` named ``name``, added if new (next
    number: the largest so far plus one). Entries added earlier in the same session and not
    yet flushed count too, and nothing is flushed: writing a day flushes no more of the
    test's rows than adding them did."""
    pending = [obj for obj in session.new if isinstance(obj, model)]
    for obj in pending:
        if all(getattr(obj, col) == value for col, value in name.items()):
            return int(getattr(obj, key))
    with session.no_autoflush:
        found = session.scalar(select(getattr(model, key)).filter_by(**name))
        if found is not None:
            return int(found)
        stored_max = session.scalar(select(func.max(getattr(model, key)))) or 0
    number = max([stored_max, *(getattr(obj, key) for obj in pending)]) + 1
    session.add(model(**{key: number}, **name))
    return number


def org_key(session: Session, org_id: str) -> int:
    """The org's rollup number, added if new."""
    return _number(session, UsageOrg, "org_key", org_id=org_id)


def user_key(session: Session, org_id: str, user_id: str) -> int:
    """The rollup number of the org's user, added if new (a user id is scoped by its org)."""
    return _number(session, UsageUser, "user_key", org_key=org_key(session, org_id), user_id=user_id)


def feature_key(session: Session, feature: str) -> int:
    """The feature's rollup number, added if new."""
    return _number(session, UsageFeature, "feature_key", feature=feature)


def add_usage_day(session: Session, org_id: str, day: dt.date, *, users: Mapping[str, int] | None = None,
                  features: Mapping[str, int] | None = None, last_event_at: dt.datetime | None = None,
                  events: int | None = None, active_users: int | None = None,
                  distinct_features: int | None = None) -> None:
    """One org-day: its daily row, and a row per user and per feature given. The daily
    counts follow the rows (events: the users' sum; active users and distinct features:
    how many) unless a test sets them, for a day whose users or features it leaves out.
    Names get their numbers here, new ones added to the dictionaries."""
    users = users or {}
    features = features or {}
    org = org_key(session, org_id)
    session.add(UsageDaily(
        org_key=org, day=day, events=sum(users.values()) if events is None else events,
        active_users=len(users) if active_users is None else active_users,
        distinct_features=len(features) if distinct_features is None else distinct_features,
        last_event_at=last_event_at))
    for user, n in users.items():
        session.add(UsageDailyUser(org_key=org, day=day, user_key=user_key(session, org_id, user), events=n))
    for feature, n in features.items():
        session.add(UsageDailyFeature(org_key=org, day=day, feature_key=feature_key(session, feature), events=n))


def add_event(session: Session, org_id: str, when: dt.datetime) -> None:
    """A small day of use at ``when``: three events by one user, one feature counted."""
    add_usage_day(session, org_id, when.date(), users={"u1": 3}, distinct_features=1, last_event_at=when)


# -- reading what an import stored, by names, ordered by org, day and name -----------------

def _stored(factory: sessionmaker[Session], stmt) -> list[tuple]:
    with factory() as s:
        return [tuple(r) for r in s.execute(stmt).all()]


def daily(factory: sessionmaker[Session]) -> list[tuple]:
    d, o = UsageDaily, UsageOrg
    return _stored(factory, select(o.org_id, d.day, d.events, d.active_users, d.distinct_features, d.last_event_at)
                   .join(o, o.org_key == d.org_key).order_by(o.org_id, d.day))


def per_user(factory: sessionmaker[Session]) -> list[tuple]:
    u, o, n = UsageDailyUser, UsageOrg, UsageUser
    return _stored(factory, select(o.org_id, u.day, n.user_id, u.events)
                   .join(o, o.org_key == u.org_key).join(n, n.user_key == u.user_key)
                   .order_by(o.org_id, u.day, n.user_id))


def per_feature(factory: sessionmaker[Session]) -> list[tuple]:
    f, o, n = UsageDailyFeature, UsageOrg, UsageFeature
    return _stored(factory, select(o.org_id, f.day, n.feature, f.events)
                   .join(o, o.org_key == f.org_key).join(n, n.feature_key == f.feature_key)
                   .order_by(o.org_id, f.day, n.feature))
