"""Declared tickets resolved against the ticket-type schema: desired values by field UUID."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from reconcile.errors import ManifestError, Problem
from reconcile.manifest.desired import DesiredTicket, FieldLocations, Policy, PolicyRule
from reconcile.manifest.model import DeclaredPolicy, DeclaredTicket, Location, problem
from reconcile.manifest.parse import gc_paused
from reconcile.schema import Field, Schema, TicketType, is_empty
from reconcile.ticket import display_id_prefix

KeyFieldSetting = str | Mapping[str, str] | None
"""The ``key_field`` setting: one field key for every type, or one per type prefix."""


def resolve_tickets(
    declared: Sequence[DeclaredTicket], schema: Schema, key_field: KeyFieldSetting = None
) -> list[DesiredTicket]:
    """Resolve field keys against the schema and check every value.

    Raises ManifestError with every problem: unknown ticket prefix or type, unknown
    field, two keys for one field, a value the field does not accept (including
    clearing a required field), an unknown field in ``sensitive``/``protected``; for a
    ticket with a ``key``: no ``key_field`` for its type (or not a text field), the key
    field also set in ``fields``; for one to create (a key, no id): required fields
    missing.
    """
    resolver = Resolver(schema, key_field)
    resolved = resolver.tickets(declared)
    if resolver.problems:
        raise ManifestError(resolver.problems)
    return resolved


class Resolver:
    """Resolves declared tickets, a batch (a manifest file) at a time, collecting
    problems in :attr:`problems` (what :func:`resolve_tickets` raises).

    Field lookups are cached per ticket type and key: thousands of tickets repeat
    the same few keys, and TicketType.resolve scans the type's fields.
    """

    def __init__(self, schema: Schema, key_field: KeyFieldSetting = None):
        self.schema = schema
        self.key_field = key_field
        self.problems: list[Problem] = []
        self.reported: set[tuple[Location, str]] = set()
        self.fields: dict[tuple[str, str], Field | None] = {}
        self.by_type: dict[str, dict[str, Field | None]] = {}
        self.by_prefix: dict[str | None, TicketType | None] = {}
        self.keyed_by_type: dict[str, dict[str, _Keyed | None]] = {}
        self.takers: dict[str, Take] = {}
        """By field UUID (:func:`_taker`)."""

    def tickets(self, declared: Iterable[DeclaredTicket]) -> list[DesiredTicket]:
        """The desired tickets of those without a problem (the others are in
        :attr:`problems`)."""
        with gc_paused():
            resolved = [self.ticket(ticket) for ticket in declared]
        return [ticket for ticket in resolved if ticket is not None]

    def error(self, ticket: DeclaredTicket, location: Location, message: str) -> None:
        # A bad document-level default or list entry is reported once, not once per ticket.
        key = (location, message.replace(ticket.name, ""))
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(problem(location.path, location.line, message))

    def field(self, ticket_type: TicketType, key: str) -> Field | None:
        known = self.fields_of(ticket_type)
        if key not in known:
            known[key] = ticket_type.resolve(key)
        return known[key]

    def fields_of(self, ticket_type: TicketType) -> dict[str, Field | None]:
        """The fields of a type by key as written, as far as resolved yet."""
        known = self.by_type.get(ticket_type.id)
        if known is None:
            known = self.by_type[ticket_type.id] = {}
        return known

    def known_prefixes(self) -> str:
        return ", ".join(self.schema.prefixes) or "none"

    def ticket_type(self, ticket: DeclaredTicket) -> TicketType | None:
        """The ticket's type: by its id's prefix, else by its ``type`` (prefix or name)."""
        named = None
        if ticket.type is not None:
            folded = ticket.type.casefold()
            types = self.schema.types
            named_by = (
                [t for t in types if t.prefix == ticket.type]
                or [t for t in types if t.name == ticket.type]
                or [t for t in types if t.name.casefold() == folded]
            )
            if len(named_by) > 1:
                self.error(
                    ticket,
                    ticket.location,
                    f"{ticket.name}: ticket type {ticket.type!r} names "
                    f"{len(named_by)} types (prefixes "
                    f"{', '.join(t.prefix for t in named_by)}); give the prefix",
                )
                return None
            named = named_by[0] if named_by else None
            if named is None:
                self.error(
                    ticket,
                    ticket.location,
                    f"{ticket.name}: unknown ticket type {ticket.type!r} "
                    f"(known prefixes: {self.known_prefixes()})",
                )
                return None
        if ticket.id is None:
            return named
        prefix = display_id_prefix(ticket.id)
        if prefix in self.by_prefix:
            ticket_type = self.by_prefix[prefix]
        else:
            ticket_type = self.by_prefix[prefix] = self.schema.type_for(ticket.id)
        if ticket_type is None:
            prefix = ticket.id.rsplit("-", 1)[0]
            self.error(
                ticket,
                ticket.location,
                f"{ticket.id}: unknown ticket type prefix {prefix!r} "
                f"(known prefixes: {self.known_prefixes()})",
            )
            return None
        if named is not None and named.id != ticket_type.id:
            self.error(
                ticket,
                ticket.location,
                f"{ticket.id}: 'type' {ticket.type!r} is not the type of its id "
                f"({ticket_type.prefix}, {ticket_type.name})",
            )
            return None
        return ticket_type

    def key_field_of(self, ticket: DeclaredTicket, ticket_type: TicketType) -> Field | None:
        """The text field that holds the keys of ``ticket_type`` (``key_field``)."""
        where = ticket.key_location or ticket.location
        if self.key_field is None:
            self.error(
                ticket,
                where,
                "'key' needs the key_field setting (the text field that holds each "
                "ticket's key): give --key-field FIELD, RECONCILE_KEY_FIELD or key_field "
                "in reconcile.yaml",
            )
            return None
        if isinstance(self.key_field, str):
            name: str | None = self.key_field
        else:
            name = self.key_field.get(ticket_type.prefix)
        if name is None:
            assert isinstance(self.key_field, Mapping)
            listed = ", ".join(sorted(self.key_field))
            self.error(
                ticket,
                where,
                f"'key' of a {ticket_type.prefix} ticket: the key_field map has no "
                f"{ticket_type.prefix} (it has {listed})",
            )
            return None
        target = self.field(ticket_type, name)
        if target is None or target.type != "text":
            why = "is not a field of" if target is None else f"is a {target.type} field of"
            self.error(
                ticket,
                where,
                f"key_field {name!r} {why} {ticket_type.name} ({ticket_type.prefix}); "
                "keys are stored in a text field",
            )
            return None
        return target

    def ticket(self, ticket: DeclaredTicket) -> DesiredTicket | None:
        ticket_type = self.ticket_type(ticket)
        if ticket_type is None:
            return None
        key_field = self.key_field_of(ticket, ticket_type) if ticket.key is not None else None
        sensitive = self.keys(ticket, ticket_type, "sensitive")
        known = self.fields_of(ticket_type)
        key_id = key_field.id if key_field is not None else None
        found = None
        if not ticket.document.defaults:
            found = _plain_values(
                ticket.own,
                self.keyed(ticket_type),
                lambda key: self.key_of(key, ticket_type),
                key_id,
            )
        if found is not None:
            values, keys, own_set = found
        else:
            values, keys, own_set = self.values(ticket, ticket_type, known, sensitive, key_field)
        if ticket.id is None:
            self.required(ticket, ticket_type, values, key_field)
        return DesiredTicket(
            id=ticket.id,
            location=ticket.location,
            type=ticket_type,
            values=values,
            sensitive=sensitive,
            protected=self.keys(ticket, ticket_type, "protected"),
            locations=FieldLocations(
                ticket.document,
                ticket.index,
                values,
                keys,
                own_set,
                ticket_type.fields_by_id,
            ),
            key=ticket.key,
            key_field=key_field.id if key_field is not None else None,
            team=ticket.team,
        )

    def keyed(self, ticket_type: TicketType) -> dict[str, _Keyed | None]:
        """The :class:`_Keyed` of each key of a type's tickets, as far as met yet."""
        keyed = self.keyed_by_type.get(ticket_type.id)
        if keyed is None:
            keyed = self.keyed_by_type[ticket_type.id] = {}
        return keyed

    def key_of(self, key: str, ticket_type: TicketType) -> _Keyed | None:
        """What ``key`` sets in a ticket of ``ticket_type`` (None: no field)."""
        target = self.field(ticket_type, key)
        if target is None:
            return None
        taker = self.takers.get(target.id)
        if taker is None:
            taker = self.takers[target.id] = _taker(target)
        return _Keyed(target.id, taker, key == target.name)

    def values(
        self,
        ticket: DeclaredTicket,
        ticket_type: TicketType,
        known: dict[str, Field | None],
        sensitive: frozenset[str],
        key_field: Field | None,
    ) -> tuple[dict[str, Any], tuple[str, ...] | None, int]:
        """A ticket's desired values, the keys that set them (None when each is its
        field's name) and how many are its own, with every problem reported."""
        values: dict[str, Any] = {}
        chosen: dict[str, int] = {}  # field UUID -> its place in ``keys``
        keys: list[str] = []
        own = ticket.own
        own_set = 0
        named = True  # every key is its field's name: the keys need not be kept
        # The ticket's own fields first, so that they win over defaults for the same field.
        for key, value, default in sorted(ticket.field_items(), key=lambda item: item[2]):
            target = known.get(key, _UNRESOLVED)
            if target is _UNRESOLVED:
                target = known[key] = ticket_type.resolve(key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(key))
                self.error(
                    ticket,
                    ticket.field_location(key, default=default),
                    f"{ticket.name}: unknown field {key!r}{suggestion}",
                )
                continue
            field_id = target.id
            earlier = chosen.get(field_id)
            if earlier is not None:
                earlier_key = keys[earlier]
                if default and earlier_key in own:
                    continue
                self.error(
                    ticket,
                    ticket.field_location(key, default=default),
                    f"{ticket.name}: {key!r} and {earlier_key!r} (at "
                    f"{ticket.field_location(earlier_key, default=earlier_key not in own)}) "
                    f"both set field {target.name!r}",
                )
                continue
            chosen[field_id] = len(keys)
            keys.append(key)
            own_set += not default
            named &= key == target.name
            # A sensitive value is never quoted in a problem: it would reach logs and CI output.
            reason = target.check(value, sensitive=field_id in sensitive)
            if reason is not None:
                self.error(
                    ticket,
                    ticket.field_location(key, default=default),
                    f"{ticket.name} field {target.name!r}: {reason}",
                )
                continue
            if key_field is not None and field_id == key_field.id:
                self.error(
                    ticket,
                    ticket.field_location(key, default=default),
                    f"{ticket.name}: field {target.name!r} is the key field: it holds the "
                    "ticket's 'key' and is not set in 'fields'",
                )
                continue
            values[field_id] = target.canonical(value)
        return values, None if named else tuple(keys), own_set

    def required(
        self,
        ticket: DeclaredTicket,
        ticket_type: TicketType,
        values: Mapping[str, Any],
        key_field: Field | None,
    ) -> None:
        """A ticket to create must set every required field of its type."""
        missing = [
            f.name
            for f in ticket_type.fields
            if f.required and f.id not in values and (key_field is None or f.id != key_field.id)
        ]
        if missing:
            names = ", ".join(repr(name) for name in missing)
            self.error(
                ticket,
                ticket.location,
                f"{ticket.name}: a {ticket_type.prefix} ticket to create needs its required "
                f"field(s) {names}",
            )

    def keys(self, ticket: DeclaredTicket, ticket_type: TicketType, name: str) -> frozenset[str]:
        """The field UUIDs of a ticket's ``sensitive`` or ``protected`` keys."""
        listed: frozenset[str] = getattr(ticket, name)
        if not listed:
            return _NONE
        ids: set[str] = set()
        for key in sorted(listed):
            target = self.field(ticket_type, key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(key))
                where = getattr(ticket, f"{name}_locations")
                self.error(
                    ticket,
                    where.get(key, ticket.location),
                    f"{ticket.name}: unknown field {key!r} in {name!r}{suggestion}",
                )
            else:
                ids.add(target.id)
        return frozenset(ids)


_NONE: frozenset[str] = frozenset()
_UNRESOLVED: Any = object()


_SHORT = 64
"""Strings and lists no longer than this are remembered once a field accepted them."""


class _Refused(Exception):
    """A value its field's check refuses: the ticket leaves the fast path."""


Take = Callable[[Any], Any]
"""A field's value taker: the canonical value of a value the field accepts, else
:class:`_Refused` (see :func:`_taker`)."""


def _taker(field: Field) -> Take:
    """What ``field.check(value) is None`` then ``field.canonical(value)`` give, faster.

    Values of the field type's usual kind are taken at once where the check is only
    about the kind (text, booleans, numbers, arrays) or when they were accepted before
    (options, dates, references repeat from ticket to ticket); anything else goes
    through the check itself, so nothing is accepted that the check refuses. A string
    met again is given as the one accepted first: the desired tickets of a large plan
    share their option values instead of holding a copy each.
    """
    accepted: set[Any] = set()
    strings: dict[str, str] = {}

    def checked(value: Any) -> Any:
        if field.check(value) is not None:
            raise _Refused
        return field.canonical(value)

    def remembered(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            first = strings.get(value)
            if first is not None:
                return first
            taken = checked(value)
            if taken and len(value) <= _SHORT:
                strings[value] = value
            return taken
        if kind is list and len(value) <= _SHORT:
            # Equal to an accepted list of strings, a list holds those strings.
            items = tuple(value)
            try:
                if items in accepted:
                    return value
            except TypeError:  # an item that is a list or a mapping: the check says why
                return checked(value)
            taken = checked(value)
            if taken:
                accepted.add(items)
            return taken
        return checked(value)

    def text(value: Any) -> Any:
        return value if type(value) is str and value else checked(value)

    def boolean(value: Any) -> Any:
        return value if type(value) is bool else checked(value)

    def number(value: Any) -> Any:
        kind = type(value)
        if kind is int or (kind is float and math.isfinite(value)):
            return value
        return checked(value)

    def array(value: Any) -> Any:
        if type(value) is list and value and all(type(item) is str for item in value):
            return value
        return checked(value)

    takers = {"text": text, "richtext": text, "boolean": boolean, "number": number}
    return takers.get(field.type, array if field.type == "array" else remembered)


class _Keyed(NamedTuple):
    """What a key of a ticket's ``fields`` sets: a field, through its taker."""

    field_id: str
    take: Take
    named: bool
    """The key is the field's name."""


def _plain_values(
    own: dict[str, Any],
    keyed: dict[str, _Keyed | None],
    key_of: Callable[[str], _Keyed | None],
    key_id: str | None,
) -> tuple[dict[str, Any], tuple[str, ...] | None, int] | None:
    """:meth:`Resolver.values` of a ticket without defaults, as long as nothing is wrong
    with it: None at the first problem (that method then reports it)."""
    values: dict[str, Any] = {}
    named = True
    try:
        for key, value in own.items():
            found = keyed[key] if key in keyed else keyed.setdefault(key, key_of(key))
            if found is None:
                return None
            values[found.field_id] = found.take(value)
            named = named and found.named
    except _Refused:
        return None
    if len(values) != len(own) or key_id in values:
        return None  # two keys set one field, or one sets the key field
    return values, None if named else tuple(own), len(values)


def _suggestion(names: list[str]) -> str:
    """' (did you mean ...?)' for close names, a name and its label counted once."""
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)
    names = list(unique.values())
    if not names:
        return ""
    return f" (did you mean {' or '.join(repr(n) for n in names)}?)"


def resolve_all(
    tickets: Sequence[DeclaredTicket],
    policies: Sequence[DeclaredPolicy],
    schema: Schema,
    key_field: KeyFieldSetting = None,
) -> tuple[list[DesiredTicket], list[Policy]]:
    """Resolve ticket entries and policies, raising one ManifestError with every problem."""
    problems: list[Problem] = []
    resolved: list[DesiredTicket] = []
    resolved_policies: list[Policy] = []
    try:
        resolved_policies = resolve_policies(policies, schema)
    except ManifestError as error:
        problems += error.problems
    try:
        resolved = resolve_tickets(tickets, schema, key_field)
    except ManifestError as error:
        problems += error.problems
    if problems:
        raise ManifestError(problems)
    return resolved, resolved_policies


def resolve_policies(declared: Sequence[DeclaredPolicy], schema: Schema) -> list[Policy]:
    """Resolve each policy's types, ``where`` keys and fields against the schema.

    Raises ManifestError with every problem: an unknown type, an unknown field (in
    any of the selected types), a value a field does not accept, and a field that
    the policy both sets and reads in its own ``where`` (applying it would change
    which tickets it selects, so the next plan would differ).
    """
    problems: list[Problem] = []
    policies = [_policy(policy, schema, problems) for policy in declared]
    if problems:
        raise ManifestError(problems)
    return [policy for policy in policies if policy is not None]


def _policy(declared: DeclaredPolicy, schema: Schema, problems: list[Problem]) -> Policy | None:
    def error(location: Location, message: str) -> None:
        entry = problem(location.path, location.line, f"policy {declared.name!r}: {message}")
        if entry not in problems:
            problems.append(entry)

    types: list[TicketType] = []
    for name, location in declared.types:
        found = next((t for t in schema.types if name in (t.prefix, t.name)), None)
        if found is None:
            known = ", ".join(schema.prefixes) or "none"
            error(location, f"unknown ticket type {name!r} (known prefixes: {known})")
        elif found not in types:
            types.append(found)
    rules: dict[str, PolicyRule] = {}
    for ticket_type in types:
        rule = _rule(declared, ticket_type, error)
        if rule is not None:
            rules[ticket_type.id] = rule
    if len(rules) != len(types) or len(types) != len(declared.types):
        return None
    return Policy(declared.name, declared.location, rules, declared.teams)


def _rule(
    declared: DeclaredPolicy, ticket_type: TicketType, error: Callable[[Location, str], None]
) -> PolicyRule | None:
    ok = True

    def lookup(key: str, location: Location, where: str) -> Field | None:
        nonlocal ok
        found = ticket_type.resolve(key)
        if found is None:
            ok = False
            suggestion = _suggestion(ticket_type.suggest(key))
            error(location, f"unknown field {key!r}{where} of {ticket_type.prefix}{suggestion}")
        return found

    where: dict[str, tuple[Any, ...]] = {}
    read_at: dict[str, Location] = {}
    for condition in declared.where:
        target = lookup(condition.key, condition.location, " in 'where'")
        if target is None:
            continue
        for value in condition.values:
            reason = target.check(value)
            if reason is not None and not is_empty(value):
                ok = False
                error(condition.location, f"'where' {target.name!r}: {reason}")
        where[target.id] = tuple(target.canonical(v) for v in condition.values)
        read_at[target.id] = condition.location
    sensitive = _policy_keys(declared.sensitive_locations, lookup, "sensitive")
    protected = _policy_keys(declared.protected_locations, lookup, "protected")
    values: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    for entry in declared.fields:
        target = lookup(entry.key, entry.location, "")
        if target is None:
            continue
        if target.id in values:
            ok = False
            error(
                entry.location,
                f"two keys set field {target.name!r} (also at {locations[target.id]})",
            )
            continue
        if target.id in where:
            ok = False
            error(
                entry.location,
                f"sets {target.name!r}, which its own 'where' reads (at {read_at[target.id]}): "
                "applying it would change which tickets it selects",
            )
            continue
        reason = target.check(entry.value, sensitive=target.id in sensitive)
        if reason is not None:
            ok = False
            error(entry.location, f"field {target.name!r}: {reason}")
            continue
        values[target.id] = target.canonical(entry.value)
        locations[target.id] = entry.location
    if not ok:
        return None
    return PolicyRule(ticket_type, where, values, locations, sensitive, protected)


def _policy_keys(
    keys: dict[str, Location],
    lookup: Callable[[str, Location, str], Field | None],
    name: str,
) -> frozenset[str]:
    found = (lookup(key, location, f" in {name!r}") for key, location in keys.items())
    return frozenset(target.id for target in found if target is not None)
