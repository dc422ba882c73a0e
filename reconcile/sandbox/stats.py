"""Counters that tests read through ``GET /_sandbox/stats``."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any

_LOG_SIZE = 1000


class Stats:
    """Requests by method, by method and status, by route kind; and a summary of writes.

    Requests to ``/_sandbox/*`` are not counted. A dropped connection counts under the
    status ``dropped``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_method: Counter[str] = Counter()
            self._by_status: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._by_route: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._patches = 0
            self._without_etag = 0
            self._noop = 0
            self._mismatches = 0
            self._writes = 0
            self._creates = 0
            self._patches_by_ticket: Counter[str] = Counter()
            self._writes_by_ticket: Counter[str] = Counter()
            self._log: deque[dict[str, Any]] = deque(maxlen=_LOG_SIZE)

    def request(self, method: str, route: str, status: int | str) -> None:
        with self._lock:
            self._requests += 1
            self._by_method[method] += 1
            self._by_status[method][str(status)] += 1
            self._by_route[route] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def patch(self, object_id: str, *, has_etag: bool) -> None:
        """A PATCH update reached its handler (counted whatever its outcome)."""
        with self._lock:
            self._patches += 1
            self._patches_by_ticket[object_id] += 1
            if not has_etag:
                self._without_etag += 1

    def mismatch(self) -> None:
        with self._lock:
            self._mismatches += 1

    def write(self, entry: dict[str, Any]) -> None:
        """A committed PATCH: object_id, etag_before, etag_after, fields, noop, by."""
        with self._lock:
            self._writes += 1
            self._writes_by_ticket[entry["object_id"]] += 1
            if entry["noop"]:
                self._noop += 1
            self._log.append(entry)

    def create(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._creates += 1
            self._log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "by_method": dict(self._by_method),
                "by_method_status": {m: dict(c) for m, c in self._by_status.items()},
                "by_route": dict(self._by_route),
                "faults": dict(self._faults),
                "writes": {
                    "patches": self._patches,
                    "patches_without_etag": self._without_etag,
                    "noop_patches": self._noop,
                    "etag_mismatches": self._mismatches,
                    "committed": self._writes,
                    "creates": self._creates,
                    "patches_by_ticket": dict(self._patches_by_ticket),
                    "writes_by_ticket": dict(self._writes_by_ticket),
                    "log": list(self._log),
                },
            }
