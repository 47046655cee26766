"""Per-endpoint counters and timings, in process: how many requests each command, click and
event got, how many failed, and how long the acknowledgement and the work took (p50, p99).

Recorded by the listeners (``bot.listeners``): the acknowledgement time from the moment the
request was taken (``bot.middleware``) to ``ack()``, the work time of the lazy listener
that follows. ``snapshot()`` is what ``/metrics`` serves as JSON; each replica counts its
own requests since it started.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Timings kept per endpoint and phase for the percentiles: the most recent ones.
SAMPLES_KEPT = 2048


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100) by the nearest-rank method; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class _Endpoint:
    count: int = 0
    finished: int = 0
    errors: int = 0
    ack: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_KEPT))
    work: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_KEPT))

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "in_flight": self.count - self.finished,
            "errors": self.errors,
            "ack_ms": {"p50": _ms(percentile(self.ack, 50)), "p99": _ms(percentile(self.ack, 99)),
                       "max": _ms(max(self.ack, default=None))},
            "work_ms": {"p50": _ms(percentile(self.work, 50)), "p99": _ms(percentile(self.work, 99)),
                        "max": _ms(max(self.work, default=None))},
        }


class Metrics:
    """Thread-safe; one per app.

    Besides counting, it knows how many requests are being acknowledged right now (the HTTP
    layer calls ``receiving`` / ``received`` around each one), and the work after an
    acknowledgement waits for that to reach zero (``wait_for_acknowledgements``, bounded):
    in a burst, the threads acknowledging get the interpreter to themselves first and the
    answers follow, instead of every acknowledgement queueing behind answers being computed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._refused: dict[str, int] = {}
        self._receiving = 0
        self._quiet = threading.Condition(self._lock)

    def receiving(self) -> None:
        """A request has arrived and is not acknowledged yet."""
        with self._lock:
            self._receiving += 1

    def received(self) -> None:
        """That request has its HTTP answer (acknowledged, or refused)."""
        with self._lock:
            self._receiving -= 1
            if self._receiving <= 0:
                self._quiet.notify_all()

    def wait_for_acknowledgements(self, timeout: float) -> bool:
        """Block until no request is waiting for its acknowledgement, at most `timeout`
        seconds (so a steady stream can't hold the work back for long). True when quiet."""
        with self._lock:
            return self._quiet.wait_for(lambda: self._receiving <= 0, timeout=timeout)

    def _get(self, endpoint: str) -> _Endpoint:
        found = self._endpoints.get(endpoint)
        if found is None:
            found = self._endpoints[endpoint] = _Endpoint()
        return found

    def acked(self, endpoint: str, seconds: float) -> None:
        """One request acknowledged, `seconds` after it was taken."""
        with self._lock:
            entry = self._get(endpoint)
            entry.count += 1
            entry.ack.append(seconds)

    def worked(self, endpoint: str, seconds: float, *, failed: bool = False) -> None:
        """The work after an acknowledgement finished (or failed) after `seconds`."""
        with self._lock:
            entry = self._get(endpoint)
            entry.finished += 1
            entry.work.append(seconds)
            if failed:
                entry.errors += 1

    def failed(self, endpoint: str) -> None:
        """A failure before the acknowledgement (the request itself is counted by `acked`
        only when it got that far)."""
        with self._lock:
            self._get(endpoint).errors += 1

    def refused(self, reason: str) -> None:
        """A request refused before it reached a listener (replayed, malformed)."""
        with self._lock:
            self._refused[reason] = self._refused.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "acknowledging": self._receiving,
                "endpoints": {name: entry.summary() for name, entry in sorted(self._endpoints.items())},
                "refused": dict(sorted(self._refused.items())),
            }
