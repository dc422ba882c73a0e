"""Manifests: YAML files that declare ticket field values, read with line numbers.

Reading happens in three steps, each collecting every problem before raising one
:class:`~reconcile.errors.ManifestError`, so a user fixes all of them in one round:

1. :func:`find_manifest_files` turns the paths given into a sorted list of files.
2. :func:`parse_manifest` / :func:`load_manifests` turn YAML into
   :class:`DeclaredTicket` objects (keys as written, no schema needed).
3. :func:`resolve_tickets` resolves keys against the ticket-type schema and checks
   values, giving :class:`DesiredTicket` objects keyed by field UUID.

YAML is read with PyYAML's parser, but values are built here from its events
rather than by PyYAML's constructor, for four reasons: scalars follow the YAML 1.2
core schema (``no``/``on`` stay strings, ``2026-12-24`` stays the string the user
typed), every key keeps its line, duplicate keys are errors instead of silently
overwriting, and hostile input (alias bombs, deep nesting, huge scalars) is refused
with bounded memory instead of being expanded.
"""

from __future__ import annotations

import difflib
import errno
import gc
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconcile.errors import ManifestError, Problem
from reconcile.schema import Field, Schema, TicketType
from reconcile.ticket import DISPLAY_ID

MAX_FILE_BYTES = 5 * 1024 * 1024
"""A manifest file larger than this is refused unread (manifests are hand-written)."""
MAX_SCALAR_CHARS = 1024 * 1024
"""A single YAML scalar longer than this is refused."""
MAX_DEPTH = 50
"""Collections nested deeper than this are refused (aliases count at their expanded depth)."""
MAX_ALIAS_EXPANSION = 100_000
"""Values that aliases may add to one file when expanded; more is an alias bomb."""

MANIFEST_SUFFIXES = (".yaml", ".yml")
TOOL_FILES = frozenset({"reconcile.yaml", "reconcile.lock.yaml"})
"""The tool's own files, skipped when searching directories."""

DOCUMENT_KEYS = ("tickets", "defaults", "sensitive", "protected")
TICKET_KEYS = ("id", "fields", "sensitive", "protected")
DEFAULTS_KEYS = ("fields",)

_NO_MERGE_KEYS = "merge keys ('<<') are not supported; use 'defaults'"
_Loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_YAML = "tag:yaml.org,2002:"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


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
    """

    id: str
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


@dataclass(frozen=True)
class DesiredTicket:
    """A ticket resolved against the schema: desired values by field UUID."""

    id: str
    location: Location
    type: TicketType
    values: dict[str, Any]
    sensitive: frozenset[str]
    protected: frozenset[str]
    locations: dict[str, Location]


# --------------------------------------------------------------------------- files


def find_manifest_files(paths: Sequence[str | Path]) -> list[Path]:
    """The manifest files under ``paths``, in order, each once.

    A file is taken as given; a directory is searched recursively, in sorted order,
    for ``*.yaml``/``*.yml``, skipping hidden entries and the tool's own files.
    Directory symlinks are followed, with loops detected. Raises ManifestError
    listing every path that does not exist, is a broken symlink or loop, or is a
    directory without manifests.
    """
    files, problems = _find(paths)
    if problems:
        raise ManifestError(problems)
    return files


def _find(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    problems: list[Problem] = []
    found: list[Path] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)

    for given in paths:
        path = Path(given)
        trouble = _stat_problem(path)
        if trouble:
            problems.append(_file_problem(str(path), trouble))
        elif path.is_dir():
            found_before, problems_before = len(found), len(problems)
            _walk(path, {_dir_key(path)}, add, problems)
            if len(found) == found_before and len(problems) == problems_before:
                problems.append(
                    _file_problem(str(path), "no manifest files (*.yaml, *.yml) in this directory")
                )
        else:
            add(path)
    return found, problems


def _walk(
    directory: Path, ancestors: set[tuple[int, int]], add: Any, problems: list[Problem]
) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as error:
        problems.append(_file_problem(str(directory), f"cannot read directory: {error.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        is_manifest_name = entry.name.endswith(MANIFEST_SUFFIXES) and entry.name not in TOOL_FILES
        trouble = _stat_problem(path)
        if trouble:
            if is_manifest_name or "loop" in trouble:
                problems.append(_file_problem(str(path), trouble))
            continue
        if path.is_dir():
            key = _dir_key(path)
            if key in ancestors:
                problems.append(
                    _file_problem(str(path), "symlink loop: points back to a directory above it")
                )
                continue
            _walk(path, ancestors | {key}, add, problems)
        elif is_manifest_name and path.is_file():
            add(path)


def _stat_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used, or None."""
    try:
        os.stat(path)
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop: the link never reaches a file"
        if os.path.islink(path):
            return f"broken symlink: its target {os.readlink(path)} does not exist"
        if error.errno == errno.ENOENT:
            return "no such file or directory"
        return f"cannot read: {error.strerror}"


def _dir_key(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return (status.st_dev, status.st_ino)


def load_manifests(paths: Sequence[str | Path]) -> list[DeclaredTicket]:
    """Read every manifest under ``paths``; raise one ManifestError with every problem.

    Besides each file's own problems this finds tickets declared in two places,
    across files as well as within one.
    """
    files, problems = _find(paths)
    tickets: list[DeclaredTicket] = []
    for path in files:
        text, problem = _read(path)
        if problem:
            problems.append(problem)
            continue
        found, file_problems = _parse(text or "", str(path))
        tickets.extend(found)
        problems.extend(file_problems)
    problems.extend(_duplicate_tickets(tickets))
    if problems:
        raise ManifestError(problems)
    return tickets


def _read(path: Path) -> tuple[str | None, Problem | None]:
    """The text of a manifest file, or the one problem that keeps it from being read."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, _file_problem(name, f"cannot read: {error.strerror}")
    if len(data) > MAX_FILE_BYTES:
        return None, _file_problem(
            name, f"file is larger than {_mib(MAX_FILE_BYTES)}; refusing to read it"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return None, _problem(
            name, line, f"binary file (NUL byte at offset {nul}), not a YAML manifest"
        )
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        return None, _problem(
            name,
            line,
            f"not valid UTF-8: byte 0x{byte:02x} at offset {error.start}; save the file as UTF-8",
        )


# --------------------------------------------------------------------------- parsing


def parse_manifest(text: str, path: str) -> list[DeclaredTicket]:
    """Parse the text of one manifest file (one or more YAML documents).

    ``path`` is only used in locations and messages. Raises ManifestError with every
    problem found, tickets declared twice in the file included.
    """
    tickets, problems = _parse(text, path)
    problems.extend(_duplicate_tickets(tickets))
    if problems:
        raise ManifestError(problems)
    return tickets


def _parse(text: str, path: str) -> tuple[list[DeclaredTicket], list[Problem]]:
    problems: list[Problem] = []
    if len(text) > MAX_FILE_BYTES:
        return [], [
            _file_problem(path, f"file is larger than {_mib(MAX_FILE_BYTES)}; refusing to read it")
        ]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return [], [_problem(path, line, "binary file (NUL byte), not a YAML manifest")]
    with _gc_paused():
        return _parse_text(text, path, problems)


def _parse_text(
    text: str, path: str, problems: list[Problem]
) -> tuple[list[DeclaredTicket], list[Problem]]:
    # Whitespace alone is checked first: libyaml refuses a tab even on a blank line.
    documents = _Composer(text, path, problems).documents() if text.strip() else []
    if documents is None:  # a fatal problem: the file's structure is unknown
        return [], problems
    if not any(root is not None for root in documents):
        problems.append(_file_problem(path, "empty manifest: no YAML document in the file"))
        return [], problems
    reader = _Reader(path, problems)
    tickets: list[DeclaredTicket] = []
    for root in documents:
        if root is not None:
            tickets.extend(reader.document(root))
    return tickets, problems


@contextmanager
def _gc_paused() -> Iterator[None]:
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
    first: dict[str, Location] = {}
    problems: list[Problem] = []
    for ticket in tickets:
        if ticket.id in first:
            problems.append(
                _problem(
                    ticket.location.path,
                    ticket.location.line,
                    f"ticket {ticket.id} is declared twice: here and at {first[ticket.id]}",
                )
            )
        else:
            first[ticket.id] = ticket.location
    return problems


class _Fatal(Exception):
    """Stops reading a file whose structure cannot be trusted (syntax error, bomb)."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class _Scalar:
    """A scalar with its line: ``value`` as resolved, ``raw`` as written (used for keys)."""

    __slots__ = ("line", "raw", "value")
    kind = "scalar"
    size = 1
    height = 0

    def __init__(self, line: int, value: Any, raw: str):
        self.line = line
        self.value = value
        self.raw = raw

    def plain(self) -> Any:
        return self.value

    def describe(self) -> str:
        value = self.value
        if value is None:
            return "null"
        kind = {bool: "a boolean", int: "a number", float: "a number"}.get(type(value), "a string")
        return f"{kind} {_short(value)}"


class _Collection:
    """A sequence (``items``) or mapping (``pairs``: key as written, key line, value).

    Aliases share the anchored node, so memory stays bounded however often it is
    used; ``size`` (values once expanded) and ``height`` bound the expansion.
    ``anchor``, ``pending`` (a mapping's key awaiting its value) and ``keys`` (for
    duplicate detection) are only used while the collection is being composed.
    """

    __slots__ = ("anchor", "height", "items", "keys", "kind", "line", "pairs", "pending", "size")

    def __init__(self, kind: str, line: int, anchor: str | None):
        self.kind = kind
        self.line = line
        self.anchor = anchor
        self.items: list[_Node] = []
        self.pairs: list[tuple[str | None, int, _Node]] = []
        self.keys: dict[str, int] = {}
        self.pending: tuple[str | None, int] | None = None
        self.size = 1
        self.height = 0

    def plain(self) -> Any:
        """This node as plain Python values; each alias use gets its own copy."""
        if self.kind == "seq":
            return [item.plain() for item in self.items]
        return {key: node.plain() for key, _, node in self.pairs if key is not None}

    def describe(self) -> str:
        return "a list" if self.kind == "seq" else "a mapping"


_Node = _Scalar | _Collection


class _Composer:
    """Builds node trees from PyYAML's parser events, one per document."""

    def __init__(self, text: str, path: str, problems: list[Problem]):
        self.text = text
        self.path = path
        self.problems = problems
        self.anchors: dict[str, _Node] = {}
        self.open_anchors: set[str] = set()
        self.expanded = 0

    def documents(self) -> list[_Node | None] | None:
        """Every document's root (None for an empty one), or None after a fatal problem."""
        loader = None
        try:
            loader = _Loader(self.text)
            return self._documents(loader)
        except _Fatal as fatal:
            self.problems.append(_problem(self.path, fatal.line, fatal.message))
        except yaml.MarkedYAMLError as error:
            line = error.problem_mark.line + 1 if error.problem_mark else None
            self.problems.append(_problem(self.path, line, self._syntax_message(error, line)))
        except yaml.YAMLError as error:  # ReaderError: a character YAML forbids
            self.problems.append(self._reader_problem(error))
        except UnicodeEncodeError as error:  # a lone surrogate in the text given
            line = self.text.count("\n", 0, error.start) + 1
            character = ord(self.text[error.start])
            self.problems.append(
                _problem(self.path, line, f"character U+{character:04X} is not valid Unicode")
            )
        finally:
            if loader is not None:
                loader.dispose()
        return None

    def _documents(self, loader: Any) -> list[_Node | None]:
        # The hot loop of reading manifests: plain scalars take the shortest path.
        documents: list[_Node | None] = []
        stack: list[_Collection] = []
        root: _Node | None = None
        get_event = loader.get_event
        max_chars = MAX_SCALAR_CHARS
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        sequence_start, mapping_start = yaml.SequenceStartEvent, yaml.MappingStartEvent
        node: _Node
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                raw = event.value
                if event.tag is None and event.anchor is None and stack and len(raw) <= max_chars:
                    line = event.start_mark.line + 1
                    parent = stack[-1]
                    if parent.kind == "map":
                        if parent.pending is None:
                            parent.pending = self._scalar_key(parent, raw, line)
                            continue
                        value = _resolve_plain(raw) if event.implicit[0] else raw
                        parent.pairs.append((*parent.pending, _Scalar(line, value, raw)))
                        parent.pending = None
                    else:
                        value = _resolve_plain(raw) if event.implicit[0] else raw
                        parent.items.append(_Scalar(line, value, raw))
                    parent.size += 1
                    if not parent.height:
                        parent.height = 1
                    continue
                node = self._scalar(event)
            elif kind is alias_event:
                node = self._alias(event, len(stack))
            elif kind is sequence_start or kind is mapping_start:
                line = event.start_mark.line + 1
                if len(stack) >= MAX_DEPTH:
                    raise _Fatal(
                        line, f"nesting deeper than {MAX_DEPTH} levels; refusing to read further"
                    )
                collection = "seq" if kind is sequence_start else "map"
                if event.tag is not None:
                    self._check_tag(event.tag, collection, line)
                if event.anchor:
                    self.open_anchors.add(event.anchor)
                stack.append(_Collection(collection, line, event.anchor))
                continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                node = stack.pop()
                node.keys = {}
                if node.anchor:
                    self.open_anchors.discard(node.anchor)
                    self.anchors[node.anchor] = node
            elif kind is yaml.DocumentStartEvent:
                root = None
                self.anchors.clear()  # anchors do not cross documents
                continue
            elif kind is yaml.DocumentEndEvent:
                documents.append(root)
                continue
            elif kind is yaml.StreamEndEvent:
                return documents
            else:  # StreamStartEvent
                continue
            if not stack:
                # A document holding only null (nothing, ``~``, ``null``) counts as empty.
                root = None if node.kind == "scalar" and node.value is None else node
                continue
            parent = stack[-1]
            parent.size += node.size
            if node.height >= parent.height:
                parent.height = node.height + 1
            if parent.kind == "seq":
                parent.items.append(node)
            elif parent.pending is None:
                parent.pending = self._key(parent, node)
            else:
                key, key_line = parent.pending
                parent.pairs.append((key, key_line, node))
                parent.pending = None

    def _scalar(self, event: Any) -> _Scalar:
        line = event.start_mark.line + 1
        raw = event.value
        if len(raw) > MAX_SCALAR_CHARS:
            raise _Fatal(line, f"a value longer than {_mib(MAX_SCALAR_CHARS)}; refusing to read it")
        tag = event.tag
        if tag is None or tag == "!":
            value = _resolve_plain(raw) if tag is None and event.implicit[0] else raw
        else:
            value = self._tagged(tag, raw, line)
        node = _Scalar(line, value, raw)
        if event.anchor:
            self.anchors[event.anchor] = node
        return node

    def _tagged(self, tag: str, raw: str, line: int) -> Any:
        """A scalar with an explicit tag: only the core schema's tags are understood."""
        name = tag[len(_YAML) :] if tag.startswith(_YAML) else None
        if name == "str":
            return raw
        if name in ("int", "float", "bool", "null"):
            value = _resolve_plain(raw)
            if name == "float" and type(value) is int:
                return float(value)
            expected = {"int": int, "float": float, "bool": bool, "null": type(None)}[name]
            if type(value) is expected:
                return value
            self.problems.append(
                _problem(self.path, line, f"{_short(raw)} is not a valid !!{name}")
            )
            return raw
        self.problems.append(_problem(self.path, line, f"unsupported YAML tag {_tag_name(tag)}"))
        return raw

    def _check_tag(self, tag: str | None, collection: str, line: int) -> None:
        if tag in (None, "!", _YAML + collection):
            return
        self.problems.append(
            _problem(self.path, line, f"unsupported YAML tag {_tag_name(tag or '')}")
        )

    def _alias(self, event: Any, depth: int) -> _Node:
        line = event.start_mark.line + 1
        anchor = event.anchor
        if anchor in self.open_anchors:
            raise _Fatal(line, f"recursive alias *{anchor} refers to a value that contains it")
        node = self.anchors.get(anchor)
        if node is None:
            raise _Fatal(line, f"alias *{anchor} refers to no anchor &{anchor} before it")
        self.expanded += node.size
        if self.expanded > MAX_ALIAS_EXPANSION:
            raise _Fatal(
                line,
                f"aliases expand to more than {MAX_ALIAS_EXPANSION} values (a YAML alias bomb?); "
                "refusing to expand them",
            )
        if depth + node.height > MAX_DEPTH:
            raise _Fatal(line, f"nesting deeper than {MAX_DEPTH} levels (through alias *{anchor})")
        return node

    def _key(self, mapping: _Collection, node: _Node) -> tuple[str | None, int]:
        """Check a mapping key: a scalar, written once in its mapping."""
        if node.kind != "scalar":
            self.problems.append(
                _problem(self.path, node.line, "a mapping key must be a plain string")
            )
            return None, node.line
        return self._scalar_key(mapping, node.raw, node.line)

    def _scalar_key(self, mapping: _Collection, key: str, line: int) -> tuple[str | None, int]:
        first = mapping.keys.get(key)
        if first is not None:
            self.problems.append(
                _problem(self.path, line, f"duplicate key {key!r} (first at line {first})")
            )
            return None, line
        mapping.keys[key] = line
        return key, line

    def _syntax_message(self, error: yaml.MarkedYAMLError, line: int | None) -> str:
        if line is not None:
            lines = self.text.splitlines()
            text = lines[line - 1] if line <= len(lines) else ""
            indent = text[: len(text) - len(text.lstrip(" \t"))]
            if "\t" in indent:
                return "tab character used for indentation; YAML allows only spaces"
        message = f"YAML syntax error: {error.problem or 'invalid YAML'}"
        if error.context and error.context_mark is not None:
            message += f" ({error.context} at line {error.context_mark.line + 1})"
        return message

    def _reader_problem(self, error: yaml.YAMLError) -> Problem:
        position = getattr(error, "position", None)
        character = getattr(error, "character", None)
        line = self.text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        what = f"character U+{character:04X}" if isinstance(character, int) else "a character"
        return _problem(self.path, line, f"{what} is not allowed in YAML")


_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_EXACT: dict[str, Any] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
_NUMBER_START = frozenset("0123456789+-.")


def _resolve_plain(raw: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema.

    Stricter than the core schema in one way: a decimal integer with a leading zero
    (``0777``, ``0123``) stays a string, as YAML 1.1 would have read it as octal and
    the user more likely meant a code than a number. So does a number too long for
    Python to convert (over 4300 digits).
    """
    if raw in _EXACT:
        return _EXACT[raw]
    if raw[0] not in _NUMBER_START:
        return raw
    try:
        if _INT.match(raw):
            return int(raw)
        if _OCT.match(raw):
            return int(raw[2:], 8)
        if _HEX.match(raw):
            return int(raw[2:], 16)
    except ValueError:
        return raw
    if _FLOAT.match(raw):
        return float(raw)
    return raw


class _Reader:
    """Turns document nodes into DeclaredTickets, collecting problems."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems

    def error(self, line: int, message: str) -> None:
        self.problems.append(_problem(self.path, line, message))

    def location(self, line: int) -> Location:
        return Location(self.path, line)

    def mapping(
        self, node: _Node, allowed: Sequence[str], where: str
    ) -> dict[str, tuple[int, _Node]]:
        """The pairs of a mapping whose keys must be among ``allowed``; unknown keys reported."""
        pairs: dict[str, tuple[int, _Node]] = {}
        for key, line, value in node.pairs:
            if key is None:
                continue
            if key in allowed:
                pairs[key] = (line, value)
            elif key == "<<":
                self.error(line, _NO_MERGE_KEYS)
            else:
                self.error(line, f"unknown key {key!r} {where}{_did_you_mean(key, allowed)}")
        return pairs

    def document(self, root: _Node) -> list[DeclaredTicket]:
        if root.kind != "map":
            self.error(
                root.line,
                "a manifest document must be a mapping with a 'tickets' list, "
                f"got {root.describe()}",
            )
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
        if tickets.kind != "seq":
            self.error(line, f"'tickets' must be a list of tickets, got {tickets.describe()}")
            return []
        declared = (self.ticket(item, defaults, sensitive, protected) for item in tickets.items)
        return [ticket for ticket in declared if ticket is not None]

    def no_tickets(self, root: _Collection) -> None:
        """A document without ``tickets``: one problem, not one per key of a foreign file."""
        keys = {key: line for key, line, _ in root.pairs if key is not None}
        close = difflib.get_close_matches("tickets", list(keys), n=1, cutoff=0.75)
        hint = (
            f" (did you mean {close[0]!r} at line {keys[close[0]]}?)"
            if close
            else "; a manifest lists its tickets under 'tickets'"
        )
        self.error(root.line, f"document has no 'tickets' key{hint}")

    def defaults(self, node: _Node) -> list[DeclaredField]:
        if node.kind != "map":
            self.error(
                node.line, f"'defaults' must be a mapping with 'fields', got {node.describe()}"
            )
            return []
        pairs = self.mapping(node, DEFAULTS_KEYS, "in 'defaults'")
        if "fields" not in pairs:
            return []
        return self.fields(pairs["fields"][1], "'defaults' fields", default=True)

    def fields(self, node: _Node, what: str, default: bool = False) -> list[DeclaredField]:
        if node.kind == "scalar" and node.value is None:
            return []
        if node.kind != "map":
            self.error(
                node.line, f"{what} must be a mapping of field: value, got {node.describe()}"
            )
            return []
        declared = []
        for key, line, value in node.pairs:
            if key == "<<":
                self.error(line, _NO_MERGE_KEYS)
            elif key is not None:
                key = sys.intern(key)  # thousands of tickets repeat the same few keys
                declared.append(
                    DeclaredField(key, value.plain(), Location(self.path, line), default)
                )
        return declared

    def key_list(self, entry: tuple[int, _Node] | None, name: str) -> dict[str, Location]:
        """A ``sensitive``/``protected`` list: field keys with where each was listed."""
        if entry is None:
            return {}
        line, node = entry
        if node.kind == "scalar" and node.value is None:
            return {}
        if node.kind != "seq":
            self.error(line, f"{name!r} must be a list of field names, got {node.describe()}")
            return {}
        keys: dict[str, Location] = {}
        for item in node.items:
            if item.kind != "scalar" or not isinstance(item.value, str) or not item.value:
                self.error(item.line, f"{name!r} must list field names, got {item.describe()}")
            else:
                keys.setdefault(item.value, self.location(item.line))
        return keys

    def ticket(
        self,
        node: _Node,
        defaults: list[DeclaredField],
        sensitive: dict[str, Location],
        protected: dict[str, Location],
    ) -> DeclaredTicket | None:
        if node.kind != "map":
            self.error(
                node.line, f"each ticket must be a mapping with an 'id', got {node.describe()}"
            )
            return None
        pairs = self.mapping(node, TICKET_KEYS, "in ticket")
        display_id = self.ticket_id(node, pairs.get("id"))
        own = self.fields(pairs["fields"][1], "'fields'") if "fields" in pairs else []
        own_sensitive = self.key_list(pairs.get("sensitive"), "sensitive")
        own_protected = self.key_list(pairs.get("protected"), "protected")
        if display_id is None:
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
        )

    def ticket_id(self, ticket: _Node, entry: tuple[int, _Node] | None) -> str | None:
        if entry is None:
            self.error(ticket.line, "ticket has no 'id' (its display ID, such as REQ-0509)")
            return None
        line, node = entry
        if node.kind != "scalar" or not isinstance(node.value, str):
            self.error(
                line, f"ticket 'id' must be a display ID such as REQ-0509, got {node.describe()}"
            )
            return None
        value = node.value
        if DISPLAY_ID.match(value):
            return value
        hint = " (the display ID, not the internal UUID)" if _UUID.match(value) else ""
        self.error(
            line,
            f"malformed ticket id {_short(value)}: expected a display ID such as REQ-0509 "
            f"(prefix, dash, at least 4 digits){hint}",
        )
        return None


# --------------------------------------------------------------------------- resolving


def resolve_tickets(declared: Sequence[DeclaredTicket], schema: Schema) -> list[DesiredTicket]:
    """Resolve field keys against the schema and check every value.

    Raises ManifestError with every problem: unknown ticket prefix, unknown field,
    two keys for one field, a value the field does not accept (including clearing a
    required field), an unknown field in ``sensitive``/``protected``.
    """
    resolver = _Resolver(schema)
    with _gc_paused():
        resolved = [resolver.ticket(ticket) for ticket in declared]
    if resolver.problems:
        raise ManifestError(resolver.problems)
    return [ticket for ticket in resolved if ticket is not None]


class _Resolver:
    """Resolves declared tickets, collecting problems.

    Field lookups are cached per ticket type and key: thousands of tickets repeat
    the same few keys, and TicketType.resolve scans the type's fields.
    """

    def __init__(self, schema: Schema):
        self.schema = schema
        self.problems: list[Problem] = []
        self.reported: set[tuple[Location, str]] = set()
        self.fields: dict[tuple[str, str], Field | None] = {}

    def error(self, ticket: DeclaredTicket, location: Location, message: str) -> None:
        # A bad document-level default or list entry is reported once, not once per ticket.
        key = (location, message.replace(ticket.id, ""))
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(_problem(location.path, location.line, message))

    def field(self, ticket_type: TicketType, key: str) -> Field | None:
        cache_key = (ticket_type.id, key)
        if cache_key not in self.fields:
            self.fields[cache_key] = ticket_type.resolve(key)
        return self.fields[cache_key]

    def ticket(self, ticket: DeclaredTicket) -> DesiredTicket | None:
        ticket_type = self.schema.type_for(ticket.id)
        if ticket_type is None:
            prefix = ticket.id.rsplit("-", 1)[0]
            known = ", ".join(self.schema.prefixes) or "none"
            self.error(
                ticket,
                ticket.location,
                f"{ticket.id}: unknown ticket type prefix {prefix!r} (known prefixes: {known})",
            )
            return None
        values: dict[str, Any] = {}
        locations: dict[str, Location] = {}
        chosen: dict[str, DeclaredField] = {}
        # The ticket's own fields first, so that they win over defaults for the same field.
        for declared in sorted(ticket.fields, key=lambda f: f.default):
            target = self.field(ticket_type, declared.key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(declared.key))
                self.error(
                    ticket,
                    declared.location,
                    f"{ticket.id}: unknown field {declared.key!r}{suggestion}",
                )
                continue
            earlier = chosen.get(target.id)
            if earlier is not None:
                if declared.default and not earlier.default:
                    continue
                self.error(
                    ticket,
                    declared.location,
                    f"{ticket.id}: {declared.key!r} and {earlier.key!r} (at {earlier.location}) "
                    f"both set field {target.name!r}",
                )
                continue
            chosen[target.id] = declared
            reason = target.check(declared.value)
            if reason is not None:
                self.error(
                    ticket, declared.location, f"{ticket.id} field {target.name!r}: {reason}"
                )
                continue
            values[target.id] = target.canonical(declared.value)
            locations[target.id] = declared.location
        return DesiredTicket(
            id=ticket.id,
            location=ticket.location,
            type=ticket_type,
            values=values,
            sensitive=self.keys(ticket, ticket_type, "sensitive", ticket.sensitive_locations),
            protected=self.keys(ticket, ticket_type, "protected", ticket.protected_locations),
            locations=locations,
        )

    def keys(
        self, ticket: DeclaredTicket, ticket_type: TicketType, name: str, where: dict[str, Location]
    ) -> frozenset[str]:
        """The field UUIDs of a ticket's ``sensitive`` or ``protected`` keys."""
        ids: set[str] = set()
        for key in sorted(getattr(ticket, name)):
            target = self.field(ticket_type, key)
            if target is None:
                suggestion = _suggestion(ticket_type.suggest(key))
                self.error(
                    ticket,
                    where.get(key, ticket.location),
                    f"{ticket.id}: unknown field {key!r} in {name!r}{suggestion}",
                )
            else:
                ids.add(target.id)
        return frozenset(ids)


# --------------------------------------------------------------------------- helpers


def _problem(path: str, line: int | None, message: str) -> Problem:
    location = f"{path}:{line}" if line is not None else path
    return Problem(location=location, message=message, path=path, line=line)


def _file_problem(path: str, message: str) -> Problem:
    return _problem(path, None, message)


def _did_you_mean(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(allowed)})"


def _suggestion(names: list[str]) -> str:
    """' (did you mean ...?)' for close names, a name and its label counted once."""
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)
    names = list(unique.values())
    if not names:
        return ""
    return f" (did you mean {' or '.join(repr(n) for n in names)}?)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


def _mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB"


__all__ = [
    "DeclaredField",
    "DeclaredTicket",
    "DesiredTicket",
    "Location",
    "find_manifest_files",
    "load_manifests",
    "parse_manifest",
    "resolve_tickets",
]
