"""Field values by the contract's type table: checking a sent value, comparing two.

| type               | value                            | empty form |
|--------------------|----------------------------------|------------|
| text, richtext     | string                           | ""         |
| number             | JSON number                      | null       |
| boolean            | true / false                     | null       |
| date               | "YYYY-MM-DD"                     | null       |
| datetime           | ISO 8601 with offset             | null       |
| select             | one of options                   | null       |
| multiselect        | array of distinct options        | []         |
| reference          | UUID string                      | null       |
| array              | array of strings, order matters  | []         |

The sandbox is strict: a field is cleared only with its own empty form.
"""

from __future__ import annotations

import math
import re
from datetime import date, time
from typing import Any

STRING_TYPES = frozenset({"text", "richtext"})
LIST_TYPES = frozenset({"multiselect", "array"})
FIELD_TYPES = frozenset(
    {"text", "richtext", "number", "boolean", "date", "datetime", "select", "multiselect"}
    | {"reference", "array"}
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?"
    r"(?:[Zz]|[+-](\d{2}):(\d{2}))$",
    re.ASCII,  # ASCII digits only, as the client's schema module reads them
)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
"""A ``reference`` is taken only as 8-4-4-4-12 hex digits: not ``{…}``, ``urn:uuid:…`` or
the 32 digits without dashes (which ``uuid.UUID`` would read)."""


def empty_form(field_type: str) -> Any:
    """The value that clears a field of this type."""
    if field_type in STRING_TYPES:
        return ""
    if field_type in LIST_TYPES:
        return []
    return None


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def check_value(field: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` cannot be written to ``field`` (a ticket-type field), or None if it can."""
    field_type = field["type"]
    empty = empty_form(field_type)
    if type(value) is type(empty) and value == empty:
        return "is required and cannot be cleared" if field.get("required") else None
    check = _CHECKS.get(field_type)
    return check(field, value) if check else None


def same_value(field_type: str, sent: Any, stored: Any) -> bool:
    """True if writing ``sent`` over ``stored`` (``None`` when absent) changes nothing."""
    if is_empty(sent) or is_empty(stored):
        return is_empty(sent) and is_empty(stored)
    if field_type == "number":
        return (
            not isinstance(sent, bool)
            and not isinstance(stored, bool)
            and isinstance(sent, (int, float))
            and isinstance(stored, (int, float))
            and sent == stored
        )
    if field_type == "multiselect" and isinstance(sent, list) and isinstance(stored, list):
        return sorted(map(str, sent)) == sorted(map(str, stored))
    return type(sent) is type(stored) and sent == stored


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _string(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, str):
        return None
    return f'expects a string (clear with ""), got {_describe(value)}'


def _number(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expects a number (clear with null), got {_describe(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "expects a finite number"
    return None


def _boolean(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    return f"expects true or false (clear with null), got {_describe(value)}"


def _date(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            return f"{value!r} is not a valid date"
    return f"expects a date YYYY-MM-DD (clear with null), got {_describe(value)}"


def _datetime(field: dict[str, Any], value: Any) -> str | None:
    match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return (
            "expects an ISO 8601 date-time with an offset (clear with null), "
            f"got {_describe(value)}"
        )
    day, hour, minute, second, offset_hours, offset_minutes = match.groups()
    try:
        date.fromisoformat(day)
        time(int(hour), int(minute), int(second or 0))
        if offset_hours is not None:
            time(int(offset_hours), int(offset_minutes))
    except ValueError:
        return f"{value!r} is not a valid date-time"
    return None


def _select(field: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expects one of the options (clear with null), got {_describe(value)}"
    return _outside_options(field, [value])


def _multiselect(field: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"expects an array of options (clear with []), got {_describe(value)}"
    if len(set(value)) != len(value):
        return "lists an option more than once"
    return _outside_options(field, value)


def _outside_options(field: dict[str, Any], values: list[str]) -> str | None:
    options = field.get("options") or []
    outside = [v for v in values if v not in options]
    if not outside:
        return None
    return f"{', '.join(repr(v) for v in outside)} is not one of the options: {', '.join(options)}"


def _reference(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, str):
        if _UUID.fullmatch(value):
            return None
        return f"{value[:40]!r} is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
    return f"expects a UUID string (clear with null), got {_describe(value)}"


def _array(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return f"expects an array of strings (clear with []), got {_describe(value)}"


_CHECKS = {
    "text": _string,
    "richtext": _string,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "select": _select,
    "multiselect": _multiselect,
    "reference": _reference,
    "array": _array,
}
