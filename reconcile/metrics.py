"""The Prometheus metrics of ``reconcile watch``, in a registry of their own.

A registry per :class:`WatchMetrics` (not ``prometheus_client``'s global one) keeps the
process's default collectors out and lets tests run several watchers side by side.
Labels carry ticket states, write outcomes, HTTP methods and statuses: never a ticket
ID, a field value or anything else that could be sensitive.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

TICKET_STATES = ("in_sync", "drifted", "error")
WRITE_RESULTS = ("updated", "created", "failed")
CYCLE_RESULTS = ("ok", "error")


class WatchMetrics:
    """Every metric the issue names, each pre-labelled so a scrape shows zeros, not gaps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cycles = Counter(
            "reconcile_cycles",
            "Reconcile cycles run, by result (error: manifests, API or a ticket not planned).",
            ["result"],
            registry=self.registry,
        )
        self.cycle_duration = Histogram(
            "reconcile_cycle_duration_seconds",
            "Time one cycle took: read manifests, read live tickets, plan, self-heal.",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf")),
            registry=self.registry,
        )
        self.tickets = Gauge(
            "reconcile_tickets",
            "Declared tickets by state at the end of the last completed cycle.",
            ["state"],
            registry=self.registry,
        )
        self.writes = Counter(
            "reconcile_writes",
            "Self-heal writes, by result.",
            ["result"],
            registry=self.registry,
        )
        self.api_requests = Counter(
            "reconcile_api_requests",
            "Requests to the ticketing API and its token endpoint, by method and status "
            "(status error: no answer).",
            ["method", "status"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "reconcile_last_success_timestamp_seconds",
            "Unix time at which the last cycle without error ended.",
            registry=self.registry,
        )
        self.self_heal_refused = Gauge(
            "reconcile_self_heal_refused",
            "1 while self-heal is refused by a safety check (--max-changes, protected fields).",
            registry=self.registry,
        )
        for result in CYCLE_RESULTS:
            self.cycles.labels(result=result)
        for state in TICKET_STATES:
            self.tickets.labels(state=state)
        for result in WRITE_RESULTS:
            self.writes.labels(result=result)

    def count_request(self, method: str, status: str) -> None:
        """A :attr:`reconcile.client.Transport.observers` callback."""
        self.api_requests.labels(method=method, status=status).inc()

    def set_tickets(self, counts: dict[str, int]) -> None:
        for state in TICKET_STATES:
            self.tickets.labels(state=state).set(counts.get(state, 0))
