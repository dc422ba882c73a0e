"""Writing manifest YAML: one writer and one quoting rule for import, adopt and write-back.

Everything is written with ruamel.yaml. New manifests (``import``) are dumped from plain
data by :func:`dump_manifest`; existing ones (``adopt``, writing back a created
ticket's ID) are edited in round-trip mode by :class:`ManifestEditor`, which keeps
comments, key order, quoting and the file's own indentation. Both turn values into
YAML nodes with :func:`yaml_value`, so one rule decides how a value is written:

- a string is plain where it reads back as itself; it is quoted (single quotes) when a
  YAML 1.1 or 1.2 reader would take its plain form for something else (``no``,
  ``null``, ``2026-12-24``, ``1e3``, ``0o17``): the manifest loader reads YAML 1.2
  core, other tools may read 1.1;
- a string holding a character YAML does not allow raw, or a YAML 1.1 line break (NEL,
  U+2028, U+2029), is double-quoted, where those are escaped; other multi-line strings
  are literal blocks where a literal block reads back exactly, else double-quoted;
- a short list of one-line strings is written inline (``[freeze, q4]``);
- a :class:`DateText` (the value of a date or datetime field) is written plain, as
  people write dates; the manifest loader reads it back as the same string.

Lines are never wrapped: one changed word must not re-flow a paragraph in review.
Reading stays with :mod:`reconcile.manifest.parse`; the modules here only write text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.util import load_yaml_guess_indent

from reconcile.errors import ReconcileError

FLOW_LIST_WIDTH = 60
"""A list of one-line strings is written inline when its items take at most this many characters."""

NO_WRAP = 1_000_000
"""Line width given to the emitter: never wrap."""

_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_ANALYZER = yaml.emitter.Emitter(io.StringIO(), allow_unicode=True)
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
_ESCAPED = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
"""Characters written only as escapes, in double quotes: what YAML does not allow raw, and
NEL, U+2028, U+2029 (line breaks to a YAML 1.1 reader) and the byte order mark."""


class ManifestWriteError(ReconcileError):
    """Raised when a manifest cannot be edited (it is not YAML the editor can round-trip)."""


class DateText(str):
    """A ``date`` or ``datetime`` field's value: written plain (``2026-12-24``) where it can be."""


def needs_quotes(value: str) -> bool:
    """True when the plain form of ``value`` would not read back as that string."""
    return any(r.resolve(ScalarNode, value, (True, False)) != _STR_TAG for r in _RESOLVERS)


def yaml_value(value: Any, *, flow: bool = False) -> Any:
    """``value`` as what the writer emits: strings and lists styled by the module's rule.

    ``flow`` says the value sits inside an inline list, where fewer strings can be plain.
    """
    if isinstance(value, DateText):
        return value if _plain_timestamp(value) else yaml_value(str(value), flow=flow)
    if isinstance(value, str):
        return _string(value, flow)
    if isinstance(value, list):
        short = sum(len(str(v)) + 2 for v in value) <= FLOW_LIST_WIDTH
        inline = short and all(isinstance(v, str) and "\n" not in v for v in value)
        sequence = CommentedSeq(yaml_value(v, flow=inline) for v in value)
        if inline:
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[yaml_value(key)] = yaml_value(item)
        return mapping
    return value


def _string(value: str, flow: bool) -> str:
    """A plain string where it reads back as itself, else the quoting or block that does.

    The manifest loader scans with PyYAML, so PyYAML's own analysis of a scalar says
    which styles its scanner reads back as written (ruamel's emitter allows a few plain
    forms that PyYAML's scanner refuses, such as ``:0`` inside an inline list).
    """
    if _ESCAPED.search(value):
        return _double(value)
    analysis = _ANALYZER.analyze_scalar(value)
    if "\n" in value:
        return (
            LiteralScalarString(value) if analysis.allow_block else DoubleQuotedScalarString(value)
        )
    plain = analysis.allow_flow_plain if flow else analysis.allow_block_plain
    if plain and not needs_quotes(value):
        return value
    return (
        SingleQuotedScalarString(value)
        if analysis.allow_single_quoted
        else DoubleQuotedScalarString(value)
    )


def _double(value: str) -> str:
    return DoubleQuotedScalarString(value)


def dump_manifest(data: Mapping[str, Any]) -> str:
    """``data`` as a new manifest document that reads back exactly under the manifest loader.

    Sequences are indented under their key, as people write them.
    """
    yaml = _writer()
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(yaml_value(data), out)
    return out.getvalue()


class ManifestEditor:
    """An existing manifest's documents, editable in place and written back in its own style.

    ``documents`` are ruamel round-trip nodes (``CommentedMap`` and friends): set values
    made with :func:`yaml_value`, then :meth:`text` gives the file's new text.
    """

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._yaml = _round_trip_yaml(text)
        try:
            self.documents: list[Any] = list(self._yaml.load_all(text))
        except YAMLError as error:
            raise ManifestWriteError(f"{path}: cannot edit: {error}") from None

    def text(self) -> str:
        out = io.StringIO()
        if len(self.documents) == 1:
            self._yaml.dump(self.documents[0], out)
        else:
            self._yaml.dump_all(self.documents, out)
        return out.getvalue()

    def ticket_entries(self) -> list[CommentedMap]:
        """Every ticket entry (a mapping in a document's ``tickets`` list), in file order."""
        entries = []
        for document in self.documents:
            tickets = document.get("tickets") if isinstance(document, CommentedMap) else None
            if isinstance(tickets, CommentedSeq):
                entries += [t for t in tickets if isinstance(t, CommentedMap)]
        return entries


def write_ticket_ids(text: str, path: str, ids: Mapping[int, str]) -> str:
    """``text`` with ``id: <ID>`` written into the ticket entries that start on the given lines.

    ``ids`` maps an entry's line (1-based, the line of its first key: the
    ``DeclaredTicket.location.line`` the manifest loader gives) to the display ID to
    write. The ``id`` becomes the entry's first key, or replaces its value; comments,
    key order, quoting and layout of everything else stay as they were. Raises
    :class:`ManifestWriteError` naming ``path:line`` when no entry starts on a line.
    """
    editor = ManifestEditor(text, path)
    by_line = {entry.lc.line + 1: entry for entry in editor.ticket_entries()}
    for line, display_id in ids.items():
        entry = by_line.get(line)
        if entry is None:
            raise ManifestWriteError(f"{path}:{line}: no ticket entry starts on this line")
        if "id" in entry:
            entry["id"] = yaml_value(display_id)
        else:
            entry.insert(0, "id", yaml_value(display_id))
    return editor.text()


class _ManifestRepresenter(RoundTripRepresenter):
    """ruamel's round-trip representer; ``null`` written out, :class:`DateText` plain."""

    def represent_null(self, _: None) -> ScalarNode:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")

    def represent_date_text(self, value: DateText) -> ScalarNode:
        # Tagged as a timestamp, the emitter sees that the plain form reads back as that
        # tag and leaves it unquoted; the manifest loader (YAML 1.2 core) reads a string.
        return self.represent_scalar(_TIMESTAMP_TAG, str(value))


_ManifestRepresenter.add_representer(type(None), _ManifestRepresenter.represent_null)
_ManifestRepresenter.add_representer(DateText, _ManifestRepresenter.represent_date_text)


def _writer() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Representer = _ManifestRepresenter
    yaml.width = NO_WRAP
    return yaml


def _plain_timestamp(value: str) -> bool:
    return _RESOLVERS[1].resolve(ScalarNode, value, (True, False)) == _TIMESTAMP_TAG


def _round_trip_yaml(text: str) -> YAML:
    """A round-trip YAML that writes with the file's own indentation and quotes."""
    yaml = _writer()
    yaml.preserve_quotes = True
    try:
        _, sequence, offset = load_yaml_guess_indent(text)
    except YAMLError:
        sequence, offset = None, None
    mapping = _mapping_indent(text)
    if sequence is None or offset is None:
        sequence, offset = mapping + 2, 2
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    return yaml


def _mapping_indent(text: str) -> int:
    """How far a nested mapping's keys are indented (a key line, then a deeper key line)."""
    previous: int | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            previous = None
            continue
        indent = len(line) - len(stripped)
        if previous is not None and indent > previous:
            return indent - previous
        previous = indent if stripped.rstrip().endswith(":") else None
    return 2


__all__ = [
    "FLOW_LIST_WIDTH",
    "DateText",
    "ManifestEditor",
    "ManifestWriteError",
    "dump_manifest",
    "needs_quotes",
    "write_ticket_ids",
    "yaml_value",
]
