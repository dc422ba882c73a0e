"""Adopt: the reverse of apply. Drifted live values are written back into the manifests.

Each drifted field is edited where it was declared (``DesiredTicket.locations``),
under the key as written (a name, a label or a UUID). Files are edited with
ruamel.yaml's round-trip mode, so comments, key order, quoting and the file's
indentation are kept; only the changed values differ. Every edited file is read
back with the manifest loader before it is written, and refused if a value would
not read back as adopted.

A value that came from the document's ``defaults`` is written into the ticket's own
``fields`` (added if missing): changing the default would change every other ticket
of the document too. A sensitive field is never written back; it is listed instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.util import load_yaml_guess_indent

from reconcile.errors import ReconcileError
from reconcile.importer import FLOW_LIST_WIDTH, needs_quotes
from reconcile.manifest import DesiredTicket, Location, parse_manifest
from reconcile.plan import UPDATE, Plan
from reconcile.schema import Field


class AdoptError(ReconcileError):
    """Raised when a drifted value cannot be written back faithfully (the file is left as is)."""


@dataclass(frozen=True)
class Adopted:
    """One field written back: where, under which key, which value."""

    ticket: str
    field: str
    key: str
    location: Location
    value: Any
    from_default: bool = False


@dataclass(frozen=True)
class AdoptReport:
    """What adopt wrote, what it left out (sensitive fields) and the files it changed."""

    adopted: tuple[Adopted, ...]
    sensitive: tuple[str, ...]
    files: tuple[str, ...]

    @property
    def summary(self) -> str:
        tickets = len({a.ticket for a in self.adopted})
        text = (
            f"Adopt: {len(self.adopted)} field(s) of {tickets} ticket(s) written "
            f"into {len(self.files)} file(s)"
        )
        if self.sensitive:
            text += f", {len(self.sensitive)} sensitive field(s) left to edit by hand"
        return text + "."


@dataclass(frozen=True)
class _Edit:
    ticket: DesiredTicket
    field: Field
    value: Any


def adopt(plan: Plan, desired: Sequence[DesiredTicket], *, write: bool = True) -> AdoptReport:
    """Write the live values of ``plan``'s drifted fields into the manifests of ``desired``.

    ``plan`` is a plan made from ``desired``: each changed field's ``before`` is the
    live value. With ``write=False`` nothing is written (the report says what would be).
    """
    by_id = {d.id: d for d in desired}
    edits: dict[str, list[_Edit]] = {}
    sensitive: list[str] = []
    for change in plan.changes:
        ticket = by_id.get(change.id)
        if change.action != UPDATE or ticket is None:
            continue
        for field_change in change.fields:
            field = ticket.type.field_by_id(field_change.field_id)
            location = ticket.locations.get(field_change.field_id)
            if field is None or location is None:
                continue
            if field_change.sensitive:
                sensitive.append(
                    f"{ticket.id} field {field.name!r} ({location}) is sensitive: "
                    "not written back; edit it by hand if the live value is right"
                )
                continue
            value = field.canonical(field_change.before)
            edits.setdefault(location.path, []).append(_Edit(ticket, field, value))
    adopted: list[Adopted] = []
    files: list[str] = []
    for path, file_edits in edits.items():
        text = Path(path).read_text(encoding="utf-8")
        new_text, done = edit_manifest(text, path, file_edits)
        adopted += done
        if new_text != text:
            files.append(path)
            if write:
                Path(path).write_text(new_text, encoding="utf-8")
    return AdoptReport(adopted=tuple(adopted), sensitive=tuple(sensitive), files=tuple(files))


def edit_manifest(text: str, path: str, edits: Sequence[_Edit]) -> tuple[str, list[Adopted]]:
    """The manifest text with ``edits`` made, checked by reading it back."""
    yaml = _round_trip_yaml(text)
    try:
        documents = list(yaml.load_all(text))
    except YAMLError as error:
        raise AdoptError(f"{path}: cannot edit: {error}") from None
    done = [_apply(documents, path, edit) for edit in edits]
    out = io.StringIO()
    if len(documents) == 1:
        yaml.dump(documents[0], out)
    else:
        yaml.dump_all(documents, out)
    new_text = out.getvalue()
    _check(new_text, path, edits)
    return new_text, done


def _apply(documents: list[Any], path: str, edit: _Edit) -> Adopted:
    ticket_id, field = edit.ticket.id, edit.field
    location = edit.ticket.locations[field.id]
    for document in documents:
        item = _find_ticket(document, ticket_id)
        if item is None:
            continue
        fields = item.get("fields")
        key = _key_at(fields, location.line, edit.ticket, field.id)
        from_default = key is None
        if from_default:
            defaults = (document.get("defaults") or {}).get("fields")
            key = _key_at(defaults, location.line, edit.ticket, field.id)
            if key is None:
                break
            if not isinstance(fields, CommentedMap):
                fields = item["fields"] = CommentedMap()
        fields[key] = _node(edit.value)
        return Adopted(ticket_id, field.name, str(key), location, edit.value, from_default)
    raise AdoptError(
        f"{location}: {ticket_id} field {field.name!r}: cannot find where it is declared"
    )


def _find_ticket(document: Any, ticket_id: str) -> CommentedMap | None:
    if not isinstance(document, CommentedMap):
        return None
    tickets = document.get("tickets")
    if not isinstance(tickets, list):
        return None
    return next(
        (t for t in tickets if isinstance(t, CommentedMap) and t.get("id") == ticket_id), None
    )


def _key_at(mapping: Any, line: int, ticket: DesiredTicket, field_id: str) -> Any:
    """The key of ``mapping`` on ``line`` (1-based) that resolves to ``field_id``."""
    if not isinstance(mapping, CommentedMap):
        return None
    for key in mapping:
        if mapping.lc.key(key)[0] + 1 != line:
            continue
        target = ticket.type.resolve(str(key))
        if target is not None and target.id == field_id:
            return key
    return None


def _node(value: Any) -> Any:
    """``value`` as a ruamel node, quoted where a YAML 1.1 or 1.2 reader could misread it."""
    if isinstance(value, str):
        if "\n" in value:
            return LiteralScalarString(value)
        return SingleQuotedScalarString(value) if needs_quotes(value) else value
    if isinstance(value, list):
        sequence = CommentedSeq(_node(v) for v in value)
        short = sum(len(str(v)) + 2 for v in value) <= FLOW_LIST_WIDTH
        if short and all(isinstance(v, str) and "\n" not in v for v in value):
            sequence.fa.set_flow_style()
        return sequence
    return value


def _round_trip_yaml(text: str) -> YAML:
    """A round-trip YAML that writes with the file's own indentation and never re-wraps."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 1_000_000
    try:
        _, sequence, offset = load_yaml_guess_indent(text)
    except YAMLError:
        sequence, offset = None, None
    mapping = _mapping_indent(text)
    if sequence is None or offset is None:
        sequence, offset = mapping + 2, 2
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
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


def _check(text: str, path: str, edits: Sequence[_Edit]) -> None:
    """Refuse to write a file whose adopted values would not read back as adopted."""
    read = {t.id: t for t in parse_manifest(text, path)}
    for edit in edits:
        ticket = read.get(edit.ticket.id)
        values = [
            f.value
            for f in (ticket.fields if ticket else ())
            if not f.default and (t := edit.ticket.type.resolve(f.key)) and t.id == edit.field.id
        ]
        if len(values) != 1 or not edit.field.equal(
            edit.field.canonical(edit.value), edit.field.canonical(values[0])
        ):
            raise AdoptError(
                f"{path}: {edit.ticket.id} field {edit.field.name!r}: the edited file would not "
                "read back the live value; nothing was written to this file"
            )
