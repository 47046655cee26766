"""Signed Slack requests already taken, shared by every replica through the database.

One INSERT … ON CONFLICT DO NOTHING per request decides, atomically and across replicas,
whether this is the first time the key is seen: two replicas racing on the same replayed
request can't both win. Keys whose request timestamp is older than the window Slack's
signature check accepts (five minutes, either way) can never be presented again with a
passing check, so they are deleted now and then.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.models import SlackRequestKey

# Slack refuses timestamps more than 5 minutes off; keep keys a little longer than that.
WINDOW = dt.timedelta(minutes=5)
KEEP = WINDOW * 2


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(SlackRequestKey)


def claim(session: Session, key: str, sent_at: dt.datetime) -> bool:
    """Record `key`; False when it was already recorded (the request is a replay)."""
    stmt = (_insert(session).values(key=key, sent_at=sent_at).on_conflict_do_nothing(index_elements=["key"])
            .returning(SlackRequestKey.key))  # a row back only when this insert made it
    return session.execute(stmt).scalar_one_or_none() is not None


def prune(session: Session, sent_before: dt.datetime) -> int:
    """Forget keys of requests sent before `sent_before`; returns how many went."""
    return session.execute(delete(SlackRequestKey).where(SlackRequestKey.sent_at < sent_before)).rowcount


def first_time_seen(factory: sessionmaker[Session], key: str, sent_at: dt.datetime, *,
                    prune_too: bool = False) -> bool:
    """Claim `key` in its own transaction; with `prune_too`, also forget keys too old to be
    replayed (older than KEEP before this request's timestamp)."""
    with factory() as session, session.begin():
        first = claim(session, key, sent_at)
        if prune_too:
            prune(session, sent_at - KEEP)
    return first
