"""Declared tickets resolved against the ticket-type schema: desired values by field UUID."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconcile.errors import ManifestError, Problem
from reconcile.manifest.model import DeclaredField, DeclaredTicket, DesiredTicket, Location, problem
from reconcile.manifest.parse import gc_paused
from reconcile.schema import Field, Schema, TicketType


def resolve_tickets(declared: Sequence[DeclaredTicket], schema: Schema) -> list[DesiredTicket]:
    """Resolve field keys against the schema and check every value.

    Raises ManifestError with every problem: unknown ticket prefix, unknown field,
    two keys for one field, a value the field does not accept (including clearing a
    required field), an unknown field in ``sensitive``/``protected``.
    """
    resolver = _Resolver(schema)
    with gc_paused():
        resolved = [resolver.ticket(ticket) for ticket in declared]
    if resolver.problems:
        raise ManifestError(resolver.problems)
    return [ticket for ticket in resolved if ticket is not None]


class _Resolver:
    """Resolves declared tickets, collecting problems.

    Field lookups are cached per ticket type and key: thousands of tickets repeat
    the same few keys, and TicketType.resolve scans the type's fields.
    """

    def __init__(self, schema: Schema):
        self.schema = schema
        self.problems: list[Problem] = []
        self.reported: set[tuple[Location, str]] = set()
        self.fields: dict[tuple[str, str], Field | None] = {}

    def error(self, ticket: DeclaredTicket, location: Location, message: str) -> None:
        # A bad document-level default or list entry is reported once, not once per ticket.
        key = (location, message.replace(ticket.id, ""))
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(problem(location.path, location.line, message))

    def field(self, ticket_type: TicketType, key: str) -> Field | None:
        cache_key = (ticket_type.id, key)
        if cache_key not in self.fields:
            self.fields[cache_key] = ticket_type.resolve(key)
        return self.fields[cache_key]

    def ticket(self, ticket: DeclaredTicket) -> DesiredTicket | None:
        ticket_type = self.schema.type_for(ticket.id)
        if ticket_type is None:
            prefix = ticket.id.rsplit("-", 1)[0]
            known = ", ".join(self.schema.prefixes) or "none"
            self.error(
                ticket,
                ticket.location,
                f"{ticket.id}: unknown ticket type prefix {prefix!r} (known prefixes: {known})",
            )
            return None
        sensitive = self.keys(ticket, ticket_type, "sensitive", ticket.sensitive_locations)
        values: dict[str, Any] = {}
        locations: dict[str, Location] = {}
        chosen: dict[str, DeclaredField] = {}
        # The ticket's own fields first, so that they win over defaults for the same field.
        for declared in sorted(ticket.fields, key=lambda f: f.default):
            target = self.field(ticket_type, declared.key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(declared.key))
                self.error(
                    ticket,
                    declared.location,
                    f"{ticket.id}: unknown field {declared.key!r}{suggestion}",
                )
                continue
            earlier = chosen.get(target.id)
            if earlier is not None:
                if declared.default and not earlier.default:
                    continue
                self.error(
                    ticket,
                    declared.location,
                    f"{ticket.id}: {declared.key!r} and {earlier.key!r} (at {earlier.location}) "
                    f"both set field {target.name!r}",
                )
                continue
            chosen[target.id] = declared
            # A sensitive value is never quoted in a problem: it would reach logs and CI output.
            reason = target.check(declared.value, sensitive=target.id in sensitive)
            if reason is not None:
                self.error(
                    ticket, declared.location, f"{ticket.id} field {target.name!r}: {reason}"
                )
                continue
            values[target.id] = target.canonical(declared.value)
            locations[target.id] = declared.location
        return DesiredTicket(
            id=ticket.id,
            location=ticket.location,
            type=ticket_type,
            values=values,
            sensitive=sensitive,
            protected=self.keys(ticket, ticket_type, "protected", ticket.protected_locations),
            locations=locations,
        )

    def keys(
        self, ticket: DeclaredTicket, ticket_type: TicketType, name: str, where: dict[str, Location]
    ) -> frozenset[str]:
        """The field UUIDs of a ticket's ``sensitive`` or ``protected`` keys."""
        ids: set[str] = set()
        for key in sorted(getattr(ticket, name)):
            target = self.field(ticket_type, key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(key))
                self.error(
                    ticket,
                    where.get(key, ticket.location),
                    f"{ticket.id}: unknown field {key!r} in {name!r}{suggestion}",
                )
            else:
                ids.add(target.id)
        return frozenset(ids)


def _suggestion(names: list[str]) -> str:
    """' (did you mean ...?)' for close names, a name and its label counted once."""
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)
    names = list(unique.values())
    if not names:
        return ""
    return f" (did you mean {' or '.join(repr(n) for n in names)}?)"
