"""YAML text to node trees with line numbers, composed from PyYAML's parser events.

Values are built from the parser's events rather than by PyYAML's constructor, for
four reasons: scalars follow the YAML 1.2 core schema (``no``/``on`` stay strings,
``2026-12-24`` stays the string the user typed), every key keeps its line, duplicate
keys are errors instead of silently overwriting, and hostile input (alias bombs,
deep nesting, huge scalars) is refused with bounded memory instead of being expanded.
"""

from __future__ import annotations

import importlib
import math
import re
from typing import TYPE_CHECKING, Any

from reconcile._strenum import StrEnum
from reconcile.errors import Problem
from reconcile.manifest.files import mib
from reconcile.manifest.model import problem

NO_MERGE_KEYS = "merge keys ('<<') are not supported; use 'defaults'"

MAX_SCALAR_CHARS = 1024 * 1024
"""A single YAML scalar longer than this is refused."""
MAX_DEPTH = 50
"""Collections nested deeper than this are refused (aliases count at their expanded depth)."""
MAX_ALIAS_EXPANSION = 100_000
"""Values that aliases may add to one file when expanded; more is an alias bomb."""

if TYPE_CHECKING:
    import yaml
_YAML = "tag:yaml.org,2002:"


class _Fatal(Exception):
    """Stops reading a file whose structure cannot be trusted (syntax error, bomb)."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class NodeKind(StrEnum):
    """What a composed YAML node is."""

    SCALAR = "scalar"
    SEQ = "seq"
    MAP = "map"


class Scalar:
    """A scalar with its line: ``value`` as resolved, ``raw`` as written (used for keys)."""

    __slots__ = ("line", "raw", "value")
    kind = NodeKind.SCALAR
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
        return f"{kind} {short(value)}"


class Collection:
    """A sequence (``items``) or mapping (``pairs``: key as written, key line, value).

    Aliases share the anchored node, so memory stays bounded however often it is
    used; ``size`` (values once expanded) and ``height`` bound the expansion.
    ``anchor``, ``pending`` (a mapping's key awaiting its value) and ``keys`` (for
    duplicate detection) are only used while the collection is being composed.
    """

    __slots__ = ("anchor", "height", "items", "keys", "kind", "line", "pairs", "pending", "size")

    def __init__(self, kind: NodeKind, line: int, anchor: str | None):
        self.kind = kind
        self.line = line
        self.anchor = anchor
        self.items: list[Node] = []
        self.pairs: list[tuple[str | None, int, Node]] = []
        self.keys: dict[str, int] = {}
        self.pending: tuple[str | None, int] | None = None
        self.size = 1
        self.height = 0

    def plain(self) -> Any:
        """This node as plain Python values; each alias use gets its own copy."""
        if self.kind is NodeKind.SEQ:
            return [item.plain() for item in self.items]
        return {key: node.plain() for key, _, node in self.pairs if key is not None}

    def describe(self) -> str:
        return "a list" if self.kind is NodeKind.SEQ else "a mapping"


Node = Scalar | Collection


class Composer:
    """Builds node trees from PyYAML's parser events, one per document."""

    def __init__(self, text: str, path: str, problems: list[Problem]):
        self.text = text
        self.path = path
        self.problems = problems
        self.anchors: dict[str, Node] = {}
        self.open_anchors: set[str] = set()
        self.expanded = 0

    def documents(self) -> list[Node | None] | None:
        """Every document's root (None for an empty one), or None after a fatal problem."""
        # Imported here: most files are read fast (manifest/rapid.py), and PyYAML costs
        # a noticeable part of a short command's start-up.
        yaml: Any = importlib.import_module("yaml")
        loader = None
        try:
            loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)(self.text)
            return self._documents(loader, yaml)
        except _Fatal as fatal:
            self.problems.append(problem(self.path, fatal.line, fatal.message))
        except yaml.MarkedYAMLError as error:
            line = error.problem_mark.line + 1 if error.problem_mark else None
            self.problems.append(problem(self.path, line, self._syntax_message(error, line)))
        except yaml.YAMLError as error:  # ReaderError: a character YAML forbids
            self.problems.append(self._reader_problem(error))
        except UnicodeEncodeError as error:  # a lone surrogate in the text given
            line = self.text.count("\n", 0, error.start) + 1
            character = ord(self.text[error.start])
            self.problems.append(
                problem(self.path, line, f"character U+{character:04X} is not valid Unicode")
            )
        finally:
            if loader is not None:
                loader.dispose()
        return None

    def _documents(self, loader: Any, yaml: Any) -> list[Node | None]:
        # The hot loop of reading manifests: plain scalars take the shortest path.
        documents: list[Node | None] = []
        stack: list[Collection] = []
        root: Node | None = None
        get_event = loader.get_event
        max_chars = MAX_SCALAR_CHARS
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        sequence_start, mapping_start = yaml.SequenceStartEvent, yaml.MappingStartEvent
        node: Node
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                raw = event.value
                if event.tag is None and event.anchor is None and stack and len(raw) <= max_chars:
                    line = event.start_mark.line + 1
                    parent = stack[-1]
                    if parent.kind is NodeKind.MAP:
                        if parent.pending is None:
                            parent.pending = self._scalar_key(
                                parent, raw, line, plain=event.implicit[0]
                            )
                            continue
                        value = resolve_plain(raw) if event.implicit[0] else raw
                        parent.pairs.append((*parent.pending, Scalar(line, value, raw)))
                        parent.pending = None
                    else:
                        value = resolve_plain(raw) if event.implicit[0] else raw
                        parent.items.append(Scalar(line, value, raw))
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
                collection = NodeKind.SEQ if kind is sequence_start else NodeKind.MAP
                if event.tag is not None:
                    self._check_tag(event.tag, collection, line)
                if event.anchor:
                    self.open_anchors.add(event.anchor)
                stack.append(Collection(collection, line, event.anchor))
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
                root = None if isinstance(node, Scalar) and node.value is None else node
                continue
            parent = stack[-1]
            parent.size += node.size
            if node.height >= parent.height:
                parent.height = node.height + 1
            if parent.kind is NodeKind.SEQ:
                parent.items.append(node)
            elif parent.pending is None:
                parent.pending = self._key(parent, node)
            else:
                key, key_line = parent.pending
                parent.pairs.append((key, key_line, node))
                parent.pending = None

    def _scalar(self, event: Any) -> Scalar:
        line = event.start_mark.line + 1
        raw = event.value
        if len(raw) > MAX_SCALAR_CHARS:
            raise _Fatal(line, f"a value longer than {mib(MAX_SCALAR_CHARS)}; refusing to read it")
        tag = event.tag
        if tag is None or tag == "!":
            value = resolve_plain(raw) if tag is None and event.implicit[0] else raw
        else:
            value = self._tagged(tag, raw, line)
        node = Scalar(line, value, raw)
        if event.anchor:
            self.anchors[event.anchor] = node
        return node

    def _tagged(self, tag: str, raw: str, line: int) -> Any:
        """A scalar with an explicit tag: only the core schema's tags are understood."""
        name = tag[len(_YAML) :] if tag.startswith(_YAML) else None
        if name == "str":
            return raw
        if name in ("int", "float", "bool", "null"):
            value = resolve_plain(raw)
            if name == "float" and type(value) is int:
                return float(value)
            expected = {"int": int, "float": float, "bool": bool, "null": type(None)}[name]
            if type(value) is expected:
                return value
            self.problems.append(problem(self.path, line, f"{short(raw)} is not a valid !!{name}"))
            return raw
        self.problems.append(problem(self.path, line, f"unsupported YAML tag {_tag_name(tag)}"))
        return raw

    def _check_tag(self, tag: str | None, collection: str, line: int) -> None:
        if tag in (None, "!", _YAML + collection):
            return
        self.problems.append(
            problem(self.path, line, f"unsupported YAML tag {_tag_name(tag or '')}")
        )

    def _alias(self, event: Any, depth: int) -> Node:
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

    def _key(self, mapping: Collection, node: Node) -> tuple[str | None, int]:
        """Check a mapping key: a scalar, written once in its mapping."""
        if not isinstance(node, Scalar):
            self.problems.append(
                problem(self.path, node.line, "a mapping key must be a plain string")
            )
            return None, node.line
        return self._scalar_key(mapping, node.raw, node.line, plain=True)

    def _scalar_key(
        self, mapping: Collection, key: str, line: int, *, plain: bool
    ) -> tuple[str | None, int]:
        """Check a scalar key: written once; a plain ``<<`` (a YAML 1.1 merge key) refused.

        A quoted ``'<<'`` is an ordinary name: the writer quotes it so that it reads back.
        """
        if plain and key == "<<":
            self.problems.append(problem(self.path, line, NO_MERGE_KEYS))
            return None, line
        first = mapping.keys.get(key)
        if first is not None:
            self.problems.append(
                problem(self.path, line, f"duplicate key {key!r} (first at line {first})")
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
        return problem(self.path, line, f"{what} is not allowed in YAML")


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


def resolve_plain(raw: str) -> Any:
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


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag
