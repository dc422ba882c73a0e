"""Adopt: the reverse of apply. Drifted live values are written back into the manifests.

Each drifted field is edited where it was declared (``DesiredTicket.locations``),
under the key as written (a name, a label or a UUID). Files are edited with the
manifest writer's round-trip editor (:mod:`reconcile.manifest.write`, shared with
``import``), so comments, key order, quoting and the file's indentation are kept;
only the changed values differ. Every edited file is read
back with the manifest loader before it is written, and refused if a value would
not read back as adopted.

A value that came from the document's ``defaults`` is written into the ticket's own
``fields`` (added if missing): changing the default would change every other ticket
of the document too. A sensitive field is never written back; it is listed instead.
So is a field whose declared value comes from a policy: a policy document is never
edited (its value holds for every ticket it selects), and the drift is listed with
the policy's name and line instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from reconcile.errors import ReconcileError
from reconcile.manifest import DesiredTicket, Location, parse_manifest
from reconcile.manifest.write import ManifestEditor, yaml_value
from reconcile.plan import Action, Plan
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
    from_policies: tuple[str, ...] = ()
    """Drifted fields whose declared value comes from a policy: listed, not written."""

    @property
    def summary(self) -> str:
        tickets = len({a.ticket for a in self.adopted})
        text = (
            f"Adopt: {len(self.adopted)} field(s) of {tickets} ticket(s) written "
            f"into {len(self.files)} file(s)"
        )
        if self.sensitive:
            text += f", {len(self.sensitive)} sensitive field(s) left to edit by hand"
        if self.from_policies:
            text += f", {len(self.from_policies)} field(s) declared by policies left as they are"
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
    from_policies: list[str] = []
    for change in plan.changes:
        if change.action != Action.UPDATE:
            continue
        for field_change in change.fields:
            source = field_change.source
            if source is not None and source.policy is not None:
                from_policies.append(
                    f"{change.id} field {field_change.name!r} drifted from policy "
                    f"{source.policy} ({source.location}): not written back; change the "
                    "ticket, the policy or its selection"
                )
        ticket = by_id.get(change.id)
        if ticket is None:
            continue
        for field_change in change.fields:
            if field_change.source is not None and field_change.source.policy is not None:
                continue
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
    return AdoptReport(
        adopted=tuple(adopted),
        sensitive=tuple(sensitive),
        files=tuple(files),
        from_policies=tuple(from_policies),
    )


def edit_manifest(text: str, path: str, edits: Sequence[_Edit]) -> tuple[str, list[Adopted]]:
    """The manifest text with ``edits`` made, checked by reading it back."""
    editor = ManifestEditor(text, path)
    done = [_apply(editor.documents, edit) for edit in edits]
    new_text = editor.text()
    _check(new_text, path, edits)
    return new_text, done


def _apply(documents: list[Any], edit: _Edit) -> Adopted:
    ticket_id, field = edit.ticket.name, edit.field
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
        fields[key] = yaml_value(edit.value)
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
