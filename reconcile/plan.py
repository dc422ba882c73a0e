"""The plan: what would change, per ticket and per field. A plain value object.

Renderers (``reconcile.render``) print it; ``reconcile.apply`` executes it. It is
sorted on construction, so its output and checksum do not depend on the order in
which tickets were read.

Two JSON forms exist. :meth:`Plan.to_data` is the documented, versioned output of
``--format json``: sensitive values masked everywhere. The saved plan (``plan --out
FILE``) is the same plus what applying needs, bound to its target, with sensitive
values stored as salted :class:`Digest` s; :mod:`reconcile.saved_plan` writes and reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconcile._strenum import StrEnum
from reconcile.errors import UnsafePlan
from reconcile.ticket import DISPLAY_ID, update_body

if TYPE_CHECKING:
    from reconcile.schema import Field, TicketType
    from reconcile.ticket import LiveTicket

FORMAT_VERSION = 1
RATIO_MIN_MATCHED = 10
"""``max_change_ratio`` applies to a policy only when it matched at least this many tickets."""


class Action(StrEnum):
    """What a plan does with one ticket."""

    UPDATE = "update"
    """The ticket differs: one PATCH brings it to the manifests."""
    CREATE = "create"
    """No live ticket holds the declared key: one POST create makes it."""
    ERROR = "error"
    """The ticket could not be planned (read failure, wrong type, no permission)."""


SENSITIVE = "(sensitive)"
"""What a sensitive value is shown as, in every output."""


def ticket_sort_key(display_id: str) -> tuple[str, int, str]:
    """Sort display IDs by prefix, then numerically: REQ-9999 before REQ-10000."""
    match = DISPLAY_ID.fullmatch(display_id)
    if not match:
        return (display_id, -1, display_id)
    return (match.group(1), int(match.group(2)), display_id)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the form that checksums and digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Target:
    """Where a plan was made: a saved plan applies only to the same target."""

    base_url: str
    tenant_id: str
    realm: str


@dataclass(frozen=True)
class Digest:
    """A sensitive value as a saved plan stores it: a salted SHA-256, never the value.

    ``apply --plan`` takes the value from the manifests and checks it against the
    digest; the digest is of the value's canonical JSON, so it matches exactly the
    same value (a sensitive value is typically text, where that is the field's rule).
    """

    digest: str
    salt: str

    @classmethod
    def of(cls, value: Any, salt: str | None = None) -> Digest:
        salt = salt if salt is not None else secrets.token_hex(16)
        return cls(digest=_digest(value, salt), salt=salt)

    def matches(self, value: Any) -> bool:
        """True when ``value`` is the value this digest was made of."""
        return hmac.compare_digest(self.digest, _digest(value, self.salt))

    def to_data(self) -> dict[str, str]:
        return {"digest": self.digest, "salt": self.salt}


def _digest(value: Any, salt: str) -> str:
    return "sha256:" + hashlib.sha256((salt + canonical_json(value)).encode()).hexdigest()


@dataclass(frozen=True)
class FieldSource:
    """Where a planned value comes from: a ticket entry, or a policy (``policy`` names it)."""

    location: str
    policy: str | None = None

    def to_data(self) -> dict[str, Any]:
        kind = "ticket" if self.policy is None else "policy"
        return {"kind": kind, "policy": self.policy, "location": self.location}

    def describe(self) -> str:
        """``policy network-freeze at freeze.yaml:8`` or ``tickets.yaml:12``."""
        if self.policy is None:
            return self.location
        return f"policy {self.policy} at {self.location}"

    @classmethod
    def from_data(cls, data: Any) -> FieldSource | None:
        if not isinstance(data, dict) or not isinstance(data.get("location"), str):
            return None
        policy = data.get("policy")
        return cls(data["location"], policy if isinstance(policy, str) else None)


@dataclass(frozen=True)
class Selector:
    """A policy's selection for one ticket type, as plain data a saved plan can keep.

    ``teams`` is None when any team matches; ``where`` maps field UUIDs to the live
    values that match (any of them).
    """

    policy: str
    type_id: str
    teams: tuple[str | None, ...] | None
    where: tuple[tuple[str, tuple[Any, ...]], ...]

    def matches(self, live: LiveTicket, ticket_type: TicketType) -> bool:
        """True when ``live`` (of ``ticket_type``) is selected, comparing by each field's rules."""
        if ticket_type.id != self.type_id:
            return False
        if self.teams is not None and live.team not in self.teams:
            return False
        for field_id, values in self.where:
            known = ticket_type.fields_by_id.get(field_id)
            if known is None:
                return False
            have = known.value_in(live.data)
            if not any(known.equal(value, have) for value in values):
                return False
        return True

    def to_data(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "type_id": self.type_id,
            "teams": None if self.teams is None else list(self.teams),
            "where": {field_id: list(values) for field_id, values in self.where},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Selector:
        teams = data.get("teams")
        return cls(
            policy=data["policy"],
            type_id=data["type_id"],
            teams=None if teams is None else tuple(teams),
            where=tuple((k, tuple(v)) for k, v in sorted(data.get("where", {}).items())),
        )


@dataclass(frozen=True)
class PolicySummary:
    """One policy's reach in a plan: tickets it matched and tickets it changes."""

    name: str
    location: str
    matched: int
    changed: int

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "matched": self.matched,
            "changed": self.changed,
        }

    def describe(self) -> str:
        return (
            f"Policy {self.name} ({self.location}): matched {self.matched} tickets, "
            f"changes {self.changed}."
        )


@dataclass(frozen=True)
class FieldChange:
    """One managed field whose live value differs from the declared one.

    In a plan loaded from a saved file, a sensitive field's ``before`` and ``after``
    are :class:`Digest` placeholders until
    :meth:`~reconcile.saved_plan.SavedPlan.fill_sensitive` puts the manifests' value
    back into ``after``.
    """

    field_id: str
    name: str
    before: Any
    after: Any
    sensitive: bool = False
    protected: bool = False
    source: FieldSource | None = None
    field_type: str | None = field(default=None, compare=False)
    """The field's schema type (``multiselect``, ``array``, ...) when known: it tells
    renderers how to describe what changed inside a list (:mod:`reconcile.value_diff`).
    Not part of the JSON plan; None in a plan read back from a saved file."""

    def holds_before(self, value: Any, field: Field | None = None) -> bool:
        """True when a live ``value`` is still this change's ``before`` (saved-plan staleness).

        Compared by the field's rules when ``field`` is given, else exactly; a
        digest placeholder is checked against the value's digest.
        """
        if isinstance(self.before, Digest):
            return self.before.matches(value)
        if field is not None:
            return field.equal(self.before, value)
        return type(value) is type(self.before) and value == self.before

    def to_data(self, *, saved: bool = False) -> dict[str, Any]:
        data = {
            "name": self.name,
            "field_id": self.field_id,
            "before": _shown(self.before, self.sensitive, saved),
            "after": _shown(self.after, self.sensitive, saved),
            "sensitive": self.sensitive,
            "protected": self.protected,
        }
        if self.source is not None:
            data["source"] = self.source.to_data()
        return data


def _shown(value: Any, sensitive: bool, saved: bool) -> Any:
    """A value as output shows it: masked, as a digest (saved plan), or as it is."""
    if not sensitive:
        return value
    if not saved:
        return SENSITIVE
    return (value if isinstance(value, Digest) else Digest.of(value)).to_data()


@dataclass(frozen=True)
class TicketChange:
    """One ticket that differs (``action == "update"``) or could not be planned (``"error"``).

    ``etag`` is the etag of the read that produced the diff; the PATCH is guarded by it.
    ``last_updated_by``/``last_updated_at`` are the live ticket's, for drift reports.
    """

    id: str
    action: Action
    etag: str | None = None
    fields: tuple[FieldChange, ...] = ()
    error: str | None = None
    last_updated_by: str | None = None
    last_updated_at: str | None = None
    selectors: tuple[Selector, ...] = ()
    """The policies whose values this change holds: at apply time the ticket must still
    match each of them, or it is stale."""

    @property
    def ticket_update(self) -> dict[str, Any]:
        """The PATCH ``ticketUpdate`` map: field UUID to new value, differing fields only."""
        return {f.field_id: f.after for f in self.fields}

    @property
    def patch(self) -> dict[str, Any]:
        """The exact PATCH body: ``{"etag": ..., "ticketUpdate": {...}}``."""
        return update_body(self.etag, self.ticket_update)

    def to_data(self, *, saved: bool = False) -> dict[str, Any]:
        """This change as JSON: sensitive values masked, or as digests when ``saved``."""
        fields = [f.to_data(saved=saved) for f in self.fields]
        patch = None
        if self.action == Action.UPDATE:
            patch = update_body(self.etag, {f["field_id"]: f["after"] for f in fields})
        data = {
            "id": self.id,
            "action": self.action,
            "etag": self.etag,
            "fields": fields,
            "patch": patch,
            "error": self.error,
            "last_updated_by": self.last_updated_by,
            "last_updated_at": self.last_updated_at,
        }
        if self.selectors:
            data["policies"] = [s.to_data() for s in self.selectors]
        return data


@dataclass(frozen=True)
class TicketCreate:
    """A declared ticket that no live ticket holds the key of: one ``POST /ticket/create``.

    ``fields`` are the values to send (``before`` is None), the key field's included;
    ``location`` is where the entry is declared.
    """

    key: str
    type_id: str
    type_prefix: str
    type_name: str
    key_field: str
    team: str | None
    fields: tuple[FieldChange, ...]
    location: str | None = None

    @property
    def ticket(self) -> dict[str, Any]:
        """The create body's ``ticket`` map: field UUID to value."""
        return {f.field_id: f.after for f in self.fields}

    @property
    def body(self) -> dict[str, Any]:
        """The exact create request body."""
        return create_body(self.type_id, self.team, self.ticket)

    @property
    def name(self) -> str:
        """``REQ onboarding-alice``: how outputs name a ticket that has no id yet."""
        return f"{self.type_prefix} {self.key}"

    def to_data(self, *, saved: bool = False) -> dict[str, Any]:
        """This create as JSON: sensitive values masked, or as digests when ``saved``."""
        fields = [
            {
                "name": f.name,
                "field_id": f.field_id,
                "after": _shown(f.after, f.sensitive, saved),
                "sensitive": f.sensitive,
            }
            for f in self.fields
        ]
        return {
            "id": None,
            "action": Action.CREATE,
            "key": self.key,
            "type": self.type_prefix,
            "type_id": self.type_id,
            "type_name": self.type_name,
            "key_field": self.key_field,
            "team": self.team,
            "fields": fields,
            "body": create_body(
                self.type_id, self.team, {f["field_id"]: f["after"] for f in fields}
            ),
            "location": self.location,
        }


def create_body(type_id: str, team: str | None, ticket: dict[str, Any]) -> dict[str, Any]:
    """The POST create body: ``{"ticketTypeId": ..., "team": ..., "ticket": {...}}``."""
    return {"ticketTypeId": type_id, "team": team, "ticket": ticket}


def create_sort_key(create: TicketCreate) -> tuple[str, str]:
    return (create.type_prefix, create.key)


@dataclass(frozen=True)
class RequestBudget:
    """The requests a run will make and, under a rate limit, how long they take at least."""

    reads: int
    writes: int
    rate_limit: float | None = None
    """Requests per second across all workers, or None for no limit."""

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    @property
    def expected_seconds(self) -> float | None:
        """The wall time the rate limit alone imposes, or None without a limit."""
        if not self.rate_limit:
            return None
        return self.requests / self.rate_limit

    def describe(self) -> str:
        """One line for the plan output."""
        text = f"Request budget: {self.reads} reads, {self.writes} writes"
        seconds = self.expected_seconds
        if seconds is None:
            return text + " (no rate limit)."
        return f"{text}; at {self.rate_limit:g} requests/s about {_duration(seconds)}."


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1 else "under 1 s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Plan:
    """Every declared ticket's outcome: changes (sorted by ID) and the unchanged IDs."""

    changes: tuple[TicketChange, ...]
    unchanged: tuple[str, ...] = ()
    target: Target | None = None
    schema_drift: tuple[str, ...] = field(default=())
    creates: tuple[TicketCreate, ...] = ()
    """Declared tickets to create (their key is on no live ticket), sorted by type and key."""
    found_by_key: tuple[tuple[str, str], ...] = ()
    """``(key, id)`` of declared tickets found by their key whose id is not in the manifest."""
    policies: tuple[PolicySummary, ...] = ()
    """Per policy of the manifests: how many live tickets it matched and how many it changes."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "changes", tuple(sorted(self.changes, key=lambda c: ticket_sort_key(c.id)))
        )
        object.__setattr__(self, "unchanged", tuple(sorted(self.unchanged, key=ticket_sort_key)))
        object.__setattr__(self, "creates", tuple(sorted(self.creates, key=create_sort_key)))
        object.__setattr__(self, "found_by_key", tuple(sorted(self.found_by_key)))

    @property
    def updates(self) -> tuple[TicketChange, ...]:
        """The tickets that differ and would be written."""
        return tuple(c for c in self.changes if c.action == Action.UPDATE)

    @property
    def errors(self) -> tuple[TicketChange, ...]:
        """The tickets that could not be planned (read failures)."""
        return tuple(c for c in self.changes if c.action == Action.ERROR)

    @property
    def has_changes(self) -> bool:
        """True when at least one ticket would be written (updated or created)."""
        return bool(self.creates) or any(c.action == Action.UPDATE for c in self.changes)

    @property
    def summary(self) -> dict[str, int]:
        """Counts by outcome: ``{"create": c, "update": n, "unchanged": m, "error": k}``."""
        updates = sum(1 for c in self.changes if c.action == Action.UPDATE)
        return {
            "create": len(self.creates),
            "update": updates,
            "unchanged": len(self.unchanged),
            "error": len(self.changes) - updates,
        }

    def to_data(self) -> dict[str, Any]:
        """The documented JSON form (``--format json``); sensitive values masked."""
        data: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "summary": self.summary,
            "changes": [c.to_data() for c in self.creates] + [c.to_data() for c in self.changes],
        }
        if self.schema_drift:
            data["schema_drift"] = list(self.schema_drift)
        if self.found_by_key:
            data["found_by_key"] = [{"key": k, "id": i} for k, i in self.found_by_key]
        if self.policies:
            data["policies"] = [p.to_data() for p in self.policies]
        return data

    def to_json(self) -> str:
        """:meth:`to_data` as the exact text ``--format json`` prints (sorted keys, indent 2)."""
        return json.dumps(self.to_data(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @property
    def checksum(self) -> str:
        """``sha256:<hex>`` of :meth:`to_json`: what ``sha256sum`` of the JSON output gives.

        Masked output, so it can be shown anywhere; a saved plan records it as
        ``plan_checksum`` so a reviewer can match a truncated Markdown plan to it.
        """
        return "sha256:" + hashlib.sha256(self.to_json().encode()).hexdigest()

    def check_safe(
        self,
        max_changes: int | None = None,
        allow_protected: bool = False,
        max_change_ratio: float | None = None,
    ) -> None:
        """Refuse a plan that exceeds ``max_changes`` tickets, changes more than
        ``max_change_ratio`` of a policy's matched tickets (when it matched at least
        ``RATIO_MIN_MATCHED``), or changes a protected field.

        Raises :class:`UnsafePlan` before anything is written.
        """
        updates = self.updates
        count = len(updates) + len(self.creates)
        if max_changes is not None and count > max_changes:
            what = f"{count} tickets would change"
            if self.creates:
                what += f" ({len(self.creates)} created, {len(updates)} updated)"
            raise UnsafePlan(
                f"{what}, more than the limit of {max_changes}; "
                f"nothing was written. To allow it, raise the limit with "
                f"--max-changes {count} (config key max_changes)"
            )
        if max_change_ratio is not None:
            for policy in self.policies:
                if policy.matched < RATIO_MIN_MATCHED:
                    continue
                ratio = policy.changed / policy.matched
                if ratio > max_change_ratio:
                    needed = math.ceil(ratio * 100) / 100
                    raise UnsafePlan(
                        f"policy {policy.name} ({policy.location}) would change "
                        f"{policy.changed} of the {policy.matched} tickets it matches "
                        f"({ratio:.0%}), more than the limit of {max_change_ratio:g}; "
                        f"nothing was written. To allow it, raise the limit with "
                        f"--max-change-ratio {needed:g} (config key max_change_ratio)"
                    )
        if allow_protected:
            return
        protected = [f"{c.id} field {f.name!r}" for c in updates for f in c.fields if f.protected]
        if protected:
            shown = ", ".join(protected[:5])
            more = f" and {len(protected) - 5} more" if len(protected) > 5 else ""
            raise UnsafePlan(
                f"the plan changes protected fields: {shown}{more}; nothing was written. "
                f"Re-run with --allow-protected to permit it"
            )
