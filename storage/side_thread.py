"""Work an import hands to a second thread, so that both of a machine's cores work.

An import alternates between two kinds of work that each leave a core idle: DuckDB's
sorts and groupings (its own C++ threads, Python's GIL released) and the database's
writes (SQLite's B-tree inserts with the GIL released around each step; PostgreSQL's server,
another process, taking a COPY and building a primary key while the client waits). Run one
after the other, one core waits for the other. Two seams put them side by side:

* ``alongside``: a function (storing the event keys) runs on a side thread while the caller
  goes on with DuckDB work that needs neither its database connection nor its results.
* ``started_ahead``: of several row streams written one after the other, the next one's
  query is started (its sort done, its first rows fetched) on a side thread while the
  caller writes the current one.

Only one thread uses a database connection or a DuckDB cursor at a time: a stream is handed
over whole, and ``alongside`` waits for its function before the caller touches the
connection again. What each thread sees is the same transaction as without them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def alongside(work: Callable[[], Any], inline: bool = False) -> Iterator[None]:
    """Run ``work`` on a side thread for the duration of the ``with`` block; on leaving it,
    wait for ``work`` and raise what it raised. Leaving by an exception still waits for
    ``work`` (its connection must be free before the transaction is rolled back).
    ``inline``: run ``work`` first, on this thread (a connection that can't move between
    threads: ``storage.db.in_memory_sqlite``)."""
    if inline:
        work()
        yield
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-side") as side:
        done = side.submit(work)
        yield
        done.result()


def _started(stream: Iterator[T]) -> Iterator[T]:
    """``stream`` with its first item already produced: for a DuckDB query, the blocking
    part (the whole sort of an ``ORDER BY``) happens on the first fetch."""
    try:
        first = next(stream)
    except StopIteration:
        return stream
    return itertools.chain((first,), stream)


def started_ahead(streams: Sequence[Iterator[T]]) -> Iterator[Iterator[T]]:
    """Each of ``streams`` in turn, the next one started on a side thread while the caller
    consumes the current one (one ahead: two streams' results held at a time, at most).
    Every stream that has a ``close`` is closed at the end, consumed or not (a cursor's
    stream closes its cursor; ``storage.staging.CursorStream``)."""
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-ahead") as side:
            pending = side.submit(_started, streams[0]) if streams else None
            for i in range(len(streams)):
                assert pending is not None
                current = pending.result()
                pending = side.submit(_started, streams[i + 1]) if i + 1 < len(streams) else None
                yield current
    finally:
        for stream in streams:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
