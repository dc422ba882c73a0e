"""Calls run on a few threads, each result taken as its call ends: the reads' fan-out."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

Result = TypeVar("Result")

THREAD_NAME = "reconcile fan-out"
"""The threads' names begin so (each ends with its number)."""
_ENDED = object()
"""What a thread puts on the queue when it takes no more calls."""


def in_threads(
    calls: Sequence[Callable[[], Result]],
    parallelism: int,
    *,
    wake: float = 0.2,
    abort: Callable[[], None] | None = None,
) -> Generator[Result | None, None, None]:
    """Run ``calls`` on up to ``parallelism`` threads; yield each result as its call ends,
    and None whenever ``wake`` seconds pass without one (so that the caller can look at a
    stop flag, and a signal handler can run in its thread).

    Plain threads take the calls in turn from one queue. A ThreadPoolExecutor builds a
    Future (with its Condition), a work item and a semaphore check for every call, about
    35 us of CPU each, and ``map`` submits them all at once: 50,000 reads held 50,000
    futures. Each result handed over wakes this thread (15-20 us of CPU a call), which
    apply's writes, collected in their own threads, do without. A call that raised is
    raised once every call has ended. Left early (closed by a caller that stopped taking
    results, or Ctrl-C reached it while waiting), no other call starts and ``abort`` is
    called before the running calls are waited for: it makes them end (the client's cuts
    their connections), or a stuck read would hold the caller. A caller takes the results in
    ``with contextlib.closing(...)``: one that raises while the generator waits at a
    ``yield`` does not close it (the exception's traceback holds it), and its threads
    would go on reading, holding up the interpreter's exit.
    """
    if not calls:
        return
    pending: queue.SimpleQueue[Callable[[], Result]] = queue.SimpleQueue()
    for call in calls:
        pending.put(call)
    ended: queue.SimpleQueue[Any] = queue.SimpleQueue()
    closing = threading.Event()

    def work() -> None:
        try:
            while not closing.is_set():
                try:
                    call = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    ended.put((True, call()))
                except BaseException as error:  # raised in the calling thread, at the end
                    ended.put((False, error))
        finally:
            ended.put(_ENDED)

    count = min(max(1, parallelism), len(calls))
    threads = [threading.Thread(target=work, name=f"{THREAD_NAME} {n}") for n in range(count)]
    running = 0
    raised: BaseException | None = None
    try:
        for thread in threads:
            thread.start()
            running += 1
        while running:
            try:
                item = ended.get(timeout=wake)
            except queue.Empty:
                yield None
                continue
            if item is _ENDED:
                running -= 1
            elif item[0]:
                yield item[1]
            elif raised is None:
                raised = item[1]
        if raised is not None:
            raise raised
    except BaseException:
        closing.set()  # before the abort: no call starts against an aborted client
        if abort is not None and running:
            abort()
        raise
    finally:
        closing.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()


class Background:
    """Calls run on up to ``workers`` threads while the calling thread goes on: reads
    asked for before their answer is needed (the schema, the first list pages).

    Closed (or its block left), the calls not started are dropped and those running are
    waited for. Left by an interruption (Ctrl-C: an exception that is no
    :class:`Exception`), it calls ``abort`` first, which makes them end at once (the
    client's cuts their connections); any other exception, such as a manifest's problem,
    leaves the client usable (``watch`` plans again).
    """

    def __init__(self, workers: int, abort: Callable[[], None]):
        self.workers = max(1, workers)
        self.abort = abort
        self._pool: ThreadPoolExecutor | None = None
        self._running: list[Future[Any]] = []

    def submit(self, call: Callable[..., Result], *args: Any) -> Future[Result]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=THREAD_NAME)
        future = self._pool.submit(call, *args)
        # Only those not done are kept: a done call's result is the caller's to hold.
        self._running = [f for f in self._running if not f.done()]
        self._running.append(future)
        return future

    def close(self, *, interrupted: bool = False) -> None:
        if interrupted and any(not f.done() for f in self._running):
            self.abort()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._running.clear()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(interrupted=interruption(kind))


def interruption(kind: type[BaseException] | None) -> bool:
    """Whether a block was left by an interruption (Ctrl-C, SystemExit, GeneratorExit): an
    exception that is no :class:`Exception`."""
    return kind is not None and not issubclass(kind, Exception)
