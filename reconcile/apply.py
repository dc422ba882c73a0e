"""Executes a Plan through the client: one etag-guarded PATCH per changed ticket.

Two modes share one loop:

* direct (``desired`` given): the manifests are the truth. On ``ETAG_MISMATCH`` or an
  unknown outcome the ticket is re-read and re-diffed, and the new minimal change is
  sent with the new etag (the other writer's fields survive by the shallow merge).
* saved (``desired`` is None): only the reviewed change may be sent. After the etag
  moved, it is re-sent only while every planned field still holds its planned
  ``before`` value; otherwise the ticket is reported stale.

A PATCH is never resent blindly: after any failure whose outcome is unknown the ticket
is re-read first, because the write may have landed. Every loop is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from reconcile.client import TicketingClient
from reconcile.diff import diff_ticket
from reconcile.errors import ApiError, EtagMismatch, OutcomeUnknown
from reconcile.journal import Journal
from reconcile.manifest import DesiredTicket
from reconcile.plan import UPDATE, FieldChange, Plan, TicketChange, ticket_sort_key
from reconcile.schema import Field, Schema
from reconcile.ticket import LiveTicket

__all__ = ["ApplyReport", "Journal", "TicketOutcome", "apply_plan"]

MAX_REBASES = 3
"""How many times a ticket is re-read and re-sent after losing a race before it is a conflict."""

UPDATED = "updated"
UNCHANGED = "unchanged"
FAILED = "failed"
STALE = "stale"
CONFLICT = "conflict"
SKIPPED = "skipped"
_NOT_OK = frozenset({FAILED, STALE, CONFLICT, SKIPPED})


@dataclass(frozen=True)
class TicketOutcome:
    """What happened to one planned ticket."""

    id: str
    status: str
    message: str | None = None
    etag_before: str | None = None
    etag_after: str | None = None
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ApplyReport:
    """Every planned ticket's outcome, sorted by ID, and the tickets that needed nothing."""

    outcomes: tuple[TicketOutcome, ...]
    unchanged: int = 0
    interrupted: bool = False
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.outcomes, key=lambda o: ticket_sort_key(o.id)))
        object.__setattr__(self, "outcomes", ordered)
        counts = {UPDATED: 0, FAILED: 0, UNCHANGED: self.unchanged}
        for outcome in ordered:
            key = FAILED if outcome.status in _NOT_OK else outcome.status
            counts[key] = counts.get(key, 0) + 1
        object.__setattr__(self, "counts", counts)

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.counts[FAILED] == 0

    @property
    def summary(self) -> str:
        c = self.counts
        return f"Apply: {c[UPDATED]} updated, {c[FAILED]} failed, {c[UNCHANGED]} unchanged."


def apply_plan(
    plan: Plan,
    client: TicketingClient,
    *,
    desired: Mapping[str, DesiredTicket] | None = None,
    schema: Schema | None = None,
    parallelism: int = 10,
    journal: Journal | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> ApplyReport:
    """Apply every ``update`` of ``plan``; the plan must hold no errors.

    Direct mode needs ``desired`` (to re-diff after a race); saved mode needs
    ``schema`` (to compare re-read values with the plan's ``before`` values).
    """
    if desired is None and schema is None:
        raise ValueError("apply_plan needs desired tickets (direct) or the schema (saved plan)")
    writer = _TicketWriter(client, desired, schema, journal, stop or threading.Event())
    updates = [c for c in plan.changes if c.action == UPDATE]
    outcomes: list[TicketOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        pending = {pool.submit(writer.write, change) for change in updates}
        while pending:
            # A timeout keeps the main thread responsive to SIGINT/SIGTERM handlers.
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes.append(future.result())
                if progress:
                    progress(1)
    interrupted = writer.stop.is_set()
    return ApplyReport(tuple(outcomes), unchanged=len(plan.unchanged), interrupted=interrupted)


class _TicketWriter:
    """Writes one ticket at a time; shared by the worker threads (it holds no per-ticket state)."""

    def __init__(
        self,
        client: TicketingClient,
        desired: Mapping[str, DesiredTicket] | None,
        schema: Schema | None,
        journal: Journal | None,
        stop: threading.Event,
    ):
        self.client = client
        self.desired = desired
        self.schema = schema
        self.journal = journal
        self.stop = stop

    def write(self, planned: TicketChange) -> TicketOutcome:
        if self.stop.is_set():
            return TicketOutcome(planned.id, SKIPPED, "not written: the run was interrupted")
        change, etag = planned, planned.etag or ""
        for _ in range(MAX_REBASES + 1):
            try:
                new_etag = self.client.update_ticket(change.id, etag, change.ticket_update)
            except (EtagMismatch, OutcomeUnknown) as error:
                landed = isinstance(error, OutcomeUnknown)
                self._record(change, etag, None, "unknown" if landed else "etag_mismatch")
                try:
                    live = self.client.get_ticket(change.id)
                except ApiError as read_error:
                    return self._failed(change, etag, read_error)
                try:
                    next_change, outcome = self._rebase(planned, change, live, landed)
                except ApiError as stale:
                    return self._failed(change, etag, stale)
                if outcome is not None:
                    return outcome
                if self.stop.is_set():  # interrupted: resolve the outcome, send nothing new
                    message = "not written: the run was interrupted before the change was re-sent"
                    return TicketOutcome(planned.id, SKIPPED, message, etag, live.etag)
                change, etag = next_change, live.etag
                continue
            except ApiError as error:
                self._record(change, etag, None, "failed", error)
                return self._failed(change, etag, error)
            self._record(change, etag, new_etag, UPDATED)
            return TicketOutcome(change.id, UPDATED, None, etag, new_etag, change.fields)
        message = f"conflict: still changing after {MAX_REBASES} re-reads; re-run apply"
        return TicketOutcome(planned.id, CONFLICT, message, etag, None, planned.fields)

    def _rebase(
        self, planned: TicketChange, sent: TicketChange, live: LiveTicket, maybe_landed: bool
    ) -> tuple[TicketChange, TicketOutcome | None]:
        """Decide what to send after a lost race or an unknown outcome, or how it ended."""
        if self.desired is not None:
            fresh = diff_ticket(self.desired[planned.id], live)
            if fresh is None:
                status = UPDATED if maybe_landed else UNCHANGED
                note = None if maybe_landed else "another writer already set the declared values"
                return sent, TicketOutcome(
                    planned.id, status, note, sent.etag, live.etag, sent.fields
                )
            return replace(fresh, etag=live.etag), None
        fields = self._fields(planned)
        if maybe_landed and all(f.equal(c.after, live.data.get(c.field_id)) for c, f in fields):
            return sent, TicketOutcome(planned.id, UPDATED, None, sent.etag, live.etag, sent.fields)
        moved = [c.name for c, f in fields if not c.holds_before(live.data.get(c.field_id), f)]
        if not moved:
            return replace(planned, etag=live.etag), None
        moved = ", ".join(moved)
        message = f"stale: {moved} changed since the plan was made; re-run plan"
        return sent, TicketOutcome(planned.id, STALE, message, planned.etag, live.etag)

    def _fields(self, change: TicketChange) -> list[tuple[FieldChange, Field]]:
        assert self.schema is not None
        ticket_type = self.schema.type_for(change.id)
        pairs = []
        for c in change.fields:
            found = ticket_type.field_by_id(c.field_id) if ticket_type else None
            if found is None:
                raise ApiError(f"{change.id}: field {c.name} is no longer in the ticket type")
            pairs.append((c, found))
        return pairs

    def _failed(self, change: TicketChange, etag: str, error: ApiError) -> TicketOutcome:
        return TicketOutcome(change.id, FAILED, describe_error(change, error), etag)

    def _record(
        self,
        change: TicketChange,
        etag_before: str,
        etag_after: str | None,
        status: str,
        error: ApiError | None = None,
    ) -> None:
        if self.journal is not None:
            self.journal.record(
                change, etag_before, etag_after, status, error and describe_error(change, error)
            )


def describe_error(change: TicketChange, error: ApiError) -> str:
    """The server's status, code and message, with validation reasons named by field."""
    names = {f.field_id: f.name for f in change.fields}
    parts = [str(part) for part in (error.status, error.code) if part]
    text = " ".join([*parts, str(error)])
    if error.reasons:
        reasons = "; ".join(
            f"{names.get(key, key)}: {reason}" for key, reason in sorted(error.reasons.items())
        )
        text = f"{text} ({reasons})"
    return text
