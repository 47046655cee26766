"""Slack event ids already handled, shared by every replica through the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import SlackEventSeen

KEEP_EVENT_IDS = dt.timedelta(days=1)


def first_time_seen(factory: sessionmaker[Session], event_id: str, now: dt.datetime) -> bool:
    """Record the event id; False when it was already recorded (a retry of a handled event)."""
    try:
        with factory() as session, session.begin():
            session.add(SlackEventSeen(event_id=event_id, seen_at=now))
    except IntegrityError:
        return False
    if hash(event_id) % 100 == 0:  # now and then, forget ids older than Slack retries for
        with factory() as session, session.begin():
            session.execute(delete(SlackEventSeen).where(SlackEventSeen.seen_at < now - KEEP_EVENT_IDS))
    return True
