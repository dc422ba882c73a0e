"""Ticket types and their fields: resolving manifest keys, checking and comparing values.

Pure: built from the GET ticket-type answer (or a schema lock file), never does I/O.
The value rules follow the contract's table of field types.
"""

from __future__ import annotations

import difflib
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from reconcile.errors import ApiError
from reconcile.ticket import display_id_prefix, has_surrogate

EMPTY_STRING_TYPES = frozenset({"text", "richtext"})
EMPTY_LIST_TYPES = frozenset({"multiselect", "array"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))"
)
"""ISO 8601 date-time with a required offset, in the forms the server accepts (as the
sandbox's ``fields._DATETIME``): ``T`` or a space, seconds optional, a fraction of 1 to 9
digits only after seconds, then ``Z`` or ``+HH:MM``/``-HH:MM``. Used with ``fullmatch``,
instead of ``datetime.fromisoformat``, whose forms differ between Python versions."""


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""The one UUID form the server takes for a ``reference`` (as the sandbox's ``fields._UUID``):
8-4-4-4-12 hex digits. ``uuid.UUID`` also reads ``{…}``, ``urn:uuid:…`` and the 32 digits
without dashes, which the server refuses."""


def is_empty(value: Any) -> bool:
    """True for the vendor's empty forms: ``""``, ``null`` and ``[]``."""
    return value is None or value == "" or value == []


@dataclass(frozen=True)
class Field:
    """One field of a ticket type, as GET ticket-type describes it."""

    id: str
    name: str
    label: str
    type: str
    required: bool = False
    options: tuple[str, ...] | None = None

    @property
    def empty(self) -> Any:
        """The value that clears this field: ``""``, ``[]`` or ``null`` by type."""
        if self.type in EMPTY_STRING_TYPES:
            return ""
        if self.type in EMPTY_LIST_TYPES:
            return []
        return None

    def value_in(self, data: Mapping[str, Any]) -> Any:
        """This field's value in a live ticket's ``data``: a key absent from it is the empty form.

        The one statement of that rule (the vendor omits cleared fields from answers).
        """
        return data.get(self.id, self.empty)

    def check(self, value: Any, *, sensitive: bool = False) -> str | None:
        """Return why ``value`` is not acceptable for this field, or None if it is.

        Any empty form is acceptable (it clears the field) unless the field is required.
        Unknown field types (a newer server) accept any value. The reason quotes the
        value, unless ``sensitive``: then it names only the value's kind.
        """
        if is_empty(value):
            return "is required and cannot be cleared" if self.required else None
        return _TYPE_CHECKS.get(self.type, _accept_any)(self, value, sensitive)

    def canonical(self, value: Any) -> Any:
        """The value to send: empty forms become this field's own empty form."""
        return self.empty if is_empty(value) else value

    def equal(self, desired: Any, live: Any) -> bool:
        """Compare a desired value with a live one by the field type's rules."""
        if is_empty(desired) or is_empty(live):
            return is_empty(desired) and is_empty(live)
        try:
            if self.type == "number":
                return _number_equal(desired, live)
            if self.type == "datetime":
                return _instant(desired) == _instant(live)
            if self.type == "multiselect":
                return _as_set(desired) == _as_set(live)
        except (TypeError, ValueError):
            return False
        if isinstance(desired, (dict, list)) or isinstance(live, (dict, list)):
            return json_equal(desired, live)
        return type(desired) is type(live) and desired == live


@dataclass(frozen=True)
class TicketType:
    """A ticket type: its display-ID prefix and its fields."""

    id: str
    name: str
    prefix: str
    fields: tuple[Field, ...]
    fields_by_id: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    """The fields by UUID (built from ``fields``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields_by_id", {f.id: f for f in self.fields})

    def resolve(self, key: str) -> Field | None:
        """Find a field by exact UUID, then exact name, then label (case-insensitive).

        A label that two fields share (ids and names are unique, see
        :meth:`Schema.from_api`) finds neither: which one was meant would be a guess."""
        for attribute in ("id", "name"):
            for candidate in self.fields:
                if getattr(candidate, attribute) == key:
                    return candidate
        folded = key.casefold()
        labelled = [f for f in self.fields if f.label.casefold() == folded]
        return labelled[0] if len(labelled) == 1 else None

    def suggest(self, key: str) -> list[str]:
        """Field names close to an unknown key, best first; for a label that fields
        share, their names."""
        folded = key.casefold()
        sharing = [f.name for f in self.fields if f.label.casefold() == folded]
        if len(sharing) > 1:
            return sharing
        names = {f.name for f in self.fields} | {f.label for f in self.fields}
        return difflib.get_close_matches(key, sorted(names), n=3, cutoff=0.6)

    def field_by_id(self, field_id: str) -> Field | None:
        """The field with this UUID, or None."""
        return self.fields_by_id.get(field_id)


@dataclass(frozen=True)
class Schema:
    """All ticket types of a tenant."""

    types: tuple[TicketType, ...]

    @classmethod
    def from_api(cls, payload: Any) -> Schema:
        """Build from the GET ticket-type answer (``{"data": [...]}``) or a bare list.

        Unknown keys are ignored, optional ones defaulted. An :class:`ApiError` says
        which type and field when a required key is missing, a key is of the wrong kind,
        a string holds a lone surrogate (no plan or file could show it), two types share
        a prefix or an id, or two fields of a type share an id or a name: each would make
        a diff a guess.
        """
        items = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise ApiError("unexpected ticket-type answer: no 'data' list")
        types = tuple(_ticket_type(item, n) for n, item in enumerate(items, 1))
        # A display ID's prefix, or a ticket's ticket_type_id, must name one type, or its
        # tickets' fields are a guess.
        where = "unexpected ticket-type answer: types"
        _unique([t.prefix for t in types], where, "the prefix")
        _unique([t.id for t in types], where, "the id")
        return cls(types=types)

    def to_data(self) -> list[dict[str, Any]]:
        """A JSON/YAML-safe form that :meth:`from_api` reads back (used by the schema lock)."""
        return [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "fields": [_field_data(f) for f in t.fields],
            }
            for t in self.types
        ]

    def type_for(self, display_id: str) -> TicketType | None:
        """The ticket type whose prefix starts ``display_id``, or None."""
        prefix = display_id_prefix(display_id)
        return next((t for t in self.types if t.prefix == prefix), None)

    @property
    def prefixes(self) -> list[str]:
        return sorted(t.prefix for t in self.types)


def _field_data(f: Field) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f.id,
        "name": f.name,
        "label": f.label,
        "type": f.type,
        "required": f.required,
    }
    if f.options is not None:
        data["options"] = list(f.options)
    return data


def _ticket_type(item: Any, position: int) -> TicketType:
    where = f"unexpected ticket-type answer: type #{position}"
    if not isinstance(item, dict):
        raise ApiError(f"{where} is not an object")
    _require(item, ("id", "prefix"), where)
    where = f"{where} ({item['prefix']})"
    fields = item.get("fields") or []
    if not isinstance(fields, list):
        raise ApiError(f"{where}: 'fields' is not a list")
    parsed = tuple(_field(f, f"{where} field #{n}") for n, f in enumerate(fields, 1))
    _unique([f.id for f in parsed], f"{where}: fields", "the id")
    _unique([f.name for f in parsed], f"{where}: fields", "the name")
    return TicketType(
        id=item["id"],
        name=_optional_text(item, "name", where) or item["prefix"],
        prefix=item["prefix"],
        fields=parsed,
    )


def _field(item: Any, where: str) -> Field:
    if not isinstance(item, dict):
        raise ApiError(f"{where} is not an object")
    _require(item, ("id", "type"), where)
    name = _optional_text(item, "name", where) or item["id"]
    options = item.get("options")
    if options is not None and not (
        isinstance(options, list) and all(_is_text(o) for o in options)
    ):
        raise ApiError(f"{where} ({name}): 'options' is not a list of strings")
    required = item.get("required")
    if required is not None and not isinstance(required, bool):
        raise ApiError(f"{where} ({name}): 'required' is not true or false")
    return Field(
        id=item["id"],
        name=name,
        label=_optional_text(item, "label", where) or name,
        type=item["type"],
        required=bool(required),
        options=tuple(options) if options is not None else None,
    )


def _require(item: dict[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if not isinstance(item.get(k), str)]
    if missing:
        raise ApiError(f"{where} has no {', '.join(repr(k) for k in missing)}")
    for key in keys:
        if not _is_text(item[key]):
            raise ApiError(f"{where}: {key!r} is not text (it holds a lone surrogate)")


def _optional_text(item: dict[str, Any], key: str, where: str) -> str | None:
    """``item[key]`` when it is a string, None when absent or null; else an ApiError."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f"{where}: {key!r} is not a string")
    if not _is_text(value):
        raise ApiError(f"{where}: {key!r} is not text (it holds a lone surrogate)")
    return value


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and not has_surrogate(value)


def _unique(values: list[str], what: str, key: str) -> None:
    """An ApiError naming the first two places (from 1) that share a value."""
    first: dict[str, int] = {}
    for place, value in enumerate(values, 1):
        if value in first:
            raise ApiError(f"{what} #{first[value]} and #{place} share {key} {value!r}")
        first[value] = place


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_equal(a: Any, b: Any) -> bool:
    """Equal by value, exactly: ``1 == 1.0``, but 2**53 and 2**53 + 1 differ; no overflow."""
    return _is_number(a) and _is_number(b) and a == b


def _instant(value: Any) -> tuple[datetime, int]:
    """The instant of a :data:`_DATETIME` string to the precision given: the aware datetime
    of its whole seconds (aware datetimes compare as instants) and its nanoseconds.

    ``Z`` equals ``+00:00`` and ``.5`` equals ``.500``, but ``.123456000`` and
    ``.123456999`` differ (a datetime alone keeps only microseconds)."""
    moment = _parse_datetime(value)
    match = _DATETIME.fullmatch(value)
    assert match is not None  # _parse_datetime checked it
    nanoseconds = int((match["fraction"] or "").ljust(9, "0"))
    return moment.replace(microsecond=0), nanoseconds


def _parse_datetime(value: Any) -> datetime:
    """The aware datetime of a :data:`_DATETIME` string; a fraction is cut to microseconds
    (:func:`_instant` compares to the nanosecond)."""
    if not isinstance(value, str):
        raise TypeError("datetime must be a string")
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError("not an ISO 8601 date-time with an offset")
    offset = timezone.utc
    if match["sign"] is not None:
        hours, minutes = int(match["offset_hours"]), int(match["offset_minutes"])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        offset = timezone(-delta if match["sign"] == "-" else delta)
    return datetime.combine(
        date.fromisoformat(match["date"]),
        time(
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int((match["fraction"] or "")[:6].ljust(6, "0")),
        ),
        tzinfo=offset,
    )


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values, throughout: numbers by value (``1`` equals ``1.0``), a boolean
    only to the same boolean (``true`` is not ``1``, as Python's ``==`` would have it),
    arrays item by item, objects key by key."""
    if type(a) is bool or type(b) is bool:
        return a is b
    if _is_number(a) and _is_number(b):
        return _number_equal(a, b)
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(map(json_equal, a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    return bool(a == b)


def _as_set(value: Any) -> frozenset[Any]:
    if not isinstance(value, list):
        raise TypeError("multiselect must be a list")
    return frozenset(value)


def _accept_any(field: Field, value: Any, sensitive: bool) -> str | None:
    return None


def _check_string(field: Field, value: Any, sensitive: bool) -> str | None:
    return (
        None if isinstance(value, str) else f"expects a string, got {_describe(value, sensitive)}"
    )


def _check_number(field: Field, value: Any, sensitive: bool) -> str | None:
    if not _is_number(value):
        return f"expects a number, got {_describe(value, sensitive)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "expects a finite number"
    return None


def _check_boolean(field: Field, value: Any, sensitive: bool) -> str | None:
    return (
        None
        if isinstance(value, bool)
        else f"expects true or false, got {_describe(value, sensitive)}"
    )


def _check_date(field: Field, value: Any, sensitive: bool) -> str | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"expects a date YYYY-MM-DD, got {_describe(value, sensitive)}"


def _check_datetime(field: Field, value: Any, sensitive: bool) -> str | None:
    try:
        _parse_datetime(value)
        return None
    except (TypeError, ValueError):
        return f"expects an ISO 8601 date-time with an offset, got {_describe(value, sensitive)}"


def _check_select(field: Field, value: Any, sensitive: bool) -> str | None:
    if not isinstance(value, str):
        return f"expects one of its options, got {_describe(value, sensitive)}"
    return _check_options(field, [value], sensitive)


def _check_multiselect(field: Field, value: Any, sensitive: bool) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"expects a list of options, got {_describe(value, sensitive)}"
    if len(set(value)) != len(value):
        return "lists an option more than once"
    return _check_options(field, value, sensitive)


def _check_options(field: Field, values: list[str], sensitive: bool) -> str | None:
    if field.options is None:
        return None
    outside = [v for v in values if v not in field.options]
    if not outside:
        return None
    shown = _HIDDEN if sensitive else ", ".join(repr(v) for v in outside)
    return f"{shown} is not an option (options: {', '.join(field.options)})"


def _check_reference(field: Field, value: Any, sensitive: bool) -> str | None:
    if isinstance(value, str) and _UUID.fullmatch(value):
        return None
    reason = f"expects a UUID reference, got {_describe(value, sensitive)}"
    if isinstance(value, str) and _reads_as_uuid(value):
        return f"{reason}: write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, the one form taken"
    return reason


def _reads_as_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def _check_array(field: Field, value: Any, sensitive: bool) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return f"expects a list of strings, got {_describe(value, sensitive)}"


_TYPE_CHECKS = {
    "text": _check_string,
    "richtext": _check_string,
    "number": _check_number,
    "boolean": _check_boolean,
    "date": _check_date,
    "datetime": _check_datetime,
    "select": _check_select,
    "multiselect": _check_multiselect,
    "reference": _check_reference,
    "array": _check_array,
}


_HIDDEN = "(sensitive value not shown)"


def _describe(value: Any, sensitive: bool) -> str:
    """The value's JSON kind and, unless ``sensitive``, its repr (shortened)."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    kind = kinds.get(type(value))
    if kind is None:
        kind = (
            "a list"
            if isinstance(value, list)
            else "a mapping"
            if isinstance(value, dict)
            else type(value).__name__
        )
    text = _HIDDEN if sensitive else repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
