"""The plan: what would change, per ticket and per field. A plain value object.

Renderers (``reconcile.render``) print it; ``reconcile.apply`` executes it. It is
sorted on construction, so its output and checksum do not depend on the order in
which tickets were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconcile.ticket import DISPLAY_ID

FORMAT_VERSION = 1
UPDATE = "update"
ERROR = "error"


def ticket_sort_key(display_id: str) -> tuple[str, int, str]:
    """Sort display IDs by prefix, then numerically: REQ-9999 before REQ-10000."""
    match = DISPLAY_ID.match(display_id)
    if not match:
        return (display_id, -1, display_id)
    return (match.group("prefix"), int(match.group("number")), display_id)


@dataclass(frozen=True)
class Target:
    """Where a plan was made: a saved plan applies only to the same target."""

    base_url: str
    tenant_id: str
    realm: str


@dataclass(frozen=True)
class FieldChange:
    """One managed field whose live value differs from the declared one."""

    field_id: str
    name: str
    before: Any
    after: Any
    sensitive: bool = False
    protected: bool = False


@dataclass(frozen=True)
class TicketChange:
    """One ticket that differs (``action == "update"``) or could not be planned (``"error"``).

    ``etag`` is the etag of the read that produced the diff; the PATCH is guarded by it.
    """

    id: str
    action: str
    etag: str | None = None
    fields: tuple[FieldChange, ...] = ()
    error: str | None = None
    last_updated_by: str | None = None
    last_updated_at: str | None = None

    @property
    def ticket_update(self) -> dict[str, Any]:
        """The PATCH ``ticketUpdate`` map: field UUID to new value, differing fields only."""
        return {f.field_id: f.after for f in self.fields}


@dataclass(frozen=True)
class Plan:
    """Every declared ticket's outcome: changes (sorted by ID) and the unchanged IDs."""

    changes: tuple[TicketChange, ...]
    unchanged: tuple[str, ...] = ()
    target: Target | None = None
    schema_drift: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "changes", tuple(sorted(self.changes, key=lambda c: ticket_sort_key(c.id)))
        )
        object.__setattr__(self, "unchanged", tuple(sorted(self.unchanged, key=ticket_sort_key)))
