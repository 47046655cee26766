"""The import's side thread: streams started one ahead, work run alongside.

The events and the waits below make the order of the two threads observable without
timing anything: a wait that should be released promptly gets a generous timeout, which
only an implementation that runs the streams one after the other would ever reach.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import duckdb
import pytest

from storage.side_thread import alongside, fed_alongside, in_turn, started_ahead
from storage.staging import duckdb_frames

PROMPT = 30.0  # seconds; reached only when the side thread never started the stream


def _stream(name: str, items: list[int], log: list[str], started: threading.Event | None = None) -> Iterator[int]:
    log.append(f"start {name}")
    if started is not None:
        started.set()
    try:
        yield from items
    finally:
        log.append(f"closed {name}")


def test_every_stream_comes_whole_and_in_order() -> None:
    log: list[str] = []
    streams = [_stream("a", [1, 2], log), _stream("b", [], log), _stream("c", [3], log)]
    assert [list(s) for s in started_ahead(streams)] == [[1, 2], [], [3]]
    assert [e for e in log if e.startswith("start")] == ["start a", "start b", "start c"]


def test_the_next_stream_starts_on_the_side_while_the_current_one_is_consumed() -> None:
    log: list[str] = []
    second_started = threading.Event()
    consumer = threading.get_ident()
    threads: dict[str, int] = {}

    def second() -> Iterator[int]:
        threads["second"] = threading.get_ident()
        yield from _stream("b", [9], log, second_started)

    streams = [_stream("a", [1, 2, 3], log), second()]
    ahead = started_ahead(streams)
    first = next(ahead)
    assert next(first) == 1
    # Still in the middle of the first stream: the second one was started meanwhile.
    assert second_started.wait(PROMPT)
    assert list(first) == [2, 3]
    assert list(next(ahead)) == [9]
    assert threads["second"] != consumer


def test_an_error_starting_a_stream_reaches_the_consumer() -> None:
    def broken() -> Iterator[int]:
        raise RuntimeError("the sort ran out of disk")
        yield 0  # pragma: no cover

    ahead = started_ahead([iter([1]), broken()])
    assert list(next(ahead)) == [1]
    with pytest.raises(RuntimeError, match="ran out of disk"):
        next(ahead)


def test_streams_left_when_the_consumer_stops_are_closed() -> None:
    log: list[str] = []
    streams = [_stream("a", [1, 2], log), _stream("b", [3], log), _stream("c", [4], log)]
    ahead = started_ahead(streams)
    first = next(ahead)
    assert next(first) == 1
    ahead.close()  # the consumer gave up (an error writing "a", say)
    assert "closed a" in log and "closed b" in log  # started ones have their cursors closed
    assert "start c" not in log  # never started: nothing to close


def test_work_alongside_runs_on_another_thread_and_is_waited_for() -> None:
    main = threading.get_ident()
    release = threading.Event()
    seen: dict[str, object] = {}

    def work() -> None:
        seen["thread"] = threading.get_ident()
        assert release.wait(PROMPT)
        seen["done"] = True

    with alongside(work):
        release.set()  # the block runs while the work waits for it: not one after the other
    assert seen == {"thread": seen["thread"], "done": True}
    assert seen["thread"] != main


def test_an_error_of_the_work_is_raised_when_the_block_ends() -> None:
    def work() -> None:
        raise ValueError("duplicate key")

    with pytest.raises(ValueError, match="duplicate key"), alongside(work):
        pass


def test_the_block_failing_still_waits_for_the_work() -> None:
    failing = threading.Event()
    finished = threading.Event()

    def work() -> None:
        # Still running when the block fails: only waiting for it makes ``finished`` set.
        assert failing.wait(PROMPT)
        for _ in range(200):
            threading.Event().wait(0.001)
        finished.set()

    with pytest.raises(KeyError), alongside(work):
        failing.set()
        raise KeyError("boom")
    assert finished.is_set()


def test_inline_work_runs_first_on_this_thread() -> None:
    order: list[tuple[str, int]] = []
    with alongside(lambda: order.append(("work", threading.get_ident())), inline=True):
        order.append(("block", threading.get_ident()))
    assert order == [("work", threading.get_ident()), ("block", threading.get_ident())]


def test_duckdb_queries_started_ahead_give_their_sorted_rows() -> None:
    duck = duckdb.connect()
    duck.execute("CREATE TABLE t AS SELECT (range * 7919) % 10007 AS v FROM range(10007)")
    queries = ["SELECT v FROM t ORDER BY v", "SELECT v FROM t WHERE v < 5 ORDER BY v DESC", "SELECT v FROM t LIMIT 0"]
    streams = [duckdb_frames(duck, q, 2048) for q in queries]
    got = [[int(x) for frame in frames for x in frame["v"]] for frames in started_ahead(streams)]
    assert got == [list(range(10007)), [4, 3, 2, 1, 0], []]


def test_work_in_turn_runs_in_order_on_one_side_thread_while_the_caller_goes_on() -> None:
    log: list[str] = []
    first_running = threading.Event()
    caller_went_on = threading.Event()
    caller = threading.get_ident()
    threads: set[int] = set()

    def first() -> None:
        threads.add(threading.get_ident())
        first_running.set()
        # Released only by the caller handing over more work meanwhile.
        assert caller_went_on.wait(PROMPT)
        log.append("first")

    def second() -> None:
        threads.add(threading.get_ident())
        log.append("second")

    with in_turn() as turns:
        turns.then(first)
        assert first_running.wait(PROMPT)
        turns.then(second)
        caller_went_on.set()
    assert log == ["first", "second"]
    assert len(threads) == 1 and caller not in threads


def test_after_a_failure_in_turn_the_rest_is_skipped_and_the_failure_raised() -> None:
    log: list[str] = []

    def fail() -> None:
        raise RuntimeError("copy failed")

    with pytest.raises(RuntimeError, match="copy failed"):
        with in_turn() as turns:
            turns.then(lambda: log.append("one"))
            turns.then(fail)
            turns.then(lambda: log.append("after"))
    assert log == ["one"]


def test_the_caller_failing_cancels_work_not_started_and_waits_for_the_running_one() -> None:
    log: list[str] = []
    running = threading.Event()
    release = threading.Event()

    def slow() -> None:
        running.set()
        assert release.wait(PROMPT)
        log.append("slow done")

    with pytest.raises(ValueError, match="duckdb failed"):
        with in_turn() as turns:
            turns.then(slow)
            turns.then(lambda: log.append("never"))
            assert running.wait(PROMPT)
            threading.Timer(0.05, release.set).start()
            raise ValueError("duckdb failed")
    # Leaving the block waited for the running work; the next one never started.
    assert log == ["slow done"]


def test_items_fed_alongside_are_consumed_on_the_side_all_and_in_order() -> None:
    consumed: list[int] = []
    threads: set[bool] = set()

    def consume(items: Iterator[int]) -> None:
        for item in items:
            threads.add(threading.current_thread() is threading.main_thread())
            consumed.append(item)

    with fed_alongside(consume, ahead=2) as hand_over:
        handed = [hand_over(i) for i in range(50)]
    assert handed == [True] * 50 and consumed == list(range(50)) and threads == {False}


def _within_prompt(body) -> BaseException | None:
    """Run ``body`` on a thread of its own and return what it raised: a body that waits
    forever fails the test instead of hanging the suite."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            body()
            raised.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(PROMPT)
    assert not thread.is_alive(), "fed_alongside waits forever"
    return raised[0]


def test_a_consumer_that_fails_stops_the_feeding_and_its_error_is_raised() -> None:
    """Once the consumer has raised, handing over says so instead of waiting for room that
    never comes (two items fit; the third would wait forever)."""
    def consume(items: Iterator[int]) -> None:
        next(items)
        raise RuntimeError("the store went away")

    refused: list[int] = []

    def feed() -> None:
        with fed_alongside(consume, ahead=2) as hand_over:
            for i in range(100):
                if not hand_over(i):
                    refused.append(i)
                    break

    raised = _within_prompt(feed)
    assert isinstance(raised, RuntimeError) and "the store went away" in str(raised)
    assert len(refused) == 1 and 0 < refused[0] <= 4


def test_a_caller_that_fails_ends_the_items_and_its_own_error_is_raised() -> None:
    consumed: list[int] = []

    def consume(items: Iterator[int]) -> None:
        consumed.extend(items)

    def feed() -> None:
        with fed_alongside(consume, ahead=2) as hand_over:
            hand_over(1)
            hand_over(2)
            raise ValueError("a bad chunk")

    raised = _within_prompt(feed)
    assert isinstance(raised, ValueError) and "a bad chunk" in str(raised)
    assert consumed == [1, 2]
