"""What resolving declared tickets and policies against the schema makes: desired
tickets and policy rules, by field UUID.

Apart from :mod:`reconcile.manifest.model` so that reading manifests without a schema
(``reconcile validate``) does not build these classes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconcile.manifest.model import DeclaredDocument, Location

if TYPE_CHECKING:
    from reconcile.plan import FieldSource, Selector
    from reconcile.schema import Field, TicketType


class FieldLocations(Mapping[str, Location]):
    """Where each desired value of a ticket entry was written, by field UUID, found when
    asked (the entry's declared values themselves are not kept).

    ``values`` are the desired values (their UUIDs in the order declared); ``keys`` the
    keys that set them, or None when each is its field's name; keys from ``own_count``
    on come from the document's defaults.
    """

    __slots__ = ("desired", "document", "field_keys", "fields", "index", "own_count")

    def __init__(
        self,
        document: DeclaredDocument,
        index: int,
        values: Mapping[str, Any],
        keys: tuple[str, ...] | None,
        own_count: int,
        fields: Mapping[str, Field],
    ):
        self.document = document
        self.index = index
        self.desired = values
        self.field_keys = keys
        self.own_count = own_count
        self.fields = fields

    def __getitem__(self, field_id: str) -> Location:
        if field_id not in self.desired:
            raise KeyError(field_id)
        place = list(self.desired).index(field_id)
        key = self.fields[field_id].name if self.field_keys is None else self.field_keys[place]
        return self.document.field_location(self.index, key, default=place >= self.own_count)

    def __iter__(self) -> Iterator[str]:
        return iter(self.desired)

    def __len__(self) -> int:
        return len(self.desired)


@dataclass(frozen=True, slots=True)
class DesiredTicket:
    """A ticket resolved against the schema: desired values by field UUID.

    ``values`` are checked and canonical (:meth:`~reconcile.schema.Field.canonical`: an
    empty form is the field's own), so the diff sends them as they are.

    A ticket with a ``key`` has ``key_field``, the UUID of the text field that holds
    the key in the live ticket. ``id`` is None until the key is found among the live
    tickets (:func:`reconcile.keys.match_keys`); not found, the ticket is created.
    ``sources``: per field UUID set by a policy, that policy (fields of the ticket
    entry are absent); ``selectors``: the policies that matched this ticket (see
    :mod:`reconcile.policy`).
    """

    id: str | None
    location: Location
    type: TicketType
    values: dict[str, Any]
    sensitive: frozenset[str]
    protected: frozenset[str]
    locations: Mapping[str, Location]
    key: str | None = None
    key_field: str | None = None
    team: str | None = None
    sources: Mapping[str, FieldSource] = field(default_factory=dict)
    selectors: tuple[Selector, ...] = ()

    @property
    def name(self) -> str:
        """How messages name the ticket: its display ID, else its key."""
        return self.id or self.key or "?"


@dataclass(frozen=True)
class PolicyRule:
    """A policy resolved for one ticket type: what it reads and what it sets, by field UUID.

    ``where`` maps a field UUID to the canonical live values that match (any of them).
    """

    type: TicketType
    where: dict[str, tuple[Any, ...]]
    values: dict[str, Any]
    locations: dict[str, Location]
    sensitive: frozenset[str]
    protected: frozenset[str]


@dataclass(frozen=True)
class Policy:
    """A resolved policy: its selector and declared values per ticket type (by type UUID)."""

    name: str
    location: Location
    rules: dict[str, PolicyRule]
    teams: tuple[str | None, ...] | None
