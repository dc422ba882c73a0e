"""Declared keys among the live tickets: which live ticket each key names, if any.

A ticket declared by its ``key`` alone (no ``id`` yet) is looked up among the live
tickets of its type by the value of its key field. Found once, it is that ticket (and
its id is not yet in the manifest); found on no ticket, it is to be created; found on
two or more, it is an error naming them all: the API has no uniqueness claim, so a
duplicate made by a race elsewhere is reported, never silently picked. Pure: the live
tickets come from the caller (the list endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from reconcile.manifest import DesiredTicket
from reconcile.plan import Action, TicketChange, ticket_sort_key
from reconcile.ticket import LiveTicket, display_id_prefix


@dataclass(frozen=True)
class KeyMatch:
    """What looking up the declared keys found.

    ``found`` are the desired tickets whose key is on exactly one live ticket, now
    with that ticket's id; ``live`` their live reads. ``to_create`` are the keys found
    nowhere; ``errors`` the keys found on more than one ticket.
    """

    found: tuple[DesiredTicket, ...] = ()
    live: dict[str, LiveTicket] | None = None
    to_create: tuple[DesiredTicket, ...] = ()
    errors: tuple[TicketChange, ...] = ()


def needs_lookup(desired: Iterable[DesiredTicket]) -> bool:
    """True when some declared ticket is known by its key alone."""
    return any(d.id is None and d.key is not None for d in desired)


def holders(
    type_id: str, prefix: str, key_field: str, key: str, live: Iterable[LiveTicket]
) -> list[LiveTicket]:
    """The live tickets of a type whose key field holds ``key``, sorted by ID.

    A ticket's type is its ``ticket_type_id``, or its display ID's prefix when the
    answer has no type id.
    """
    found = [
        t
        for t in live
        if t.data.get(key_field) == key
        and (
            t.ticket_type_id == type_id
            or (t.ticket_type_id is None and display_id_prefix(t.object_id) == prefix)
        )
    ]
    return sorted(found, key=lambda t: ticket_sort_key(t.object_id))


def match_keys(desired: Sequence[DesiredTicket], live: Iterable[LiveTicket]) -> KeyMatch:
    """Look up every desired ticket that has a key and no id among ``live``."""
    keyed = [d for d in desired if d.id is None and d.key is not None]
    wanted = {(d.type.id, d.key_field) for d in keyed}
    index: dict[tuple[str, str, object], list[LiveTicket]] = {}
    for live_ticket in live:
        for type_id, field_id in wanted:
            if field_id is None or field_id not in live_ticket.data:
                continue
            value = live_ticket.data[field_id]
            index.setdefault((type_id, field_id, value), []).append(live_ticket)
    found: list[DesiredTicket] = []
    reads: dict[str, LiveTicket] = {}
    to_create: list[DesiredTicket] = []
    errors: list[TicketChange] = []
    for ticket in keyed:
        assert ticket.key is not None and ticket.key_field is not None
        candidates = index.get((ticket.type.id, ticket.key_field, ticket.key), [])
        matches = holders(
            ticket.type.id, ticket.type.prefix, ticket.key_field, ticket.key, candidates
        )
        if not matches:
            to_create.append(ticket)
        elif len(matches) == 1:
            found.append(replace(ticket, id=matches[0].object_id))
            reads[matches[0].object_id] = matches[0]
        else:
            errors.append(duplicate_key(ticket, [t.object_id for t in matches]))
    return KeyMatch(tuple(found), reads, tuple(to_create), tuple(errors))


def duplicate_key(ticket: DesiredTicket, ids: Sequence[str]) -> TicketChange:
    """The error of a key held by several live tickets (named, so a person can pick one)."""
    return TicketChange(
        id=ticket.key or "?",
        action=Action.ERROR,
        error=(
            f"key {ticket.key!r} is on {len(ids)} tickets: {' and '.join(ids)}; keep one, "
            "clear the key field of the others, and write its id into the manifest"
        ),
    )
