"""bot.metrics: per-endpoint counts and percentiles, and the gate that lets acknowledgements
in progress go before the work."""

from __future__ import annotations

import threading
import time

from bot.metrics import Metrics, percentile


def test_percentiles_by_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_snapshot_counts_per_endpoint() -> None:
    m = Metrics()
    for ms in (1, 2, 3, 4):
        m.acked("/signals", ms / 1000)
    m.worked("/signals", 0.100)
    m.worked("/signals", 0.300, failed=True)
    m.acked("action case_tag", 0.005)
    m.failed("action case_tag")
    m.refused("replayed")
    m.refused("replayed")
    snap = m.snapshot()
    assert snap["refused"] == {"replayed": 2} and snap["acknowledging"] == 0
    signals = snap["endpoints"]["/signals"]
    assert (signals["count"], signals["in_flight"], signals["errors"]) == (4, 2, 1)
    assert signals["ack_ms"] == {"p50": 2.0, "p99": 4.0, "max": 4.0}
    assert signals["work_ms"] == {"p50": 100.0, "p99": 300.0, "max": 300.0}
    tag = snap["endpoints"]["action case_tag"]
    assert (tag["count"], tag["errors"], tag["work_ms"]["p50"]) == (1, 1, None)


def test_work_waits_for_acknowledgements_in_progress_but_not_forever() -> None:
    m = Metrics()
    assert m.wait_for_acknowledgements(0.0) is True  # nothing in progress
    m.receiving()
    m.receiving()
    assert m.wait_for_acknowledgements(0.05) is False  # gives up after the timeout
    released = threading.Event()

    def waiter() -> None:
        if m.wait_for_acknowledgements(5.0):
            released.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    m.received()
    time.sleep(0.05)
    assert not released.is_set()  # one still in progress
    m.received()
    thread.join(5.0)
    assert released.is_set()
