"""What reading a manifest produces: declared tickets and policies, with locations
(:mod:`reconcile.manifest.desired` holds what resolving them against the schema makes).

``problem`` and ``file_problem`` build the :class:`~reconcile.errors.Problem` that
every step reports at a path and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from reconcile.errors import Problem


class Location:
    """Where something was declared: a path as given and a 1-based line.

    The line of a value read by the fast reader is found only when asked for
    (:class:`Lines`): most are never shown, and a plan of thousands of tickets would
    otherwise pay for every one of them.
    """

    __slots__ = ("_document", "_key", "_line", "_lines", "_steps", "path")

    def __init__(self, path: str, line: int):
        self.path = path
        self._line: int | None = line
        self._lines: Lines | None = None
        self._document = 0
        self._steps: Steps = ()
        self._key = False

    @classmethod
    def found(cls, lines: Lines, document: int, steps: Steps, *, key: bool) -> Location:
        """The location of the node at ``steps`` of a document (its key's, with ``key``)."""
        location = cls.__new__(cls)
        location.path = lines.path
        location._line = None
        location._lines = lines
        location._document = document
        location._steps = steps
        location._key = key
        return location

    @property
    def line(self) -> int:
        if self._line is None:
            assert self._lines is not None
            self._line = self._lines.line(self._document, self._steps, key=self._key)
            self._lines = None
        return self._line

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        return (self.path, self.line) == (other.path, other.line)

    def __hash__(self) -> int:
        return hash((self.path, self.line))

    def __repr__(self) -> str:
        return f"Location({self.path!r}, {self.line})"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


Steps = tuple[str | int, ...]
"""A path into a document: mapping keys and sequence indexes."""


class Lines(Protocol):
    """Finds the line of a node of a file's documents by its path in the document."""

    path: str

    def line(self, document: int, steps: Steps, *, key: bool) -> int:
        """The line of the node at ``steps`` (of its key, with ``key``)."""
        ...


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


class DeclaredDocument:
    """What a ticket document declares for all its tickets: defaults and key lists.

    ``sensitive``/``protected`` are the keys as listed (in order, repeats included), so
    that each one's line can be found; ``defaults`` maps keys to values as written.
    """

    __slots__ = ("defaults", "document", "lines", "protected", "sensitive")

    def __init__(
        self,
        lines: Lines,
        document: int,
        defaults: dict[str, Any],
        sensitive: tuple[str, ...] = (),
        protected: tuple[str, ...] = (),
    ):
        self.lines = lines
        self.document = document
        self.defaults = defaults
        self.sensitive = sensitive
        self.protected = protected

    def location(self, steps: Steps, *, key: bool) -> Location:
        return Location.found(self.lines, self.document, steps, key=key)

    def field_location(self, ticket: int, key: str, *, default: bool) -> Location:
        """Where field ``key`` of the ``ticket``-th ticket was written: in the ticket's
        fields, or in the defaults."""
        if default:
            return self.location(("defaults", "fields", key), key=True)
        return self.location(("tickets", ticket, "fields", key), key=True)


class DeclaredTicket:
    """A ticket as written in a manifest, before the schema is known.

    ``own`` maps the ticket's field keys to their values as written; ``fields`` gives
    them as :class:`DeclaredField` objects, with the document's defaults merged under
    them. ``sensitive``/``protected`` hold keys as written (document lists plus the
    ticket's own); ``*_locations`` say where each key was listed. Locations are found
    when asked (see :class:`Location`).

    ``id`` is None for a ticket declared by its ``key`` alone (one to create, or
    created by an earlier apply whose id was not written back); ``type`` is its ticket
    type as written (a prefix or a name) and ``team`` the new ticket's team.
    """

    __slots__ = (
        "document",
        "id",
        "index",
        "key",
        "own",
        "own_protected",
        "own_sensitive",
        "protected",
        "sensitive",
        "team",
        "type",
    )

    def __init__(
        self,
        document: DeclaredDocument,
        index: int,
        id: str | None,
        own: dict[str, Any],
        *,
        own_sensitive: tuple[str, ...] = (),
        own_protected: tuple[str, ...] = (),
        key: str | None = None,
        type: str | None = None,
        team: str | None = None,
    ):
        self.document = document
        self.index = index
        self.id = id
        self.own = own
        self.own_sensitive = own_sensitive
        self.own_protected = own_protected
        self.sensitive = _keys(own_sensitive, document.sensitive)
        self.protected = _keys(own_protected, document.protected)
        self.key = key
        self.type = type
        self.team = team

    @property
    def name(self) -> str:
        """How messages name the ticket: its display ID, else its key."""
        return self.id or self.key or "?"

    @property
    def location(self) -> Location:
        return self.document.location(("tickets", self.index), key=False)

    @property
    def key_location(self) -> Location | None:
        if self.key is None:
            return None
        return self.document.location(("tickets", self.index, "key"), key=True)

    def field_location(self, key: str, *, default: bool) -> Location:
        """Where field ``key`` was written: in the ticket's fields, or in the defaults."""
        return self.document.field_location(self.index, key, default=default)

    def field_items(self) -> list[tuple[str, Any, bool]]:
        """``(key, value, default)`` of the defaults not set by the ticket, then its own:
        the one merge of a document's defaults into its tickets."""
        own = self.own
        merged = [(k, v, True) for k, v in self.document.defaults.items() if k not in own]
        merged += [(k, v, False) for k, v in own.items()]
        return merged

    @property
    def fields(self) -> tuple[DeclaredField, ...]:
        return tuple(
            DeclaredField(key, value, self.field_location(key, default=default), default)
            for key, value, default in self.field_items()
        )

    @property
    def sensitive_locations(self) -> dict[str, Location]:
        return self._list_locations("sensitive", self.own_sensitive, self.document.sensitive)

    @property
    def protected_locations(self) -> dict[str, Location]:
        return self._list_locations("protected", self.own_protected, self.document.protected)

    def _list_locations(
        self, name: str, own: tuple[str, ...], listed: tuple[str, ...]
    ) -> dict[str, Location]:
        found: dict[str, Location] = {}
        for index, key in enumerate(own):
            if key not in found:
                found[key] = self.document.location(("tickets", self.index, name, index), key=False)
        in_document: dict[str, Location] = {}
        for index, key in enumerate(listed):
            if key not in in_document:
                in_document[key] = self.document.location((name, index), key=False)
        return {**found, **in_document}


_NO_KEYS: frozenset[str] = frozenset()


def _keys(own: tuple[str, ...], listed: tuple[str, ...]) -> frozenset[str]:
    if not own and not listed:
        return _NO_KEYS
    return frozenset(own) | frozenset(listed)


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
class Manifests:
    """Everything the manifests declare: ticket entries and policies."""

    tickets: list[DeclaredTicket]
    policies: list[DeclaredPolicy]
