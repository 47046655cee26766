"""Signed Slack requests already taken, shared by every replica through the database.

An INSERT … ON CONFLICT DO NOTHING … RETURNING decides, atomically and across replicas,
whether this is the first time a key is seen: two replicas racing on the same replayed
request can't both win. It takes many keys at once, so requests arriving together can share
one transaction (``services.tracker`` groups them). Keys whose request timestamp is older than the window Slack's
signature check accepts (five minutes, either way) can never be presented again with a
passing check, so they are deleted now and then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import SlackRequestKey

# Slack refuses timestamps more than 5 minutes off; keep keys a little longer than that.
WINDOW = dt.timedelta(minutes=5)
KEEP = WINDOW * 2


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(SlackRequestKey)


def claim_many(session: Session, keys: Sequence[tuple[str, dt.datetime]]) -> set[str]:
    """Record many (key, sent_at) at once, in one statement; returns the keys this insert
    recorded (a key already there, or twice in `keys`, is recorded once)."""
    rows = list({key: {"key": key, "sent_at": sent_at} for key, sent_at in reversed(keys)}.values())
    if not rows:
        return set()
    stmt = (_insert(session).values(rows).on_conflict_do_nothing(index_elements=["key"])
            .returning(SlackRequestKey.key))
    return set(session.scalars(stmt))


def prune(session: Session, sent_before: dt.datetime) -> int:
    """Forget keys of requests sent before `sent_before`; returns how many went."""
    deleted = session.execute(delete(SlackRequestKey).where(SlackRequestKey.sent_at < sent_before))
    return cast(CursorResult[Any], deleted).rowcount
