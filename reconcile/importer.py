"""Import: live tickets into a manifest that plans with no changes against the same tenant.

:func:`render_import` is pure (live tickets + schema → YAML text). PyYAML emits the
text; :class:`ManifestDumper` makes it quote every string that a YAML 1.1 or 1.2
reader would take for something else (``no``, ``2026-12-24``, ``1e3``, ``null``),
so the output reads back *exactly* under the manifest loader and stays unambiguous
for other tools. Multi-line text is written as a literal block where PyYAML can.

Which fields are imported: every field present in the ticket's live ``data`` (a
present-but-empty value is written as the field's empty form). With ``fields``, only
those, and a named field absent from live data is written as its empty form, so the
manifest declares "empty" for it; a required field cannot be declared empty and is
left out with a note. A live value the field would not accept from a manifest (an
option removed since it was set, say) is left out with a note too: declaring it would
make the manifest invalid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from reconcile.errors import ReconcileError
from reconcile.plan import ticket_sort_key
from reconcile.schema import Field, Schema, TicketType, is_empty
from reconcile.ticket import LiveTicket, display_id_prefix

HEADER = "# Imported by `reconcile import`: live values of the fields listed, by field name.\n"
FLOW_LIST_WIDTH = 60
"""A list of one-line strings is written inline when its items take at most this many characters."""

_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class ImportFailed(ReconcileError):
    """Raised when tickets cannot be imported (unknown type prefix, unknown field name)."""


@dataclass(frozen=True)
class Imported:
    """The manifest text and notes about values left out (one line each, for stderr)."""

    text: str
    tickets: int
    notes: tuple[str, ...] = ()


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
    body = dump_yaml({"tickets": entries})
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
        if field.type in ("date", "datetime") and _plain_timestamp(value):
            value = DateText(value)
        values[_key_for(ticket_type, field)] = value
    return {"id": ticket.object_id, "fields": values} if values else {"id": ticket.object_id}


def _key_for(ticket_type: TicketType, field: Field) -> str:
    """The field's name, unless the name resolves to another field (then its UUID)."""
    return field.name if ticket_type.resolve(field.name) is field else field.id


# --------------------------------------------------------------------------- emitting


class ManifestResolver(yaml.resolver.Resolver):
    """PyYAML's YAML 1.1 resolvers plus the YAML 1.2 core forms they lack.

    PyYAML's emitter quotes a string when a resolver would read its plain form as
    something else: ``no``, ``on``, ``null``, ``2026-12-24`` (YAML 1.1). Manifests are
    read as YAML 1.2 core, which also reads ``1e3`` as a float and ``0o17`` as an
    int, so those are added: output is unambiguous for readers of either version.
    """


ManifestResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)
ManifestResolver.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), ["0"])
_RESOLVER = ManifestResolver()


class ManifestDumper(yaml.SafeDumper, ManifestResolver):
    """PyYAML's safe emitter with :class:`ManifestResolver`'s quoting rules."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent sequences under their key, as people write them.
        super().increase_indent(flow, False)


_YAML11_BREAKS = frozenset("\x85\u2028\u2029")
"""Line breaks to YAML 1.1 readers (PyYAML's included) that PyYAML writes raw outside escapes."""


def _represent_str(dumper: ManifestDumper, value: str) -> yaml.ScalarNode:
    if _YAML11_BREAKS.intersection(value):
        style = '"'  # escaped there as \N, \L, \P
    elif "\n" in value:
        style = "|"  # a literal block where PyYAML can; it falls back to quotes itself
    else:
        style = None
    return dumper.represent_scalar(_STR_TAG, value, style=style)


ManifestDumper.add_representer(str, _represent_str)


def _represent_list(dumper: ManifestDumper, value: list[Any]) -> yaml.SequenceNode:
    # Short lists of one-line strings inline (``[freeze, q4]``), others one item a line.
    short = sum(len(str(v)) + 2 for v in value) <= FLOW_LIST_WIDTH
    inline = short and all(isinstance(v, str) and "\n" not in v for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=inline)


ManifestDumper.add_representer(list, _represent_list)


class DateText(str):
    """A ``date`` or ``datetime`` field's value: written plain (``2026-12-24``), as people do.

    Tagged as a YAML timestamp, the emitter sees that the plain form reads back as
    that tag and leaves it unquoted; the manifest loader (YAML 1.2 core) reads it as
    the same string, which is what the field's type expects.
    """


ManifestDumper.add_representer(
    DateText, lambda dumper, value: dumper.represent_scalar(_TIMESTAMP_TAG, str(value))
)


def dump_yaml(data: Any) -> str:
    """``data`` as manifest YAML that reads back exactly under the manifest loader."""
    return yaml.dump(
        data,
        Dumper=ManifestDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,  # never wrap: one changed word must not re-flow a paragraph in review
    )


def _plain_timestamp(value: Any) -> bool:
    return isinstance(value, str) and (
        _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _TIMESTAMP_TAG
    )


def needs_quotes(value: str) -> bool:
    """True when the plain form of ``value`` would not read back as that string."""
    return _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG


__all__ = [
    "ImportFailed",
    "Imported",
    "ManifestDumper",
    "dump_yaml",
    "filter_listed",
    "needs_quotes",
    "render_import",
]
