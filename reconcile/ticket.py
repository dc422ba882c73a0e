"""Live tickets as the API returns them, and display IDs."""

from __future__ import annotations

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


@dataclass(frozen=True)
class LiveTicket:
    """One ticket as read from the API. Only ``object_id`` and ``etag`` are required.

    ``data`` defaults to empty: an answer without it (or with ``null``) has no field values.
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
    def from_api(cls, payload: Any) -> LiveTicket:
        """Build from a GET or list answer.

        Unknown keys are ignored; a missing required key is an :class:`ApiError`.
        """
        if not isinstance(payload, dict):
            raise ApiError(f"unexpected ticket in answer: expected an object, got {_kind(payload)}")
        missing = [key for key in ("object_id", "etag") if not isinstance(payload.get(key), str)]
        if missing:
            name = payload.get("object_id") or payload.get("id") or "?"
            raise ApiError(f"unexpected ticket {name} in answer: no {', '.join(missing)}")
        data = payload.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ApiError(
                f"unexpected ticket {payload['object_id']} in answer: 'data' is not an object"
            )
        return cls(
            object_id=payload["object_id"],
            etag=payload["etag"],
            data=data,
            id=_str_or_none(payload.get("id")),
            ticket_type_id=_str_or_none(payload.get("ticket_type_id")),
            team=_str_or_none(payload.get("team")),
            created_at=_str_or_none(payload.get("createdAt")),
            last_updated_at=_str_or_none(payload.get("lastUpdatedAt")),
            last_updated_by=_str_or_none(payload.get("lastUpdatedBy")),
        )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _kind(value: Any) -> str:
    return type(value).__name__
