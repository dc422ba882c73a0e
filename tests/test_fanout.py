"""The reads' fan-out: calls on a few threads, each result taken as its call ends."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from reconcile.fanout import THREAD_NAME, in_threads


def test_every_result_is_given_once_and_at_most_parallelism_calls_run_at_once() -> None:
    running, most, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(4)

    def call(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if n < 4:
            gate.wait(timeout=10)  # the first four meet: four run at once
        with lock:
            running[0] -= 1
        return n * n

    results = [r for r in in_threads([partial(call, n) for n in range(50)], 4) if r is not None]
    assert sorted(results) == [n * n for n in range(50)]
    assert most[0] == 4


def test_the_caller_is_woken_while_nothing_ends() -> None:
    # The call ends only once the caller was woken: it may look at a stop flag meanwhile.
    woken = threading.Event()
    given = []
    for result in in_threads([lambda: woken.wait(timeout=10)], 2, wake=0.01):
        if result is None:
            woken.set()
        given.append(result)
    assert given[0] is None and given[-1] is True


def test_a_call_that_raised_is_raised_once_every_call_has_ended() -> None:
    ended = []

    def call(n: int) -> int:
        if n == 0:
            raise ValueError("the first call failed")
        ended.append(n)
        return n

    with pytest.raises(ValueError, match="the first call failed"):
        list(in_threads([partial(call, n) for n in range(20)], 3))
    assert sorted(ended) == list(range(1, 20))


def test_a_caller_that_stops_taking_results_starts_no_other_call() -> None:
    gate = threading.Event()
    started: list[int] = []

    def call(n: int) -> int:
        started.append(n)
        if n:
            gate.wait(timeout=10)  # the two threads hold calls 1 and 2 until the caller left
        return n

    results = in_threads([partial(call, n) for n in range(100)], 2)
    assert next(results) == 0
    opening = threading.Timer(0.05, gate.set)
    opening.start()
    results.close()  # as when the caller raised: calls 1 and 2 end, no other starts
    opening.join()
    assert sorted(started) == [0, 1, 2]
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
