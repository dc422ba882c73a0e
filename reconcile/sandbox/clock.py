"""The sandbox's clock: token times and expiry, injected latency and write delays.

``SystemClock`` is the wall clock. ``ManualClock`` moves only when told, so a test can
let a token expire, or check that a latency fault delays a request, without sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the sandbox asks of time."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The wall clock."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock for tests: it starts at the wall-clock time and moves only by
    :meth:`advance` or :meth:`sleep` (which returns at once and records the wait)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self.slept: list[float] = []
        """Every wait asked of :meth:`sleep`, in order."""

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        with self._lock:
            self._now += seconds
