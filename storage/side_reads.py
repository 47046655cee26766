"""Reads run beside a session's own, on connections of their own.

A scan's aggregates are independent of one another. Run one after another they use one
core; side by side, the database works on each at once — PostgreSQL in a server process
per connection, SQLite with Python's interpreter lock released while it steps through a
query — and the scan's connection keeps reading meanwhile.

What each read sees stays what it saw before:

* PostgreSQL: every side connection imports the scan transaction's exported snapshot
  (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``), so the side reads see exactly
  the rows that were committed when they began, whatever commits meanwhile.
* SQLite: the driver opens a transaction only at the first write, so each of the scan's
  reads has always seen what was committed when it ran; a side connection sees the same.
  A database in memory is one connection's own: there, every read stays on the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
import re
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from storage.db import in_memory_sqlite

T = TypeVar("T")

# Side connections beside the scan's own: this project's machines have 2 cores.
SIDE_READERS = 2

Submit = Callable[[Callable[[Session], T]], "Future[T]"]


def done_now(fn: Callable[[Session], T], session: Session) -> Future[T]:
    """fn run now, on the session itself, as a future that is already resolved."""
    future: Future[T] = Future()
    try:
        future.set_result(fn(session))
    except BaseException as exc:  # handed to whoever asks for the result, as a thread would
        future.set_exception(exc)
    return future


def _reads_beside(conn: Connection) -> bool:
    """Whether another connection to this database reads the same rows: PostgreSQL always,
    SQLite when the database is a file (each in-memory connection has a database of its own)."""
    if conn.dialect.name == "postgresql":
        return True
    return conn.dialect.name == "sqlite" and not in_memory_sqlite(conn)


def _snapshot_id(conn: Connection) -> str:
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    # SET takes no bound parameters: the id goes into the statement, so it must be one.
    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
        raise ValueError(f"unexpected snapshot id from PostgreSQL: {snapshot!r}")
    return snapshot


def _run_beside(engine: Engine, snapshot: str | None, fn: Callable[[Session], T]) -> T:
    with engine.connect() as side:
        if snapshot is not None:
            side = side.execution_options(isolation_level="REPEATABLE READ")
        with side.begin():
            if snapshot is not None:
                # The first statement of the transaction, as PostgreSQL requires.
                side.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                side.exec_driver_sql("SET TRANSACTION READ ONLY")
            with Session(bind=side) as side_session:
                return fn(side_session)


@contextmanager
def side_reads(session: Session, workers: int = SIDE_READERS) -> Iterator[Submit]:
    """A ``submit(fn)`` that runs ``fn(side_session)`` on a side connection and returns its
    future; every future is finished when the block exits. ``fn`` must only read.

    Where no other connection reads the same rows, or with ``workers=0``, ``fn(session)``
    runs at once instead."""
    conn = session.connection()
    if workers < 1 or not _reads_beside(conn):
        yield lambda fn: done_now(fn, session)
        return
    snapshot = _snapshot_id(conn) if conn.dialect.name == "postgresql" else None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="side-read") as pool:
        yield lambda fn: pool.submit(_run_beside, conn.engine, snapshot, fn)
