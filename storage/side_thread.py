"""Work an import or a scan hands to a second thread, so that both of a machine's cores work.

An import alternates between two kinds of work that each leave a core idle: DuckDB's
sorts and groupings (its own C++ threads, Python's GIL released) and the database's
writes (SQLite's B-tree inserts with the GIL released around each step; PostgreSQL's server,
another process, taking a COPY and building a primary key while the client waits). Run one
after the other, one core waits for the other. Two seams put them side by side:

* ``alongside``: a function (storing the event keys; a scan's snapshots) runs on a side
  thread while the caller goes on with work that needs neither its database connection nor
  its results (DuckDB's; the scan's signal evaluation).
* ``fed_alongside``: a function (storing the event keys) consumes, on a side thread, items
  the caller hands over one by one as it makes them (each chunk's keys).
* ``in_turn``: functions (writing one table each) run one after the other on a side
  thread, each handed over as soon as the caller has produced what it writes.
* ``started_ahead``: of several row streams written one after the other, the next one's
  query is started (its sort done, its first rows fetched) on a side thread while the
  caller writes the current one.

Only one thread uses a database connection or a DuckDB cursor at a time: a stream is handed
over whole, and ``alongside`` waits for its function before the caller touches the
connection again. What each thread sees is the same transaction as without them.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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


_END = object()  # what ends the items of ``fed_alongside``
_POLL_SECONDS = 0.05  # how often a caller waiting to hand an item over looks whether the consumer stopped


@contextmanager
def fed_alongside(consume: Callable[[Iterator[Any]], Any], ahead: int) -> Iterator[Callable[[Any], bool]]:
    """Run ``consume`` on a side thread over the items the caller hands over, one by one, as
    it makes them: the ``with`` block gets the function that hands one over. At most
    ``ahead`` items wait (what waits is held in memory, outside DuckDB's limit). Handing an
    item over returns False once ``consume`` has stopped early (it raised): the caller can
    stop making items. Leaving the block, normally or by an exception, ends the items,
    waits for ``consume`` and raises what it raised."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stopped = threading.Event()

    def items() -> Iterator[Any]:
        while (item := waiting.get()) is not _END:
            yield item

    def run() -> None:
        try:
            consume(items())
        finally:
            stopped.set()

    def hand_over(item: Any) -> bool:
        while not stopped.is_set():
            try:
                waiting.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    with alongside(run):
        try:
            yield hand_over
        finally:
            hand_over(_END)


class InTurn:
    """Functions run one after the other on a side thread, in the order handed over, while
    the caller goes on (``in_turn``): the caller produces the next piece of work (a table in
    DuckDB) while the side thread writes the last one. Once one has raised, the rest are
    skipped: they share its transaction."""

    def __init__(self, side: ThreadPoolExecutor) -> None:
        self._side = side
        self._done: list[Future[Any]] = []
        self._failed = False

    def then(self, work: Callable[[], Any]) -> None:
        """Run ``work`` after everything handed over before it."""
        def guarded() -> Any:
            if self._failed:
                return None
            try:
                return work()
            except BaseException:
                self._failed = True
                raise

        self._done.append(self._side.submit(guarded))

    def wait(self) -> None:
        """Wait for all of it; raise the first thing that raised."""
        for done in self._done:
            done.result()


@contextmanager
def in_turn() -> Iterator[InTurn]:
    """An ``InTurn`` for the ``with`` block. On leaving it normally, everything handed over
    is waited for and the first failure raised. Leaving by an exception cancels what has not
    started and waits for what has (its connection must be free before the transaction is
    rolled back)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-turn") as side:
        turns = InTurn(side)
        try:
            yield turns
        except BaseException:
            side.shutdown(wait=True, cancel_futures=True)
            raise
        turns.wait()


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
