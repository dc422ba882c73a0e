"""YAML documents to :class:`DeclaredTicket` objects: keys as written, no schema needed.

Checks the document's keys (``tickets``, ``defaults``, ``sensitive``, ``protected``)
and each ticket's, merges defaults under a ticket's own fields, and finds tickets
declared twice.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconcile.errors import ManifestError, Problem
from reconcile.manifest import rapid
from reconcile.manifest.files import check_text, find, read
from reconcile.manifest.lines import ComposedLines, RapidLines
from reconcile.manifest.model import (
    DeclaredCondition,
    DeclaredDocument,
    DeclaredField,
    DeclaredPolicy,
    DeclaredTicket,
    Lines,
    Location,
    Manifests,
    Steps,
    file_problem,
    problem,
)
from reconcile.manifest.yaml12 import (
    MAX_DEPTH,
    Collection,
    Composer,
    Node,
    NodeKind,
    Scalar,
    short,
)
from reconcile.ticket import DISPLAY_ID

DOCUMENT_KEYS = ("tickets", "defaults", "sensitive", "protected")
TICKET_KEYS = ("id", "key", "type", "team", "fields", "sensitive", "protected")
MAX_KEY_CHARS = 200
"""The longest ``key``: it is stored in a text field of the ticket."""
DEFAULTS_KEYS = ("fields",)
POLICY_KEYS = ("policy", "select", "fields", "sensitive", "protected")
SELECT_KEYS = ("type", "team", "where")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_manifest(text: str, path: str) -> list[DeclaredTicket]:
    """Parse the text of one manifest file (one or more YAML documents).

    ``path`` is only used in locations and messages. Raises ManifestError with every
    problem found, tickets declared twice in the file included.
    """
    unreadable = check_text(text, path)
    if unreadable is not None:
        raise ManifestError([unreadable])
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the line-numbered reader says where
        data = b""
    found, problems = _parse(data, text, path, kept=True)
    twice = _Twice()
    twice.check(found)
    problems.extend(twice.problems)
    if problems:
        raise ManifestError(problems)
    return found.tickets


def load_manifests(paths: Sequence[str | Path]) -> list[DeclaredTicket]:
    """The ticket entries of every manifest under ``paths`` (see :func:`load_manifest_set`)."""
    return load_manifest_set(paths).tickets


def load_manifest_set(paths: Sequence[str | Path]) -> Manifests:
    """Read every manifest under ``paths``; raise one ManifestError with every problem.

    Besides each file's own problems this finds tickets declared in two places and
    policies named twice, across files as well as within one.
    """
    found = Manifests([], [])
    for manifests in read_manifest_files(paths):
        found.tickets.extend(manifests.tickets)
        found.policies.extend(manifests.policies)
    return found


def read_manifest_files(paths: Sequence[str | Path]) -> Iterator[Manifests]:
    """The ticket entries and policies of each manifest under ``paths``, a file at a time,
    as :func:`load_manifest_set` reads them: a caller can resolve a file's entries and let
    them go before the next is read.

    Once a file has a problem no more files are given; the rest are still read for their
    problems, and one ManifestError with all of them is raised at the end.
    """
    files, problems = find(paths)
    twice = _Twice()
    for path in files:
        data, text, unreadable = read(path)
        if unreadable:
            problems.append(unreadable)
            continue
        found, file_problems = _parse(data, text, str(path), kept=False)
        problems.extend(file_problems)
        twice.check(found)
        if not problems and not twice.problems:
            yield found
    problems.extend(twice.problems)
    if problems:
        raise ManifestError(problems)


def _parse(data: bytes, text: str, path: str, *, kept: bool) -> tuple[Manifests, list[Problem]]:
    """One file's ticket entries and policies, and its problems (its input already checked).

    ``kept``: keep the bytes for finding lines later (else the file is read again).

    The fast reader answers for most files; a file it cannot read exactly as the
    line-numbered reader would (a problem in it included) is read by the latter.
    """
    with gc_paused():
        if data:
            documents = rapid.documents(data, text)
            if documents is not None:
                lines = RapidLines(path, data, kept=kept)
                found = _FastReader(lines).manifest(documents)
                if found is not None:
                    return found, []
        return _parse_text(text, path, [])


def _parse_text(text: str, path: str, problems: list[Problem]) -> tuple[Manifests, list[Problem]]:
    # Whitespace alone is checked first: libyaml refuses a tab even on a blank line.
    documents = Composer(text, path, problems).documents() if text.strip() else []
    if documents is None:  # a fatal problem: the file's structure is unknown
        return Manifests([], []), problems
    if not any(root is not None for root in documents):
        problems.append(file_problem(path, "empty manifest: no YAML document in the file"))
        return Manifests([], []), problems
    reader = _Reader(path, problems, ComposedLines(path, documents))
    found = Manifests([], [])
    for index, root in enumerate(documents):
        if root is not None:
            found.tickets.extend(reader.document(root, index, found.policies))
    return found, problems


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a file's many small objects.

    Reading makes no reference cycles, but the collector, triggered by the sheer
    number of allocations, would otherwise rescan the growing heap again and again:
    it took about 40 % of the time to read 10,000 tickets.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Twice:
    """Finds tickets declared twice, the same ``id`` or the same ``key`` (keys are unique
    across all the manifests, since a key names the one ticket it creates), and policies
    named twice, one file after another: only the first place of each is kept."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], Location] = {}
        self.tickets: list[Problem] = []
        self.policies: list[Problem] = []

    @property
    def problems(self) -> list[Problem]:
        return self.tickets + self.policies

    def check(self, found: Manifests) -> None:
        for ticket in found.tickets:
            if ticket.id is not None:
                self._once(self.tickets, "ticket", ticket.id, ticket.location)
            if ticket.key is not None:
                where = ticket.key_location or ticket.location
                self._once(self.tickets, "key", ticket.key, where)
        for policy in found.policies:
            self._once(self.policies, "policy", policy.name, policy.location)

    def _once(self, problems: list[Problem], kind: str, name: str, where: Location) -> None:
        earlier = self.first.setdefault((kind, name), where)
        if earlier is not where:
            what = f"ticket {name}" if kind == "ticket" else f"{kind} {name!r}"
            problems.append(
                problem(where.path, where.line, f"{what} is declared twice: here and at {earlier}")
            )


class _Reader:
    """Turns document nodes into DeclaredTickets, collecting problems."""

    def __init__(self, path: str, problems: list[Problem], lines: Lines):
        self.path = path
        self.problems = problems
        self.lines = lines

    def error(self, line: int, message: str) -> None:
        self.problems.append(problem(self.path, line, message))

    def location(self, line: int) -> Location:
        return Location(self.path, line)

    def mapping(
        self, node: Collection, allowed: Sequence[str], where: str
    ) -> dict[str, tuple[int, Node]]:
        """The pairs of a mapping whose keys must be among ``allowed``; unknown keys reported."""
        pairs: dict[str, tuple[int, Node]] = {}
        for key, line, value in node.pairs:
            if key is None:
                continue
            if key in allowed:
                pairs[key] = (line, value)
            else:
                self.error(line, f"unknown key {key!r} {where}{_did_you_mean(key, allowed)}")
        return pairs

    def document(
        self, root: Node, index: int, policies: list[DeclaredPolicy]
    ) -> list[DeclaredTicket]:
        if not isinstance(root, Collection) or root.kind is not NodeKind.MAP:
            self.error(
                root.line,
                "a manifest document must be a mapping with a 'tickets' list, "
                f"got {root.describe()}",
            )
            return []
        keys = {key: line for key, line, _ in root.pairs if key is not None}
        if "policy" in keys:
            if "tickets" in keys:
                self.error(
                    keys["tickets"],
                    "a document is either a ticket document ('tickets') or a policy "
                    f"document ('policy' at line {keys['policy']}), not both",
                )
                return []
            policy = self.policy(root)
            if policy is not None:
                policies.append(policy)
            return []
        if not any(key == "tickets" for key, _, _ in root.pairs):
            self.no_tickets(root)
            return []
        pairs = self.mapping(root, DOCUMENT_KEYS, "in document")
        defaults = self.defaults(pairs["defaults"][1]) if "defaults" in pairs else {}
        document = DeclaredDocument(
            self.lines,
            index,
            defaults,
            self.key_list(pairs.get("sensitive"), "sensitive"),
            self.key_list(pairs.get("protected"), "protected"),
        )
        if "tickets" not in pairs:  # written twice: already reported as a duplicate key
            return []
        line, tickets = pairs["tickets"]
        if not isinstance(tickets, Collection) or tickets.kind is not NodeKind.SEQ:
            self.error(line, f"'tickets' must be a list of tickets, got {tickets.describe()}")
            return []
        declared = (self.ticket(item, n, document) for n, item in enumerate(tickets.items))
        return [ticket for ticket in declared if ticket is not None]

    def policy(self, root: Collection) -> DeclaredPolicy | None:
        """A policy document: ``policy`` (its name), ``select``, ``fields``, key lists."""
        pairs = self.mapping(root, POLICY_KEYS, "in policy document")
        name = self.policy_name(pairs.get("policy"))
        if "select" not in pairs:
            self.error(root.line, "policy has no 'select' (which tickets it applies to)")
            return None
        selected = self.select(pairs["select"])
        fields = self.policy_fields(pairs["fields"][1]) if "fields" in pairs else []
        sensitive = self.key_locations(pairs.get("sensitive"), "sensitive")
        protected = self.key_locations(pairs.get("protected"), "protected")
        if "fields" not in pairs:
            self.error(root.line, "policy has no 'fields' (the values it declares)")
        if name is None or selected is None or not fields:
            return None
        types, teams, where = selected
        return DeclaredPolicy(
            name=name,
            location=self.location(pairs["policy"][0]),
            types=types,
            teams=teams,
            where=where,
            fields=tuple(fields),
            sensitive_locations=sensitive,
            protected_locations=protected,
        )

    def policy_name(self, entry: tuple[int, Node] | None) -> str | None:
        if entry is None:  # written twice: already reported as a duplicate key
            return None
        line, node = entry
        if not isinstance(node, Scalar) or not isinstance(node.value, str) or not node.value:
            self.error(line, f"'policy' must be the policy's name, got {node.describe()}")
            return None
        return node.value

    def select(
        self, entry: tuple[int, Node]
    ) -> (
        tuple[
            tuple[tuple[str, Location], ...],
            tuple[str | None, ...] | None,
            tuple[DeclaredCondition, ...],
        ]
        | None
    ):
        """``select``: ``type`` (required), ``team`` and ``where`` (optional)."""
        line, node = entry
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(line, f"'select' must be a mapping with 'type', got {node.describe()}")
            return None
        pairs = self.mapping(node, SELECT_KEYS, "in 'select'")
        if "type" not in pairs:
            self.error(line, "'select' has no 'type' (a ticket prefix or type name, or a list)")
            return None
        types = self.names(pairs["type"], "'type'")
        teams = self.teams(pairs["team"]) if "team" in pairs else None
        where = self.where(pairs["where"]) if "where" in pairs else ()
        if not types:
            return None
        return tuple(types), teams, where

    def names(self, entry: tuple[int, Node], what: str) -> list[tuple[str, Location]]:
        """A name or a list of names, each with where it was written."""
        line, node = entry
        items = node.items if isinstance(node, Collection) and node.kind is NodeKind.SEQ else [node]
        names = []
        for item in items:
            if not isinstance(item, Scalar) or not isinstance(item.value, str) or not item.value:
                self.error(
                    item.line, f"{what} must be a name or a list of names, got {item.describe()}"
                )
            else:
                names.append((item.value, self.location(item.line)))
        if not items:
            self.error(line, f"{what} must name at least one ticket type")
        return names

    def teams(self, entry: tuple[int, Node]) -> tuple[str | None, ...] | None:
        """``team``: a team or a list of them; null (alone or in the list) is "no team"."""
        node = entry[1]
        items = node.items if isinstance(node, Collection) and node.kind is NodeKind.SEQ else [node]
        teams: list[str | None] = []
        for item in items:
            if isinstance(item, Scalar) and (item.value is None or isinstance(item.value, str)):
                teams.append(item.value or None)
            else:
                self.error(
                    item.line, f"'team' must be a team name, null or a list, got {item.describe()}"
                )
        return tuple(teams)

    def where(self, entry: tuple[int, Node]) -> tuple[DeclaredCondition, ...]:
        line, node = entry
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(line, f"'where' must be a mapping of field: value, got {node.describe()}")
            return ()
        conditions = []
        for key, key_line, value in node.pairs:
            if key is not None:
                plain = value.plain()
                values = tuple(plain) if isinstance(plain, list) else (plain,)
                if not values:
                    self.error(key_line, f"'where' {key!r} lists no value to match")
                    continue
                conditions.append(DeclaredCondition(key, values, self.location(key_line)))
        return tuple(conditions)

    def no_tickets(self, root: Collection) -> None:
        """A document without ``tickets``: one problem, not one per key of a foreign file."""
        import difflib  # only for the message of a manifest with a problem

        keys = {key: line for key, line, _ in root.pairs if key is not None}
        close = difflib.get_close_matches("tickets", list(keys), n=1, cutoff=0.75)
        hint = (
            f" (did you mean {close[0]!r} at line {keys[close[0]]}?)"
            if close
            else "; a manifest lists its tickets under 'tickets'"
        )
        self.error(root.line, f"document has no 'tickets' key{hint}")

    def defaults(self, node: Node) -> dict[str, Any]:
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(
                node.line, f"'defaults' must be a mapping with 'fields', got {node.describe()}"
            )
            return {}
        pairs = self.mapping(node, DEFAULTS_KEYS, "in 'defaults'")
        if "fields" not in pairs:
            return {}
        return self.fields(pairs["fields"][1], "'defaults' fields")

    def fields(self, node: Node, what: str) -> dict[str, Any]:
        """A mapping of field keys (as written) to values."""
        if isinstance(node, Scalar) and node.value is None:
            return {}
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(
                node.line, f"{what} must be a mapping of field: value, got {node.describe()}"
            )
            return {}
        # Thousands of tickets repeat the same few keys: one string for each.
        return {sys.intern(k): value.plain() for k, _, value in node.pairs if k is not None}

    def policy_fields(self, node: Node) -> list[DeclaredField]:
        """A policy's ``fields``, each with its location."""
        lines = {key: line for key, line, _ in getattr(node, "pairs", ()) if key is not None}
        return [
            DeclaredField(key, value, self.location(lines[key]))
            for key, value in self.fields(node, "'fields'").items()
        ]

    def key_list(self, entry: tuple[int, Node] | None, name: str) -> tuple[str, ...]:
        """A ``sensitive``/``protected`` list: the field keys as listed, in order."""
        if entry is None:
            return ()
        line, node = entry
        if isinstance(node, Scalar) and node.value is None:
            return ()
        if not isinstance(node, Collection) or node.kind is not NodeKind.SEQ:
            self.error(line, f"{name!r} must be a list of field names, got {node.describe()}")
            return ()
        keys = []
        for item in node.items:
            if not isinstance(item, Scalar) or not isinstance(item.value, str) or not item.value:
                self.error(item.line, f"{name!r} must list field names, got {item.describe()}")
                keys.append("")  # keeps the positions of the others (the file is refused)
            else:
                keys.append(item.value)
        return tuple(keys)

    def key_locations(self, entry: tuple[int, Node] | None, name: str) -> dict[str, Location]:
        """A policy's ``sensitive``/``protected`` list: keys with where each was listed."""
        keys = self.key_list(entry, name)
        node = entry[1] if entry is not None else None
        items = node.items if isinstance(node, Collection) else []
        found: dict[str, Location] = {}
        for key, item in zip(keys, items, strict=False):
            if key:
                found.setdefault(key, self.location(item.line))
        return found

    def ticket(self, node: Node, index: int, document: DeclaredDocument) -> DeclaredTicket | None:
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(
                node.line, f"each ticket must be a mapping with an 'id', got {node.describe()}"
            )
            return None
        pairs = self.mapping(node, TICKET_KEYS, "in ticket")
        key = self.ticket_key(pairs.get("key"))
        type_name = self.type_name(pairs.get("type"))
        team = self.team(pairs.get("team"))
        display_id = None
        if "id" in pairs or "key" not in pairs:
            display_id = self.ticket_id(node, pairs.get("id"))
        own = self.fields(pairs["fields"][1], "'fields'") if "fields" in pairs else {}
        own_sensitive = self.key_list(pairs.get("sensitive"), "sensitive")
        own_protected = self.key_list(pairs.get("protected"), "protected")
        if display_id is None and ("id" in pairs or key is None):
            return None
        if "type" in pairs and type_name is None:
            return None
        if display_id is None and "type" not in pairs:
            assert key is not None
            self.error(
                pairs["key"][0],
                f"ticket key {short(key)} has no 'type': the ticket type to create it as, "
                "by prefix (REQ) or by name",
            )
            return None
        return DeclaredTicket(
            document,
            index,
            display_id,
            own,
            own_sensitive=own_sensitive,
            own_protected=own_protected,
            key=key,
            type=type_name,
            team=team,
        )

    def ticket_key(self, entry: tuple[int, Node] | None) -> str | None:
        """A ``key``: a short string without surrounding space or control characters."""
        if entry is None:
            return None
        line, node = entry
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, str) or not value:
            self.error(
                line,
                f"ticket 'key' must be a non-empty string such as onboarding-alice, "
                f"got {node.describe()}",
            )
            return None
        if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.error(
                line, f"ticket key {short(value)} has surrounding space or a control character"
            )
            return None
        if len(value) > MAX_KEY_CHARS:
            self.error(line, f"ticket key is longer than {MAX_KEY_CHARS} characters")
            return None
        return value

    def type_name(self, entry: tuple[int, Node] | None) -> str | None:
        if entry is None:
            return None
        line, node = entry
        if (
            not isinstance(node, Scalar)
            or not isinstance(node.value, str)
            or not node.value.strip()
        ):
            self.error(line, f"ticket 'type' must be a type prefix or name, got {node.describe()}")
            return None
        return node.value.strip()

    def team(self, entry: tuple[int, Node] | None) -> str | None:
        if entry is None:
            return None
        line, node = entry
        if isinstance(node, Scalar) and node.value is None:
            return None
        if (
            not isinstance(node, Scalar)
            or not isinstance(node.value, str)
            or not node.value.strip()
        ):
            self.error(line, f"ticket 'team' must be a team name or null, got {node.describe()}")
            return None
        return node.value

    def ticket_id(self, ticket: Node, entry: tuple[int, Node] | None) -> str | None:
        if entry is None:
            self.error(
                ticket.line,
                "ticket has no 'id' (its display ID, such as REQ-0509) nor a 'key' (to create it)",
            )
            return None
        line, node = entry
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            self.error(
                line, f"ticket 'id' must be a display ID such as REQ-0509, got {node.describe()}"
            )
            return None
        value = node.value
        if DISPLAY_ID.fullmatch(value):
            return value
        hint = " (the display ID, not the internal UUID)" if _UUID.match(value) else ""
        self.error(
            line,
            f"malformed ticket id {short(value)}: expected a display ID such as REQ-0509 "
            f"(prefix, dash, at least 4 digits){hint}",
        )
        return None


def _did_you_mean(key: str, allowed: Sequence[str]) -> str:
    import difflib  # only for the message of a manifest with a problem

    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(allowed)})"


_DOCUMENT_KEYS = frozenset(DOCUMENT_KEYS)
_TICKET_KEYS = frozenset(TICKET_KEYS)
_DEFAULTS_KEYS = frozenset(DEFAULTS_KEYS)
_POLICY_KEYS = frozenset(POLICY_KEYS)
_SELECT_KEYS = frozenset(SELECT_KEYS)
_CONTAINERS = (list, dict)


class _FastReader:
    """:class:`_Reader` for the documents of a file read fast, as plain values.

    It gives the same tickets and policies for a file without problems, and None for
    any file the line-numbered reader would find a problem in (or that it reads in a
    way this one does not follow, such as a policy without fields, which it drops):
    that reader then reads the file again and says where.
    """

    def __init__(self, lines: Lines):
        self.lines = lines

    def manifest(self, documents: list[Any]) -> Manifests | None:
        found = Manifests([], [])
        if all(root is None for root in documents):
            return None
        for index, root in enumerate(documents):
            if type(root) is dict and "policy" in root:
                policy = self.policy(root, index)
                if policy is None:
                    return None
                found.policies.append(policy)
            elif root is not None:
                tickets = self.document(root, index)
                if tickets is None:
                    return None
                found.tickets.extend(tickets)
        return found

    def document(self, root: Any, index: int) -> list[DeclaredTicket] | None:
        if type(root) is not dict or "tickets" not in root or not root.keys() <= _DOCUMENT_KEYS:
            return None
        defaults: dict[str, Any] | None = {}
        if "defaults" in root:
            entry = root["defaults"]
            if type(entry) is not dict or not entry.keys() <= _DEFAULTS_KEYS:
                return None
            defaults = self.fields(entry.get("fields"), MAX_DEPTH - 3)
        sensitive = self.key_list(root.get("sensitive"))
        protected = self.key_list(root.get("protected"))
        tickets = root["tickets"]
        if defaults is None or sensitive is None or protected is None or type(tickets) is not list:
            return None
        document = DeclaredDocument(self.lines, index, defaults, sensitive, protected)
        declared = []
        for number, item in enumerate(tickets):
            ticket = self.ticket(item, number, document)
            if ticket is None:
                return None
            declared.append(ticket)
        return declared

    def ticket(self, item: Any, index: int, document: DeclaredDocument) -> DeclaredTicket | None:
        if type(item) is not dict or not item.keys() <= _TICKET_KEYS:
            return None
        key = item.get("key")
        if "key" in item and not _good_key(key):
            return None
        type_name = item.get("type")
        if "type" in item:
            if type(type_name) is not str or not type_name.strip():
                return None
            type_name = type_name.strip()
        team = item.get("team")
        if team is not None and (type(team) is not str or not team.strip()):
            return None
        display_id = item.get("id")
        if "id" in item or "key" not in item:
            if type(display_id) is not str or not DISPLAY_ID.fullmatch(display_id):
                return None
        elif "type" not in item:
            return None  # a key without a type: the ticket type to create it as is missing
        own = self.fields(item.get("fields"), MAX_DEPTH - 4)
        own_sensitive = self.key_list(item.get("sensitive"))
        own_protected = self.key_list(item.get("protected"))
        if own is None or own_sensitive is None or own_protected is None:
            return None
        return DeclaredTicket(
            document,
            index,
            display_id,
            own,
            own_sensitive=own_sensitive,
            own_protected=own_protected,
            key=key,
            type=type_name,
            team=team,
        )

    def fields(self, fields: Any, height: int) -> dict[str, Any] | None:
        """Field keys to values, or None: not a mapping, or a value nested too deep."""
        if fields is None:
            return {}
        if type(fields) is not dict:
            return None
        for value in fields.values():
            if type(value) in _CONTAINERS and _height(value) > height:
                return None
        return fields

    def key_list(self, listed: Any) -> tuple[str, ...] | None:
        if listed is None:
            return ()
        if type(listed) is not list or not all(type(k) is str and k for k in listed):
            return None
        return tuple(listed)

    def policy(self, root: dict[str, Any], index: int) -> DeclaredPolicy | None:
        """A policy document as :meth:`_Reader.policy` reads it, or None (a problem, or a
        policy that reader drops: one without fields)."""
        select, fields = root.get("select"), root.get("fields")
        if (
            not root.keys() <= _POLICY_KEYS
            or not _name(root["policy"])
            or type(select) is not dict
            or not select.keys() <= _SELECT_KEYS
            or "type" not in select
            or type(fields) is not dict
            or not fields
            or _height(root) > MAX_DEPTH
        ):
            return None
        types = self.names(select["type"], index)
        teams = self.teams(select["team"]) if "team" in select else None
        where = self.where(select["where"], index) if "where" in select else ()
        sensitive = self.key_locations(root.get("sensitive"), "sensitive", index)
        protected = self.key_locations(root.get("protected"), "protected", index)
        if types is None or ("team" in select and teams is None) or where is None:
            return None
        if sensitive is None or protected is None:
            return None
        return DeclaredPolicy(
            name=root["policy"],
            location=self.location(index, ("policy",), key=True),
            types=types,
            teams=teams,
            where=where,
            fields=tuple(
                DeclaredField(key, value, self.location(index, ("fields", key), key=True))
                for key, value in fields.items()
            ),
            sensitive_locations=sensitive,
            protected_locations=protected,
        )

    def location(self, document: int, steps: Steps, *, key: bool) -> Location:
        return Location.found(self.lines, document, steps, key=key)

    def names(self, written: Any, index: int) -> tuple[tuple[str, Location], ...] | None:
        """``select: type``: a name or a non-empty list of names, each with its place."""
        if type(written) is not list:
            if not _name(written):
                return None
            return ((written, self.location(index, ("select", "type"), key=False)),)
        if not written or not all(_name(name) for name in written):
            return None
        return tuple(
            (name, self.location(index, ("select", "type", n), key=False))
            for n, name in enumerate(written)
        )

    def teams(self, written: Any) -> tuple[str | None, ...] | None:
        """``select: team``: a team, null, or a list of them (an empty name is null)."""
        items = written if type(written) is list else [written]
        if not all(team is None or type(team) is str for team in items):
            return None
        return tuple(team or None for team in items)

    def where(self, written: Any, index: int) -> tuple[DeclaredCondition, ...] | None:
        if type(written) is not dict:
            return None
        conditions = []
        for key, value in written.items():
            values = tuple(value) if type(value) is list else (value,)
            if not values:
                return None
            where = self.location(index, ("select", "where", key), key=True)
            conditions.append(DeclaredCondition(key, values, where))
        return tuple(conditions)

    def key_locations(self, listed: Any, name: str, index: int) -> dict[str, Location] | None:
        """A policy's ``sensitive``/``protected``: each key with where it was first listed."""
        keys = self.key_list(listed)
        if keys is None:
            return None
        found: dict[str, Location] = {}
        for n, key in enumerate(keys):
            if key not in found:
                found[key] = self.location(index, (name, n), key=False)
        return found


def _name(value: Any) -> bool:
    """A non-empty string: a policy's name, a ticket type's."""
    return type(value) is str and bool(value)


def _good_key(key: Any) -> bool:
    """What :meth:`_Reader.ticket_key` accepts."""
    return (
        type(key) is str
        and bool(key)
        and key == key.strip()
        and len(key) <= MAX_KEY_CHARS
        and not any(ord(c) < 32 or ord(c) == 127 for c in key)
    )


def _height(value: Any) -> int:
    """How many collections deep a value nests (a list of scalars is 1)."""
    items = value.values() if type(value) is dict else value
    below = 0
    for item in items:
        if type(item) in _CONTAINERS:
            below = max(below, _height(item))
    return below + 1
