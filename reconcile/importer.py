"""Import: live tickets into a manifest that plans with no changes against the same tenant.

:func:`render_import` is pure (live tickets + schema → YAML text). The emitter is
written here rather than delegated to a YAML library because the output must read
back *exactly* under the project's loader (YAML 1.2 core scalars) and also stay
unambiguous for YAML 1.1 tools: a text value ``no``, ``2026-12-24``, ``1e3`` or
``null`` is quoted, while a date field's ``2026-12-24`` stays plain, as a person
would write it. Multi-line text is written as a literal block scalar where that
reads back unchanged, else double-quoted with escapes.

Which fields are imported: every field present in the ticket's live ``data`` (a
present-but-empty value is written as the field's empty form). With ``fields``, only
those, and a named field absent from live data is written as its empty form, so the
manifest declares "empty" for it; a required field cannot be declared empty and is
left out with a note. A live value the field would not accept from a manifest (an
option removed since it was set, say) is left out with a note too: declaring it would
make the manifest invalid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from reconcile.client import TicketingClient
from reconcile.errors import ReconcileError
from reconcile.manifest import _resolve_plain
from reconcile.plan import ticket_sort_key
from reconcile.schema import Field, Schema, TicketType, is_empty
from reconcile.ticket import LiveTicket, display_id_prefix

HEADER = "# Imported by `reconcile import`: live values of the fields listed, by field name.\n"
FLOW_LIST_WIDTH = 80
"""A list of plain strings is written inline (``[a, b]``) when that line stays this short."""

_INDENT = "  "
# Characters YAML allows unescaped in a stream (the YAML 1.2 printable set), minus the
# ones that are line breaks in YAML 1.1 (NEL, LS, PS) and the BOM.
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
    "\U00010000-\U0010ffff]"
)
_PLAIN_FIRST = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`]")
_FLOW_SPECIAL = re.compile(r"[,\[\]{}]")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TYPES = frozenset({"date", "datetime"})


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
    blocks: list[str] = []
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
        blocks.append(_ticket_block(ticket, ticket_type, chosen, notes))
    body = "tickets:\n" + "".join(blocks) if blocks else "tickets: []\n"
    return Imported(text=HEADER + body, tickets=len(ordered), notes=tuple(notes))


def select_tickets(
    tickets: Iterable[LiveTicket], *, prefix: str | None = None, team: str | None = None
) -> list[LiveTicket]:
    """The tickets of type ``prefix`` and team ``team`` (the list endpoint has no filters)."""
    return [
        t
        for t in tickets
        if (prefix is None or display_id_prefix(t.object_id) == prefix)
        and (team is None or t.team == team)
    ]


def list_all(
    client: TicketingClient,
    progress: Callable[[int, str], Callable[[int], None]] | None = None,
    page_size: int = 500,
) -> list[LiveTicket]:
    """Every ticket of the tenant through the list endpoint, page by page, with progress."""
    first, total = client.list_page(1, page_size)
    pages = max(1, -(-total // page_size))
    tick = progress(pages, "Listing") if progress is not None else None
    found = list(first)
    if tick:
        tick(1)
    for number in range(2, pages + 1):
        tickets, _ = client.list_page(number, page_size)
        found.extend(tickets)
        if tick:
            tick(1)
        if not tickets:
            break
    return found


def _chosen_fields(
    ticket_type: TicketType, ticket: LiveTicket, names: Sequence[str]
) -> list[tuple[Field, bool]]:
    """(field, named) pairs in schema order; ``named`` when asked for by ``--fields``."""
    if not names:
        return [(f, False) for f in ticket_type.fields if f.id in ticket.data]
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
    return [(f, True) for f in ticket_type.fields if f.id in wanted]


def _ticket_block(
    ticket: LiveTicket,
    ticket_type: TicketType,
    chosen: list[tuple[Field, bool]],
    notes: list[str],
) -> str:
    lines = [f"  - id: {ticket.object_id}\n"]
    entries: list[str] = []
    for field, _named in chosen:
        value = ticket.data.get(field.id, field.empty)
        if is_empty(value) and field.required:
            notes.append(
                f"{ticket.object_id} field {field.name!r}: required but empty live; not imported"
            )
            continue
        reason = field.check(value)
        if reason is not None:
            notes.append(f"{ticket.object_id} field {field.name!r}: {reason}; not imported")
            continue
        entries.append(_entry(_key_for(ticket_type, field), field.canonical(value), field, 3))
    if entries:
        lines.append("    fields:\n")
        lines += entries
    return "".join(lines)


def _key_for(ticket_type: TicketType, field: Field) -> str:
    """The field's name, unless the name resolves to another field (then its UUID)."""
    return field.name if ticket_type.resolve(field.name) is field else field.id


# --------------------------------------------------------------------------- emitting


def yaml_entry(key: str, value: Any, field: Field | None = None, depth: int = 0) -> str:
    """``key: value`` as YAML lines at ``depth`` levels of indentation (two spaces each)."""
    return _entry(key, value, field, depth)


def scalar_style(value: str, field: Field | None = None, flow: bool = False) -> str:
    """How a string is best written: ``plain``, ``single``, ``double`` or ``literal``.

    ``literal`` only when the string has a line break and reads back exactly as a
    block scalar; ``plain`` only when every YAML 1.1 and 1.2 reader takes it as this
    string (a date or datetime field's value may stay plain: the manifest format
    reads ``2026-12-24`` for a date field as that date's string).
    """
    if "\n" in value:
        return "literal" if _literal_ok(value) else "double"
    if _UNPRINTABLE.search(value) or "\t" in value or "\r" in value:
        return "double"
    if _plain_ok(value, field, flow):
        return "plain"
    return "single"


def scalar(value: str, field: Field | None = None, flow: bool = False) -> str:
    """A one-line YAML scalar for ``value`` (never a block scalar)."""
    style = scalar_style(value, field, flow)
    if style == "plain":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return _double(value)


def _entry(key: str, value: Any, field: Field | None, depth: int) -> str:
    pad = _INDENT * depth
    head = f"{pad}{scalar(key)}:"
    if isinstance(value, str) and scalar_style(value, field) == "literal":
        return head + " " + _literal(value, pad + _INDENT)
    if isinstance(value, list) and value:
        inline = _flow_list(value, field)
        if inline is not None and len(head) + 1 + len(inline) <= FLOW_LIST_WIDTH:
            return f"{head} {inline}\n"
        return head + "\n" + "".join(_item(v, field, depth + 1) for v in value)
    if isinstance(value, dict) and value:
        return head + "\n" + "".join(_entry(str(k), v, None, depth + 1) for k, v in value.items())
    return f"{head} {_inline(value, field)}\n"


def _item(value: Any, field: Field | None, depth: int) -> str:
    pad = _INDENT * depth
    if isinstance(value, str) and scalar_style(value, field) == "literal":
        return f"{pad}- " + _literal(value, pad + _INDENT)
    if isinstance(value, (list, dict)) and value:
        nested = (
            "".join(_item(v, None, depth + 1) for v in value)
            if isinstance(value, list)
            else "".join(_entry(str(k), v, None, depth + 1) for k, v in value.items())
        )
        return f"{pad}-\n{nested}"
    return f"{pad}- {_inline(value, field)}\n"


def _inline(value: Any, field: Field | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        return scalar(value, field)
    if value == [] or value == {}:
        return "[]" if isinstance(value, list) else "{}"
    raise TypeError(f"cannot write a {type(value).__name__} as YAML")


def _flow_list(values: list[Any], field: Field | None) -> str | None:
    """``[a, b]`` when every item is a plain-safe string in flow context, else None."""
    items = []
    for value in values:
        if not isinstance(value, str) or scalar_style(value, field, flow=True) != "plain":
            return None
        items.append(value)
    return "[" + ", ".join(items) + "]"


def _plain_ok(value: str, field: Field | None, flow: bool) -> bool:
    if not value or value != value.strip() or not _PLAIN_FIRST.match(value[0]):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    if flow and _FLOW_SPECIAL.search(value):
        return False
    if value in ("---", "..."):
        return False
    resolved = _resolve_plain(value)
    if not isinstance(resolved, str) or resolved != value:
        return False
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == _STR_TAG:
        return True
    # YAML 1.1 would read a timestamp; the manifest format reads it as the field's string.
    return field is not None and field.type in _TIMESTAMP_TYPES and tag.endswith(":timestamp")


def _literal_ok(value: str) -> bool:
    if _UNPRINTABLE.search(value) or "\r" in value:
        return False
    if value.endswith("\n\n") or not value.strip():
        return False
    lines = value.split("\n")
    first = next(line for line in lines if line.strip())
    if first[0] in " \t":
        return False
    # Trailing blanks and blank-but-spaced lines read back differently (or get stripped).
    return not any(line != line.rstrip(" \t") for line in lines)


def _literal(value: str, pad: str) -> str:
    indicator = "|" if value.endswith("\n") else "|-"
    lines = value[:-1].split("\n") if value.endswith("\n") else value.split("\n")
    return indicator + "\n" + "".join(f"{pad}{line}\n" if line else "\n" for line in lines)


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\x00": "\\0",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _double(value: str) -> str:
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _UNPRINTABLE.match(char):
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code <= 0xFF
                else f"\\u{code:04x}"
                if code <= 0xFFFF
                else f"\\U{code:08x}"
            )
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


__all__ = [
    "ImportFailed",
    "Imported",
    "list_all",
    "render_import",
    "scalar",
    "scalar_style",
    "select_tickets",
    "yaml_entry",
]
