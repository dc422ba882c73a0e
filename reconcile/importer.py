"""Import: live tickets into a manifest that plans with no changes against the same tenant.

:func:`import_tickets` reads the tickets through a :class:`~reconcile.manager.Manager`
(by ID, or every ticket of the list endpoint) and renders them with
:func:`render_import`, which is pure (live tickets + schema → YAML text). The manifest
writer (:mod:`reconcile.manifest.write`, shared with ``adopt``) emits the text and
decides the quoting, so the output reads back *exactly* under the manifest loader and
stays unambiguous for other tools; a date field's value is written plain.

Which fields are imported: every field present in the ticket's live ``data`` (a
present-but-empty value is written as the field's empty form). With ``fields``, only
those, and a named field absent from live data is written as its empty form, so the
manifest declares "empty" for it; a required field cannot be declared empty and is
left out with a note. A live value the field would not accept from a manifest (an
option removed since it was set, say) is left out with a note too: declaring it would
make the manifest invalid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile.errors import ApiError, ListUnsupported, ReconcileError
from reconcile.manager import Manager
from reconcile.manifest.write import DateText, dump_manifest
from reconcile.plan import ticket_sort_key
from reconcile.schema import Field, Schema, TicketType, is_empty
from reconcile.ticket import LiveTicket, display_id_prefix

HEADER = "# Imported by `reconcile import`: live values of the fields listed, by field name.\n"


class ImportFailed(ReconcileError):
    """Raised when tickets cannot be imported (unknown type prefix, unknown field name)."""


@dataclass(frozen=True)
class Imported:
    """The manifest text and notes about values left out (one line each, for stderr)."""

    text: str
    tickets: int
    notes: tuple[str, ...] = ()


def import_tickets(
    manager: Manager,
    ids: Sequence[str] = (),
    *,
    every: bool = False,
    prefix: str | None = None,
    team: str | None = None,
    fields: Sequence[str] = (),
) -> Imported:
    """The manifest of the live tickets ``ids``, or (``every``) of every ticket the list
    endpoint returns, of type ``prefix`` and team ``team`` when given.

    :class:`~reconcile.errors.ApiError` naming each ticket that could not be read, or
    the list endpoint's absence with ``every``.
    """
    if every:
        try:
            listed = manager.read_all()
        except ListUnsupported as error:
            raise ApiError(f"--all needs the list endpoint: {error}") from None
        tickets = filter_listed(listed, prefix=prefix, team=team)
    else:
        live = manager.read_live(sorted(set(ids), key=ticket_sort_key))
        failed = [(i, r) for i, r in live.items() if isinstance(r, ApiError)]
        if failed:
            raise ApiError("; ".join(f"{i}: {r}" for i, r in failed))
        tickets = [r for r in live.values() if not isinstance(r, ApiError)]
    return render_import(tickets, manager.schema, fields)


def render_import(
    tickets: Iterable[LiveTicket], schema: Schema, fields: Sequence[str] = ()
) -> Imported:
    """A manifest declaring the live values of ``tickets``: one entry each, sorted by ID.

    ``fields`` (names, labels or UUIDs) limits the fields imported; each must exist in
    every imported ticket's type.
    """
    notes: list[str] = []
    entries: list[dict[str, Any]] = []
    ordered = sorted(tickets, key=lambda t: ticket_sort_key(t.object_id))
    for ticket in ordered:
        ticket_type = schema.type_for(ticket.object_id)
        if ticket_type is None:
            known = ", ".join(schema.prefixes) or "none"
            raise ImportFailed(
                f"{ticket.object_id}: unknown ticket type prefix "
                f"{display_id_prefix(ticket.object_id)!r} (known prefixes: {known})"
            )
        chosen = _chosen_fields(ticket_type, ticket, fields)
        entries.append(_ticket_entry(ticket, ticket_type, chosen, notes))
    body = dump_manifest({"tickets": entries})
    return Imported(text=HEADER + body, tickets=len(ordered), notes=tuple(notes))


def filter_listed(
    tickets: Iterable[LiveTicket], *, prefix: str | None = None, team: str | None = None
) -> list[LiveTicket]:
    """The tickets of type ``prefix`` and team ``team`` (the list endpoint has no filters)."""
    return [
        t
        for t in tickets
        if (prefix is None or display_id_prefix(t.object_id) == prefix)
        and (team is None or t.team == team)
    ]


def _chosen_fields(
    ticket_type: TicketType, ticket: LiveTicket, names: Sequence[str]
) -> list[Field]:
    """The fields to import, in schema order: those named, else those present live."""
    if not names:
        return [f for f in ticket_type.fields if f.id in ticket.data]
    wanted: dict[str, Field] = {}
    for name in names:
        found = ticket_type.resolve(name)
        if found is None:
            hint = ticket_type.suggest(name)
            suggestion = f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""
            raise ImportFailed(
                f"--fields {name}: no such field in ticket type {ticket_type.name} "
                f"({ticket_type.prefix}){suggestion}"
            )
        wanted[found.id] = found
    return [f for f in ticket_type.fields if f.id in wanted]


def _ticket_entry(
    ticket: LiveTicket,
    ticket_type: TicketType,
    chosen: list[Field],
    notes: list[str],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in chosen:
        value = field.value_in(ticket.data)
        if is_empty(value) and field.required:
            notes.append(
                f"{ticket.object_id} field {field.name!r}: required but empty live; not imported"
            )
            continue
        reason = field.check(value)
        if reason is not None:
            notes.append(f"{ticket.object_id} field {field.name!r}: {reason}; not imported")
            continue
        value = field.canonical(value)
        if field.type in ("date", "datetime") and isinstance(value, str):
            value = DateText(value)
        values[_key_for(ticket_type, field)] = value
    return {"id": ticket.object_id, "fields": values} if values else {"id": ticket.object_id}


def _key_for(ticket_type: TicketType, field: Field) -> str:
    """The field's name, unless the name resolves to another field (then its UUID)."""
    return field.name if ticket_type.resolve(field.name) is field else field.id


__all__ = [
    "ImportFailed",
    "Imported",
    "filter_listed",
    "render_import",
]
