"""Injected faults, on API routes only, deterministic under a seed.

For every API request, in this order: sleep ``latency_ms``; with ``rate_limit_rate``
answer 429 with ``Retry-After``; with ``fail_rate`` answer 500 before any work. After a
write has committed, with ``drop_after_commit_rate`` either drop the connection or
answer 500 (the same generator picks which). Each configured rate draws one number
from one seeded ``random.Random`` per request, so a sequential client sees the same
faults on every run with the same ``fault_seed``.
"""

from __future__ import annotations

import random
import threading
import time

RATE_LIMIT = "rate_limit"
FAIL = "fail"
DROP = "drop"
ERROR_AFTER_COMMIT = "error_after_commit"


class Faults:
    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        drop_after_commit_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.latency = latency_ms / 1000.0
        self.fail_rate = fail_rate
        self.drop_rate = drop_after_commit_rate
        self.rate_limit_rate = rate_limit_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _hit(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def before(self) -> str | None:
        """Sleep the latency, then say whether to answer 429 or 500 instead of working."""
        if self.latency:
            time.sleep(self.latency)
        if self._hit(self.rate_limit_rate):
            return RATE_LIMIT
        if self._hit(self.fail_rate):
            return FAIL
        return None

    def after_commit(self) -> str | None:
        """After a committed write: ``drop``, ``error_after_commit`` or None."""
        if self.drop_rate <= 0.0:
            return None
        with self._lock:
            if self._rng.random() >= self.drop_rate:
                return None
            return DROP if self._rng.random() < 0.5 else ERROR_AFTER_COMMIT
