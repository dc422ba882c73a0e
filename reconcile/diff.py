"""The pure diff: desired tickets against live ones, field by field, into a :class:`Plan`.

No I/O and no HTTP library: it takes data and returns data, so it is tested with
literal dicts. Every comparison goes through :meth:`reconcile.schema.Field.equal`,
which owns the per-type rules (multiselect as a set, numbers by value, datetimes
as instants); this module only decides which fields are managed and what their
live value is (:meth:`~reconcile.schema.Field.value_in`: a key missing from live ``data``
counts as the field's empty form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reconcile.errors import ApiError
from reconcile.plan import (
    Action,
    FieldChange,
    FieldSource,
    Plan,
    Target,
    TicketChange,
    TicketCreate,
)
from reconcile.schema import Field
from reconcile.ticket import LiveTicket

if TYPE_CHECKING:
    from reconcile.manifest import DesiredTicket


_MISSING = object()
_PLAIN = frozenset({str, int, float, bool})
"""Types whose ``==`` (with equal types) implies equality under every field type's rules."""
_LISTS_OF_STRINGS = frozenset({"multiselect", "array"})


def diff_ticket(desired: DesiredTicket, live: LiveTicket) -> TicketChange | None:
    """The change that brings ``live`` to ``desired``, or None when every managed field matches.

    Only the fields ``desired`` declares are compared; the rest of the live data is
    not managed and never appears in the change. Desired values are taken as canonical
    (as :func:`reconcile.manifest.resolve_tickets` gives them) and sent as they are.
    """
    return _diff(desired, live)


def make_plan(
    desired: Sequence[DesiredTicket],
    live: Mapping[str, LiveTicket | ApiError],
    target: Target | None = None,
    schema_drift: Sequence[str] = (),
    team_limit: Sequence[str] | None = None,
) -> Plan:
    """Diff every desired ticket against its live read (or its read failure).

    ``live`` maps display IDs to what the read returned (see :func:`diff_read`).
    """
    changes = {d.name: diff_read(d, live.get(d.name), team_limit) for d in desired}
    return plan_of(desired, changes, target, schema_drift)


def diff_read(
    desired: DesiredTicket,
    read: LiveTicket | ApiError | None,
    team_limit: Sequence[str] | None = None,
) -> TicketChange | None:
    """The change of one desired ticket given what reading it returned, None when in sync.

    An :class:`ApiError` (``TicketNotFound``, exhausted retries) becomes an ``error``
    change carrying its message, and so does a ticket not read at all (None). With
    ``team_limit`` (the teams a writer token may update), a ticket to update that
    belongs to another team is an ``error``: apply would be refused it.
    """
    if isinstance(read, LiveTicket):
        change = _diff(desired, read)
        if change is not None and team_limit is not None:
            change = _within_teams(change, read, team_limit)
        return change
    if isinstance(read, ApiError):
        return TicketChange(
            id=desired.name, action=Action.ERROR, error=str(read) or type(read).__name__
        )
    return TicketChange(id=desired.name, action=Action.ERROR, error="the ticket was not read")


def plan_of(
    desired: Sequence[DesiredTicket],
    changes: Mapping[str, TicketChange | None],
    target: Target | None = None,
    schema_drift: Sequence[str] = (),
) -> Plan:
    """The plan of ``desired`` in its order, from each ticket's :func:`diff_read` by
    display ID (made as its live ticket was read, so the live tickets need not be kept);
    a ticket missing from ``changes`` was not read."""
    planned: list[TicketChange] = []
    unchanged: list[str] = []
    for ticket in desired:
        change = changes[ticket.name] if ticket.name in changes else diff_read(ticket, None)
        if change is None:
            unchanged.append(ticket.name)
        else:
            planned.append(change)
    return Plan(
        changes=tuple(planned),
        unchanged=tuple(unchanged),
        target=target,
        schema_drift=tuple(schema_drift),
    )


def plan_create(desired: DesiredTicket) -> TicketCreate:
    """The create of a declared ticket found on no live ticket: its values and its key.

    The key goes into the key field, so that the next plan finds the ticket by it.
    """
    assert desired.key is not None and desired.key_field is not None
    fields = desired.type.fields_by_id
    values = {**desired.values, desired.key_field: desired.key}
    return TicketCreate(
        key=desired.key,
        type_id=desired.type.id,
        type_prefix=desired.type.prefix,
        type_name=desired.type.name,
        key_field=desired.key_field,
        team=desired.team,
        fields=tuple(
            FieldChange(
                field_id=field_id,
                name=fields[field_id].name if field_id in fields else field_id,
                before=None,
                after=value,
                sensitive=field_id in desired.sensitive,
                protected=field_id in desired.protected,
            )
            for field_id, value in values.items()
        ),
        location=str(desired.location),
    )


def _within_teams(change: TicketChange, live: LiveTicket, teams: Sequence[str]) -> TicketChange:
    """``change``, or an error when the token's teams do not include the ticket's team."""
    if change.action != Action.UPDATE or live.team is None or live.team in teams:
        return change
    return replace(
        change,
        action=Action.ERROR,
        error=(
            f"the token may not update this ticket: it belongs to team {live.team!r}, "
            f"the token's teams are {', '.join(teams) or 'none'}"
        ),
    )


def _refused(desired: DesiredTicket, live: LiveTicket, error: str) -> TicketChange:
    """An error entry of the plan for a ticket that must not be diffed."""
    return TicketChange(
        id=desired.name,
        action=Action.ERROR,
        etag=live.etag,
        error=error,
        last_updated_by=live.last_updated_by,
        last_updated_at=live.last_updated_at,
    )


def _diff(desired: DesiredTicket, live: LiveTicket) -> TicketChange | None:
    if live.ticket_type_id is not None and live.ticket_type_id != desired.type.id:
        return _refused(
            desired,
            live,
            f"live ticket has type {live.ticket_type_id}, not {desired.type.name} "
            f"({desired.type.id}) as its prefix says",
        )
    data = live.data
    if desired.key is not None and desired.key_field is not None:
        held = data.get(desired.key_field)
        if held != desired.key:
            return _refused(
                desired,
                live,
                f"its key field holds {held!r}, not the declared key {desired.key!r}: "
                "fix the manifest's id or key",
            )
    changed: list[FieldChange] = []
    values = desired.values
    compared: Iterable[tuple[str, Any]] = values.items()
    if values.items() <= data.items():
        # Every value is in the live data, equal by ``==`` (one test in C): equal by its
        # field's rules when it is a string; others are compared below (``1 == True``).
        compared = [item for item in compared if type(item[1]) is not str]
    for field_id, want in compared:
        have = data.get(field_id, _MISSING)
        if type(have) is type(want) and type(want) in _PLAIN and have == want:
            # Fast path for the common in-sync scalar: equal values of one plain type are
            # equal by every field type's rules.
            continue
        field = desired.type.fields_by_id.get(field_id)
        if field is None:
            # Resolution only yields the type's own fields; an unknown one is compared exactly.
            field = Field(id=field_id, name=field_id, label=field_id, type="unknown")
        elif type(want) is list and field.type in _LISTS_OF_STRINGS and have == want:
            # Fast path: a desired multiselect or array is a list of strings (resolution
            # checks it), so a live list equal to it is equal by the field's rules.
            continue
        have = field.value_in(data)
        if field.equal(want, have):
            continue
        changed.append(
            FieldChange(
                field_id=field_id,
                name=field.name,
                before=have,
                after=want,
                sensitive=field_id in desired.sensitive,
                protected=field_id in desired.protected,
                source=_source(desired, field_id),
                field_type=field.type,
            )
        )
    if not changed:
        return None
    return TicketChange(
        id=desired.name,
        action=Action.UPDATE,
        etag=live.etag,
        fields=tuple(changed),
        last_updated_by=live.last_updated_by,
        last_updated_at=live.last_updated_at,
        selectors=desired.selectors,
    )


def _source(desired: DesiredTicket, field_id: str) -> FieldSource | None:
    """Where a desired value comes from: the policy that set it, else the ticket entry."""
    source = desired.sources.get(field_id)
    if source is not None:
        return source
    location = desired.locations.get(field_id)
    return FieldSource(str(location)) if location is not None else None
