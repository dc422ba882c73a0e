"""Live tickets as the API returns them, and display IDs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from reconcile.errors import ApiError

DISPLAY_ID = re.compile(r"^([A-Z][A-Z0-9]*)-([0-9]{4,})$")
"""A display ID (``object_id``): a type prefix, a dash and at least four digits.

Match it with ``fullmatch``: ``$`` also matches before a trailing newline, so ``match``
would accept ``"REQ-0509\\n"``. The pattern keeps ``^...$`` and unnamed groups (group 1
is the prefix, group 2 the number) because the manifest JSON Schema reuses it, and
editors read it as an ECMAScript regex, where ``\\Z`` and ``(?P<name>...)`` are not valid.
"""


def display_id_prefix(display_id: str) -> str | None:
    """Return the type prefix of a display ID (``REQ`` for ``REQ-0509``), or None if malformed."""
    match = DISPLAY_ID.fullmatch(display_id)
    return match.group(1) if match else None


def update_body(etag: str | None, ticket_update: dict[str, Any]) -> dict[str, Any]:
    """The PATCH update body, ``{"etag": ..., "ticketUpdate": {field UUID: value}}``.

    The one place its shape is written: the client sends it, plans show it.
    """
    return {"etag": etag, "ticketUpdate": ticket_update}


@dataclass(frozen=True, slots=True)
class LiveTicket:
    """One ticket as read from the API, checked before anything is compared with it.

    ``object_id`` (a display ID), ``etag`` (a non-empty string) and ``data`` (an object
    of field UUID to value) are required: a diff against a guessed ``data`` would plan
    writes of values already there (no-op PATCHes) and miss declared clears, and a PATCH
    needs the etag. The other keys are informative and tolerated when absent or odd.

    Slotted: a run holds one per ticket (no ``__dict__``: 250 bytes and one object the
    cycle collector tracks fewer each).
    """

    object_id: str
    etag: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    ticket_type_id: str | None = None
    team: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    last_updated_by: str | None = None

    @classmethod
    def from_api(cls, payload: Any, *, text_checked: bool = False) -> LiveTicket:
        """Build from a GET or list answer; the one validator of every read path.

        Unknown keys are ignored; a missing, empty or wrongly typed ``object_id``,
        ``etag`` or ``data`` is an :class:`ApiError` naming the ticket and the key.
        ``text_checked``: the answer's body was found to hold no lone surrogate
        (:func:`may_hold_surrogate` said no), so its strings need not be looked at.
        """
        if not isinstance(payload, dict):
            raise ApiError(f"unexpected ticket in answer: expected an object, got {_kind(payload)}")
        object_id = payload.get("object_id")
        name = object_id if isinstance(object_id, str) and object_id else "?"
        problems = []
        if not isinstance(object_id, str) or not DISPLAY_ID.fullmatch(object_id):
            problems.append(f"object_id is {_shown(object_id)}, not a display ID")
        etag = payload.get("etag")
        if not isinstance(etag, str) or not etag.strip():
            problems.append(f"etag is {_shown(etag)}, not a non-empty string")
        data = payload.get("data")
        if not isinstance(data, dict):
            problems.append(f"data is {_shown(data)}, not an object of field values")
        if not problems and not text_checked:
            unencodable = _unencodable_key(payload)
            if unencodable is not None:
                problems.append(
                    f"{unencodable} holds a lone surrogate (an unpaired \\ud800-\\udfff "
                    "escape), which is no text"
                )
        if problems:
            raise ApiError(f"unexpected ticket {name} in answer: {'; '.join(problems)}")
        assert isinstance(object_id, str) and isinstance(etag, str) and isinstance(data, dict)
        return cls(
            object_id=object_id,
            etag=etag,
            data=data,
            id=_str_or_none(payload.get("id")),
            ticket_type_id=_str_or_none(payload.get("ticket_type_id")),
            team=_str_or_none(payload.get("team")),
            created_at=_str_or_none(payload.get("createdAt")),
            last_updated_at=_str_or_none(payload.get("lastUpdatedAt")),
            last_updated_by=_str_or_none(payload.get("lastUpdatedBy")),
        )


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape."""
_ENCODED_SURROGATE = re.compile(b"\xed[\xa0-\xbf]")
"""The UTF-8 form of a surrogate (which ``json.loads`` decodes with ``surrogatepass``)."""


def may_hold_surrogate(body: bytes) -> bool:
    """Whether a JSON body could decode to a string holding a lone surrogate. False
    means none of its strings can (searches in C instead of looking at each string of
    a page of 500 tickets); a body in UTF-16 or UTF-32 always may.

    Two searches, not one of ``escape|encoded``: a pattern that starts with a literal
    (``\\u``) is scanned for that literal, an alternation is tried at every byte
    (0.25 ms for a page of 500 tickets against 2.4 ms; 1.3 us for one ticket against
    7.3), and the byte 0xED that begins the second is looked for first, at memchr's speed.
    """
    return (
        json.detect_encoding(body[:4]) != "utf-8"
        or _ESCAPED_SURROGATE.search(body) is not None
        or (b"\xed" in body and _ENCODED_SURROGATE.search(body) is not None)
    )


def _unencodable_key(payload: dict[str, Any]) -> str | None:
    """The first key (``data.<field>`` inside ``data``) whose value or name holds a lone
    surrogate: JSON can carry one (``"\\ud800"``), UTF-8 cannot, so no plan, report or
    file could show the value. None when every string is text."""
    for key, value in payload.items():
        if key == "data" and isinstance(value, dict):
            for field_id, field_value in value.items():
                if has_surrogate(field_id) or has_surrogate(field_value):
                    return f"data field {_escaped(field_id)}"
        elif has_surrogate(key) or has_surrogate(value):
            return _escaped(key)
    return None


def has_surrogate(value: Any) -> bool:
    """Whether a string, or any string in a JSON value, holds a lone surrogate: JSON can
    carry one (``"\\ud800"``), UTF-8 cannot, so no plan, report or file could show it."""
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    return False


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _kind(value: Any) -> str:
    return type(value).__name__


def _shown(value: Any) -> str:
    """How a bad value is named in an error: missing, empty or its JSON type (never its text)."""
    if value is None:
        return "missing or null"
    if value == "":
        return "empty"
    return {str: "a malformed string", dict: "an object", list: "a list", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else _kind(value)
    )
