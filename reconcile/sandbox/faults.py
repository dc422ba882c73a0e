"""Injected faults, on API routes only, deterministic under a seed.

For every API request, in this order: sleep ``latency_ms``; with ``rate_limit_rate``
answer 429 with ``Retry-After``; with ``fail_rate`` answer 500 before any work; while
``unauthorized_requests`` lasts, answer 401 ``UNAUTHORIZED`` (a revoked token). After a
write has committed, with ``drop_after_commit_rate`` either drop the connection or
answer 500 (the same generator picks which). Each configured rate draws one number
from one seeded ``random.Random`` per request, so a sequential client sees the same
faults on every run with the same ``fault_seed``.

``fail_writes`` answers the first N PATCHes 500 before any work (nothing commits),
whatever the seed: a write whose outcome the client cannot know, that did not land;
``fail_creates`` does the same to the first N creates.

Two holds, for tests of a client killed while its writes are in flight, are not drawn
but counted: ``hold_tickets`` holds every PATCH of those tickets before any work, and
``hold_after_commits`` lets that many writes commit and answer, then holds the answer
of every later committed write. Held requests wait until :meth:`Faults.release`; a
write held before its work then answers 500 without committing.

Answers in shapes the contract does not promise (its [assumed] parts), for clients to
prove they check them: list items and GET answers with keys dropped or set to other
values, a list ``total`` that lies, a list that ignores ``page``, and bodies sent one
byte at a time (``slow_body_ms``) on chosen routes.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconcile.sandbox.clock import Clock, SystemClock

RATE_LIMIT = "rate_limit"
FAIL = "fail"
UNAUTHORIZED = "unauthorized"
DROP = "drop"
ERROR_AFTER_COMMIT = "error_after_commit"
HELD_BEFORE_WRITE = "held_before_write"
HELD_AFTER_COMMIT = "held_after_commit"

API_ROUTES = ("ticket_type", "list", "get", "create", "update")
"""The route names that ``slow_routes`` may name (those of ``/_sandbox/stats``)."""


class Faults:
    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        drop_after_commit_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        seed: int | None = None,
        hold_tickets: Iterable[str] = (),
        hold_after_commits: int | None = None,
        fail_writes: int = 0,
        fail_creates: int = 0,
        unauthorized_requests: int = 0,
        list_item_drop: Iterable[str] = (),
        list_item_set: Mapping[str, Any] | None = None,
        get_drop: Iterable[str] = (),
        get_set: Mapping[str, Any] | None = None,
        token_set: Mapping[str, Any] | None = None,
        ticket_types_answer: list[Any] | None = None,
        list_total: int | None = None,
        list_ignore_page: bool = False,
        list_fail_pages: Iterable[int] = (),
        no_list: bool = False,
        slow_body_ms: float = 0.0,
        slow_routes: Iterable[str] = (),
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.latency = latency_ms / 1000.0
        self.fail_rate = fail_rate
        self.drop_rate = drop_after_commit_rate
        self.rate_limit_rate = rate_limit_rate
        self._unauthorized_left = unauthorized_requests
        self._reshape = {
            "list": (tuple(list_item_drop), dict(list_item_set or {})),
            "get": (tuple(get_drop), dict(get_set or {})),
            "token": ((), dict(token_set or {})),
        }
        self.ticket_types_answer = ticket_types_answer
        self.list_total = list_total
        self.list_ignore_page = list_ignore_page
        self.list_fail_pages = frozenset(list_fail_pages)
        self.no_list = no_list
        self.slow_body = slow_body_ms / 1000.0
        self.slow_routes = frozenset(slow_routes or API_ROUTES) if slow_body_ms else frozenset()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.hold_tickets = frozenset(hold_tickets)
        self.hold_after_commits = hold_after_commits
        self._commits = 0
        self._writes_to_fail = fail_writes
        self._creates_to_fail = fail_creates
        self._released = threading.Event()

    def fails_write(self) -> bool:
        """Whether this PATCH is one of the first ``fail_writes``: answer 500, do nothing."""
        with self._lock:
            if self._writes_to_fail <= 0:
                return False
            self._writes_to_fail -= 1
            return True

    def fails_create(self) -> bool:
        """Whether this create is one of the first ``fail_creates``: answer 500, do nothing."""
        with self._lock:
            if self._creates_to_fail <= 0:
                return False
            self._creates_to_fail -= 1
            return True

    def holds_before_write(self, object_id: str) -> bool:
        """Whether this PATCH is to be held before any work (see :meth:`wait_released`)."""
        return object_id in self.hold_tickets and not self._released.is_set()

    def holds_after_commit(self) -> bool:
        """Count a committed write; whether its answer is to be held."""
        with self._lock:
            self._commits += 1
            limit = self.hold_after_commits
        return limit is not None and self._commits > limit and not self._released.is_set()

    def wait_released(self) -> None:
        self._released.wait()

    def release(self) -> None:
        """Let every held request go on, and hold no more."""
        self._released.set()

    @classmethod
    def from_options(cls, options: Any, clock: Clock | None = None) -> Faults:
        """The faults a :class:`~reconcile.sandbox.options.SandboxOptions` asks for."""
        return cls(
            clock=clock,
            latency_ms=options.latency_ms,
            fail_rate=options.fail_rate,
            drop_after_commit_rate=options.drop_after_commit_rate,
            rate_limit_rate=options.rate_limit_rate,
            seed=options.fault_seed,
            hold_tickets=options.hold_tickets,
            hold_after_commits=options.hold_after_commits,
            fail_writes=options.fail_writes,
            fail_creates=options.fail_creates,
            unauthorized_requests=options.unauthorized_requests,
            list_item_drop=options.list_item_drop,
            list_item_set=options.list_item_set,
            get_drop=options.get_drop,
            get_set=options.get_set,
            token_set=options.token_set,
            ticket_types_answer=options.ticket_types_answer,
            list_total=options.list_total,
            list_ignore_page=options.list_ignore_page,
            list_fail_pages=options.list_fail_pages,
            no_list=options.no_list,
            slow_body_ms=options.slow_body_ms,
            slow_routes=options.slow_routes,
        )

    def _hit(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def before(self) -> str | None:
        """Sleep the latency, then say whether to answer 429 or 500 instead of working."""
        if self.latency:
            self.clock.sleep(self.latency)
        if self._hit(self.rate_limit_rate):
            return RATE_LIMIT
        if self._hit(self.fail_rate):
            return FAIL
        if self._unauthorized_left:
            with self._lock:
                if self._unauthorized_left > 0:
                    self._unauthorized_left -= 1
                    return UNAUTHORIZED
        return None

    def reshapes(self, route: str) -> bool:
        """Whether ``get`` answers or ``list`` items are answered in another shape."""
        drop, changes = self._reshape.get(route, ((), {}))
        return bool(drop or changes)

    def reshape(self, route: str, ticket: dict[str, Any]) -> dict[str, Any]:
        """A ``get`` answer, ``list`` item or ``token`` grant with the configured keys dropped
        and set."""
        drop, changes = self._reshape.get(route, ((), {}))
        if not drop and not changes:
            return ticket
        shaped = {k: v for k, v in ticket.items() if k not in drop}
        shaped.update(copy.deepcopy(changes))
        return shaped

    def slowed(self, route: str, body: Iterable[bytes]) -> Iterable[bytes]:
        """The answer's body one byte every ``slow_body_ms`` on the slow routes."""
        if route not in self.slow_routes:
            return body
        return self._dribble(body)

    def _dribble(self, body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            for chunk in body:
                for index in range(len(chunk)):
                    time.sleep(self.slow_body)
                    yield chunk[index : index + 1]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def after_commit(self) -> str | None:
        """After a committed write: ``drop``, ``error_after_commit`` or None."""
        if self.drop_rate <= 0.0:
            return None
        with self._lock:
            if self._rng.random() >= self.drop_rate:
                return None
            return DROP if self._rng.random() < 0.5 else ERROR_AFTER_COMMIT
