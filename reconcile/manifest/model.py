"""What reading a manifest produces: declared and desired tickets, with locations.

``problem`` and ``file_problem`` build the :class:`~reconcile.errors.Problem` that
every step reports at a path and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconcile.errors import Problem
from reconcile.plan import FieldSource, Selector
from reconcile.schema import TicketType


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was declared: a path as given and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class DeclaredField:
    """One ``key: value`` of a ticket's fields, as written.

    ``default`` is True when the value came from the document's ``defaults``: a
    ticket's own key for the same field then wins, even when spelled differently.
    """

    key: str
    value: Any
    location: Location
    default: bool = False


@dataclass(frozen=True)
class DeclaredTicket:
    """A ticket as written in a manifest, before the schema is known.

    ``fields`` holds the document's defaults merged under the ticket's own fields.
    ``sensitive``/``protected`` hold keys as written (document lists plus the
    ticket's own); ``*_locations`` say where each key was listed.

    ``id`` is None for a ticket declared by its ``key`` alone (one to create, or
    created by an earlier apply whose id was not written back); ``type`` is its ticket
    type as written (a prefix or a name) and ``team`` the new ticket's team.
    """

    id: str | None
    location: Location
    fields: tuple[DeclaredField, ...]
    sensitive: frozenset[str] = frozenset()
    protected: frozenset[str] = frozenset()
    sensitive_locations: dict[str, Location] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    protected_locations: dict[str, Location] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    key: str | None = None
    type: str | None = None
    team: str | None = None
    key_location: Location | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        """How messages name the ticket: its display ID, else its key."""
        return self.id or self.key or "?"


@dataclass(frozen=True)
class DesiredTicket:
    """A ticket resolved against the schema: desired values by field UUID.

    ``values`` are checked and canonical (:meth:`~reconcile.schema.Field.canonical`: an
    empty form is the field's own), so the diff sends them as they are.

    A ticket with a ``key`` has ``key_field``, the UUID of the text field that holds
    the key in the live ticket. ``id`` is None until the key is found among the live
    tickets (:func:`reconcile.keys.match_keys`); not found, the ticket is created.
    """

    id: str | None
    location: Location
    type: TicketType
    values: dict[str, Any]
    sensitive: frozenset[str]
    protected: frozenset[str]
    locations: dict[str, Location]
    key: str | None = None
    key_field: str | None = None
    team: str | None = None

    @property
    def name(self) -> str:
        """How messages name the ticket: its display ID, else its key."""
        return self.id or self.key or "?"

    sources: dict[str, FieldSource] = field(default_factory=dict)
    """Per field UUID set by a policy, that policy (fields of the ticket entry are absent)."""
    selectors: tuple[Selector, ...] = ()
    """The policies that matched this ticket (see :mod:`reconcile.policy`)."""


def problem(path: str, line: int | None, message: str) -> Problem:
    location = f"{path}:{line}" if line is not None else path
    return Problem(location=location, message=message, path=path, line=line)


def file_problem(path: str, message: str) -> Problem:
    return problem(path, None, message)


@dataclass(frozen=True, slots=True)
class DeclaredCondition:
    """One ``where`` entry of a policy: a field key and the live values that match."""

    key: str
    values: tuple[Any, ...]
    location: Location


@dataclass(frozen=True)
class DeclaredPolicy:
    """A policy document as written: a selector and the fields it declares.

    ``types`` are prefixes or type names; ``teams`` is None when any team matches
    (a None inside it matches tickets without a team); ``where`` conditions all
    have to hold.
    """

    name: str
    location: Location
    types: tuple[tuple[str, Location], ...]
    teams: tuple[str | None, ...] | None
    where: tuple[DeclaredCondition, ...]
    fields: tuple[DeclaredField, ...]
    sensitive_locations: dict[str, Location] = field(default_factory=dict, compare=False)
    protected_locations: dict[str, Location] = field(default_factory=dict, compare=False)


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


@dataclass(frozen=True)
class Manifests:
    """Everything the manifests declare: ticket entries and policies."""

    tickets: list[DeclaredTicket]
    policies: list[DeclaredPolicy]
