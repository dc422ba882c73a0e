"""Undo an apply from its journal: put back the values it overwrote, where they still hold.

``apply --journal FILE`` records every write attempt with the change as a JSON Patch
and its inverse (:mod:`reconcile.journal`). For each field, the value to restore is
the ``before`` of the first write that may have landed (status ``updated`` or
``unknown``), and the value apply left is the ``after`` of the last such write, so a
journal that spans several runs is undone to the state before the first.

A ticket is restored only when every one of its journal fields still holds the value
apply left (or already holds the original one); a ticket where another writer changed
such a field since is reported, not written. The restoring changes form an ordinary
:class:`~reconcile.plan.Plan` whose ``before`` values are the live ones, applied in
saved-plan mode (:meth:`reconcile.manager.Manager.apply` without desired tickets): each
PATCH is guarded by the etag read here, and after a lost race it is re-sent only while
the fields still hold those values. Sensitive values are stored in the journal as
digests, so those fields are reported, never restored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconcile.errors import ApiError, PlanError
from reconcile.journal import read_journal
from reconcile.manager import Manager
from reconcile.plan import UPDATE, FieldChange, Plan, Target, TicketChange, ticket_sort_key
from reconcile.schema import Schema
from reconcile.ticket import LiveTicket

LANDED = frozenset({"updated", "unknown"})
"""Journal statuses of a write that landed or may have landed (its outcome was unknown)."""


@dataclass(frozen=True)
class JournalField:
    """One field as the journal tells it: the value to restore and the value apply left."""

    ticket: str
    field_id: str
    name: str
    original: Any
    written: Any
    sensitive: bool
    protected: bool = False


@dataclass(frozen=True)
class UndoPlan:
    """The restoring changes, and one message per ticket or field that will not be restored."""

    plan: Plan
    refused: tuple[str, ...]


def read_history(path: str | Path) -> list[JournalField]:
    """The journal's fields to restore, in ticket order; :class:`PlanError` for a bad file."""
    fields: dict[tuple[str, str], JournalField] = {}
    for line, entry in read_journal(path):
        if entry.get("status") not in LANDED:
            continue
        where = f"{path}:{line}"
        ticket, names = entry.get("ticket"), entry.get("fields")
        sensitive = entry.get("sensitive", [])
        protected = entry.get("protected", [])
        if not isinstance(ticket, str) or not isinstance(names, dict):
            raise PlanError(f"{where}: a journal entry without 'ticket' and 'fields'")
        if not isinstance(sensitive, list) or not isinstance(protected, list):
            raise PlanError(f"{where}: 'sensitive' or 'protected' is not a list")
        written = _values(entry.get("patch"), where, "patch")
        original = _values(entry.get("inverse"), where, "inverse")
        for field_id, name in names.items():
            if field_id not in written or field_id not in original:
                raise PlanError(f"{where}: field {name!r} is missing from 'patch' or 'inverse'")
            first = fields.get((ticket, field_id))
            fields[(ticket, field_id)] = JournalField(
                ticket=ticket,
                field_id=field_id,
                name=str(name),
                original=original[field_id] if first is None else first.original,
                written=written[field_id],
                sensitive=field_id in sensitive or (first is not None and first.sensitive),
                protected=field_id in protected or (first is not None and first.protected),
            )
    return sorted(fields.values(), key=lambda f: ticket_sort_key(f.ticket))


def _values(operations: Any, where: str, key: str) -> dict[str, Any]:
    """Field UUID to new value, from a journal patch of whole-field ``replace`` operations."""
    if not isinstance(operations, list):
        raise PlanError(f"{where}: {key!r} is not a JSON Patch")
    values: dict[str, Any] = {}
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("op") == "test":
            continue
        parts = str(operation.get("path", "")).split("/")
        if operation.get("op") not in ("replace", "add") or len(parts) != 3 or parts[1] != "data":
            raise PlanError(
                f"{where}: {key!r} holds {operation.get('op')} {operation.get('path')}, "
                "not a whole-field replace; this journal cannot be undone"
            )
        field_id = parts[2].replace("~1", "/").replace("~0", "~")
        values[field_id] = operation.get("value")
    return values


def make_undo_plan(
    history: Iterable[JournalField],
    schema: Schema,
    live: Mapping[str, LiveTicket | ApiError],
    target: Target | None = None,
) -> UndoPlan:
    """Compare the journal's fields with the live tickets (pure): what to restore, what not."""
    by_ticket: dict[str, list[JournalField]] = {}
    for f in history:
        by_ticket.setdefault(f.ticket, []).append(f)
    changes: list[TicketChange] = []
    unchanged: list[str] = []
    refused: list[str] = []
    for ticket_id, fields in by_ticket.items():
        read = live.get(ticket_id)
        if not isinstance(read, LiveTicket):
            reason = str(read) if read is not None else "the ticket was not read"
            refused.append(f"{ticket_id}: not restored: {reason}")
            continue
        change, refusal, notes = _restore(ticket_id, fields, read, schema)
        refused += [refusal, *notes] if refusal else notes
        if change is not None:
            changes.append(change)
        elif refusal is None:
            unchanged.append(ticket_id)
    plan = Plan(changes=tuple(changes), unchanged=tuple(unchanged), target=target)
    return UndoPlan(plan=plan, refused=tuple(refused))


def _restore(
    ticket_id: str, fields: list[JournalField], live: LiveTicket, schema: Schema
) -> tuple[TicketChange | None, str | None, list[str]]:
    """The restoring change of one ticket (None: nothing to do or refused), the
    refusal, and notes on the sensitive fields left alone."""
    ticket_type = schema.type_for(ticket_id)
    restoring: list[FieldChange] = []
    moved: list[str] = []
    notes: list[str] = []
    for f in fields:
        field = ticket_type.field_by_id(f.field_id) if ticket_type else None
        if field is None:
            moved.append(f"{f.name} (no longer a field of the ticket type)")
            continue
        have = live.data.get(f.field_id, field.empty)
        if f.sensitive:
            notes.append(
                f"{ticket_id} field {f.name!r}: sensitive, not restored "
                "(the journal holds only a digest of its value); restore it by hand"
            )
        elif field.equal(f.original, have):
            continue
        elif field.equal(f.written, have):
            restoring.append(
                FieldChange(f.field_id, field.name, have, f.original, protected=f.protected)
            )
        else:
            moved.append(f.name)
    if moved:
        refusal = (
            f"{ticket_id}: not restored: {', '.join(moved)} changed since the apply "
            "(another writer); review the ticket by hand"
        )
        return None, refusal, notes
    if not restoring:
        return None, None, notes
    change = TicketChange(
        id=ticket_id,
        action=UPDATE,
        etag=live.etag,
        fields=tuple(restoring),
        last_updated_by=live.last_updated_by,
        last_updated_at=live.last_updated_at,
    )
    return change, None, notes


def plan_undo(manager: Manager, history: list[JournalField]) -> UndoPlan:
    """Read the journal's tickets live (through ``manager``) and make the undo plan."""
    ids = list(dict.fromkeys(f.ticket for f in history))
    live = manager.read_live(ids)
    return make_undo_plan(history, manager.schema, live, manager.target)
