"""YAML documents to :class:`DeclaredTicket` objects: keys as written, no schema needed.

Checks the document's keys (``tickets``, ``defaults``, ``sensitive``, ``protected``)
and each ticket's, merges defaults under a ticket's own fields, and finds tickets
declared twice.
"""

from __future__ import annotations

import difflib
import gc
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from reconcile.errors import ManifestError, Problem
from reconcile.manifest.files import MAX_FILE_BYTES, find, mib, read
from reconcile.manifest.model import (
    DeclaredCondition,
    DeclaredField,
    DeclaredPolicy,
    DeclaredTicket,
    Location,
    Manifests,
    file_problem,
    problem,
)
from reconcile.manifest.yaml12 import Collection, Composer, Node, NodeKind, Scalar, short
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
    found, problems = _parse(text, path)
    problems.extend(_duplicate_tickets(found.tickets))
    problems.extend(_duplicate_policies(found.policies))
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
    files, problems = find(paths)
    tickets: list[DeclaredTicket] = []
    policies: list[DeclaredPolicy] = []
    for path in files:
        text, unreadable = read(path)
        if unreadable:
            problems.append(unreadable)
            continue
        found, file_problems = _parse(text or "", str(path))
        tickets.extend(found.tickets)
        policies.extend(found.policies)
        problems.extend(file_problems)
    problems.extend(_duplicate_tickets(tickets))
    problems.extend(_duplicate_policies(policies))
    if problems:
        raise ManifestError(problems)
    return Manifests(tickets, policies)


def _parse(text: str, path: str) -> tuple[Manifests, list[Problem]]:
    problems: list[Problem] = []
    if len(text) > MAX_FILE_BYTES:
        return Manifests([], []), [
            file_problem(path, f"file is larger than {mib(MAX_FILE_BYTES)}; refusing to read it")
        ]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return Manifests([], []), [
            problem(path, line, "binary file (NUL byte), not a YAML manifest")
        ]
    with gc_paused():
        return _parse_text(text, path, problems)


def _parse_text(text: str, path: str, problems: list[Problem]) -> tuple[Manifests, list[Problem]]:
    # Whitespace alone is checked first: libyaml refuses a tab even on a blank line.
    documents = Composer(text, path, problems).documents() if text.strip() else []
    if documents is None:  # a fatal problem: the file's structure is unknown
        return Manifests([], []), problems
    if not any(root is not None for root in documents):
        problems.append(file_problem(path, "empty manifest: no YAML document in the file"))
        return Manifests([], []), problems
    reader = _Reader(path, problems)
    found = Manifests([], [])
    for root in documents:
        if root is not None:
            found.tickets.extend(reader.document(root, found.policies))
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


def _duplicate_tickets(tickets: Iterable[DeclaredTicket]) -> list[Problem]:
    """Tickets declared twice: the same ``id``, or the same ``key`` (keys are unique
    across all the manifests, since a key names the one ticket it creates)."""
    first: dict[str, Location] = {}
    first_key: dict[str, Location] = {}
    problems: list[Problem] = []
    for ticket in tickets:
        if ticket.id is not None:
            if ticket.id in first:
                problems.append(
                    problem(
                        ticket.location.path,
                        ticket.location.line,
                        f"ticket {ticket.id} is declared twice: here and at {first[ticket.id]}",
                    )
                )
            else:
                first[ticket.id] = ticket.location
        if ticket.key is not None:
            where = ticket.key_location or ticket.location
            if ticket.key in first_key:
                problems.append(
                    problem(
                        where.path,
                        where.line,
                        f"key {ticket.key!r} is declared twice: here and at "
                        f"{first_key[ticket.key]}",
                    )
                )
            else:
                first_key[ticket.key] = where
    return problems


def _duplicate_policies(policies: Iterable[DeclaredPolicy]) -> list[Problem]:
    first: dict[str, Location] = {}
    problems: list[Problem] = []
    for policy in policies:
        if policy.name in first:
            problems.append(
                problem(
                    policy.location.path,
                    policy.location.line,
                    f"policy {policy.name!r} is declared twice: here and at {first[policy.name]}",
                )
            )
        else:
            first[policy.name] = policy.location
    return problems


class _Reader:
    """Turns document nodes into DeclaredTickets, collecting problems."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems

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

    def document(self, root: Node, policies: list[DeclaredPolicy]) -> list[DeclaredTicket]:
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
        defaults = self.defaults(pairs["defaults"][1]) if "defaults" in pairs else []
        sensitive = self.key_list(pairs.get("sensitive"), "sensitive")
        protected = self.key_list(pairs.get("protected"), "protected")
        if "tickets" not in pairs:  # written twice: already reported as a duplicate key
            return []
        line, tickets = pairs["tickets"]
        if not isinstance(tickets, Collection) or tickets.kind is not NodeKind.SEQ:
            self.error(line, f"'tickets' must be a list of tickets, got {tickets.describe()}")
            return []
        declared = (self.ticket(item, defaults, sensitive, protected) for item in tickets.items)
        return [ticket for ticket in declared if ticket is not None]

    def policy(self, root: Collection) -> DeclaredPolicy | None:
        """A policy document: ``policy`` (its name), ``select``, ``fields``, key lists."""
        pairs = self.mapping(root, POLICY_KEYS, "in policy document")
        name = self.policy_name(pairs.get("policy"))
        if "select" not in pairs:
            self.error(root.line, "policy has no 'select' (which tickets it applies to)")
            return None
        selected = self.select(pairs["select"])
        fields = self.fields(pairs["fields"][1], "'fields'") if "fields" in pairs else []
        sensitive = self.key_list(pairs.get("sensitive"), "sensitive")
        protected = self.key_list(pairs.get("protected"), "protected")
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
        keys = {key: line for key, line, _ in root.pairs if key is not None}
        close = difflib.get_close_matches("tickets", list(keys), n=1, cutoff=0.75)
        hint = (
            f" (did you mean {close[0]!r} at line {keys[close[0]]}?)"
            if close
            else "; a manifest lists its tickets under 'tickets'"
        )
        self.error(root.line, f"document has no 'tickets' key{hint}")

    def defaults(self, node: Node) -> list[DeclaredField]:
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(
                node.line, f"'defaults' must be a mapping with 'fields', got {node.describe()}"
            )
            return []
        pairs = self.mapping(node, DEFAULTS_KEYS, "in 'defaults'")
        if "fields" not in pairs:
            return []
        return self.fields(pairs["fields"][1], "'defaults' fields", default=True)

    def fields(self, node: Node, what: str, default: bool = False) -> list[DeclaredField]:
        if isinstance(node, Scalar) and node.value is None:
            return []
        if not isinstance(node, Collection) or node.kind is not NodeKind.MAP:
            self.error(
                node.line, f"{what} must be a mapping of field: value, got {node.describe()}"
            )
            return []
        declared = []
        for key, line, value in node.pairs:
            if key is not None:
                key = sys.intern(key)  # thousands of tickets repeat the same few keys
                declared.append(
                    DeclaredField(key, value.plain(), Location(self.path, line), default)
                )
        return declared

    def key_list(self, entry: tuple[int, Node] | None, name: str) -> dict[str, Location]:
        """A ``sensitive``/``protected`` list: field keys with where each was listed."""
        if entry is None:
            return {}
        line, node = entry
        if isinstance(node, Scalar) and node.value is None:
            return {}
        if not isinstance(node, Collection) or node.kind is not NodeKind.SEQ:
            self.error(line, f"{name!r} must be a list of field names, got {node.describe()}")
            return {}
        keys: dict[str, Location] = {}
        for item in node.items:
            if not isinstance(item, Scalar) or not isinstance(item.value, str) or not item.value:
                self.error(item.line, f"{name!r} must list field names, got {item.describe()}")
            else:
                keys.setdefault(item.value, self.location(item.line))
        return keys

    def ticket(
        self,
        node: Node,
        defaults: list[DeclaredField],
        sensitive: dict[str, Location],
        protected: dict[str, Location],
    ) -> DeclaredTicket | None:
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
        own = self.fields(pairs["fields"][1], "'fields'") if "fields" in pairs else []
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
        own_keys = {f.key for f in own}
        merged = tuple(f for f in defaults if f.key not in own_keys) + tuple(own)
        sensitive_locations = {**own_sensitive, **sensitive}
        protected_locations = {**own_protected, **protected}
        return DeclaredTicket(
            id=display_id,
            location=self.location(node.line),
            fields=merged,
            sensitive=frozenset(sensitive_locations),
            protected=frozenset(protected_locations),
            sensitive_locations=sensitive_locations,
            protected_locations=protected_locations,
            key=key,
            type=type_name,
            team=team,
            key_location=self.location(pairs["key"][0]) if key is not None else None,
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
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(allowed)})"
