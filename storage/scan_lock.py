"""One scan of an application at a time.

Two scans started together (a cron job and a person at the terminal, or two worker
replicas) would each delete and rewrite the day's snapshots and plan the same signal
episodes: on PostgreSQL one of them would fail on a duplicate key or a deadlock. The scan's
transaction therefore begins by taking a transaction-level advisory lock keyed on the
application: the second scan waits for the first to commit, then runs on its results (and
rechecks that it still moves forward in time). The lock ends with the transaction, so a
killed scan never leaves it behind. SQLite has no such lock but allows one writer at a
time: the scan rechecks the order after its first write, which is when SQLite takes that
writer's lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session


def scan_lock_key(application_name: str) -> int:
    """A stable signed 64-bit key per application (PostgreSQL's advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"saas-tracker scan {application_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def hold_scan_lock(session: Session, application_name: str, on_wait: Callable[[], None] | None = None) -> None:
    """Hold the application's scan lock until commit or rollback, waiting for it if another
    scan holds it (``on_wait`` is called once, before waiting, so the wait can be logged)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = {"key": scan_lock_key(application_name)}
    if session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
        return
    if on_wait is not None:
        on_wait()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
