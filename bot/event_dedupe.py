"""Slack retries an event when it thinks we missed it (X-Slack-Retry-Num); Bolt does not
de-duplicate, so the event id is remembered in the database — shared by every replica —
and a repeat is acknowledged without running the listener again."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import SlackEventSeen

log = logging.getLogger(__name__)

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


def dedupe_middleware(factory: sessionmaker[Session], now: Callable[[], dt.datetime]) -> Callable[..., Any]:
    def middleware(body: dict[str, Any], next: Callable[[], Any]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not first_time_seen(factory, event_id, now()):
            log.info("event %s already handled; Slack retry acknowledged and skipped", event_id)
            return BoltResponse(status=200, body="")
        return next()

    return middleware
