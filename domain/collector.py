"""Python's cyclic garbage collector paused for bursts of allocation, shared by every thread.

Two bursts matter here. A scan allocates millions of short-lived rows, floats and strings,
none in cycles, which the collector's passes only walk. A chart allocates some 60,000
matplotlib objects (artists, paths, callback registries) that do form cycles: drawn with the
collector running, they are promoted to the oldest generation before the figure is dropped,
and every full collection then walks them, 150-350 ms of a Slack answer's time each, dozens
of times per thousand answers. Drawn with it paused, they stay in the youngest generation,
and one young collection right after the drawing frees them in milliseconds.

The pause is counted: the collector comes back when the last pauser is done, and only if it
was on before the first (a caller that turned it off keeps it off)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pausers = 0
_was_enabled = True


@contextmanager
def collector_paused(free_young_after: bool = False) -> Iterator[None]:
    """No automatic collection inside; with ``free_young_after``, one collection of the youngest
    generation (what was allocated since the last one) when the block ends."""
    global _pausers, _was_enabled
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()
        if free_young_after:
            gc.collect(0)
