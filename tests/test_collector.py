"""The collector pause is shared by threads: back on only when the last pauser is done."""

from __future__ import annotations

import gc
import threading

from domain.collector import collector_paused


def test_overlapping_pauses_turn_the_collector_back_on_only_after_the_last() -> None:
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def other() -> None:
        first_in.wait()
        with collector_paused():
            pass
        seen["after the other's pause"] = gc.isenabled()
        second_done.set()

    t = threading.Thread(target=other)
    t.start()
    with collector_paused():
        first_in.set()
        second_done.wait()
        seen["inside mine"] = gc.isenabled()
    t.join()
    assert seen == {"after the other's pause": False, "inside mine": False}
    assert gc.isenabled()


def test_a_caller_that_had_it_off_keeps_it_off_and_young_garbage_is_freed() -> None:
    gc.disable()
    try:
        gc.collect()  # whatever earlier tests left
        with collector_paused(free_young_after=True):
            for _ in range(500):
                a: list = []
                a.append(a)  # a cycle only a collection frees
            del a
        assert not gc.isenabled()
        assert gc.collect() == 0  # the young collection already freed the 500 cycles
    finally:
        gc.enable()
