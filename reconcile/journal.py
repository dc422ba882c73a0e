"""The apply journal: one JSON line per write, as it happens.

Each line records the ticket, the etag before and after, the status, the time, and
the change as an RFC 6902 JSON Patch over the ticket (``/data/<field-uuid>``) with
its inverse, so a CI artifact says exactly what was changed even when the run was
killed halfway, and ``reconcile undo`` can restore the overwritten values.
Sensitive values are stored as digests, never in clear.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import jsonpatch
from jsonpointer import JsonPointer

from reconcile.errors import PlanError
from reconcile.plan import Digest, FieldChange, TicketChange

JOURNAL_VERSION = 1


class Journal:
    """An append-only JSON-lines file shared by the worker threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._file: TextIO = self.path.open("a", encoding="utf-8")
        except OSError as error:
            raise PlanError(f"{path}: cannot write the journal: {error.strerror}") from None

    def record(
        self,
        change: TicketChange,
        etag_before: str,
        etag_after: str | None,
        status: str,
        message: str | None = None,
    ) -> None:
        """Append one write attempt and flush it, so it survives the process being killed."""
        before = {"data": {f.field_id: _stored(f, f.before) for f in change.fields}}
        after = {"data": {f.field_id: _stored(f, f.after) for f in change.fields}}
        entry: dict[str, Any] = {
            "journal_version": JOURNAL_VERSION,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "ticket": change.id,
            "etag_before": etag_before,
            "etag_after": etag_after,
            "status": status,
            "fields": {f.field_id: f.name for f in change.fields},
            "sensitive": sorted(f.field_id for f in change.fields if f.sensitive),
            "protected": sorted(f.field_id for f in change.fields if f.protected),
            "patch": _patch(change.fields, before["data"], after["data"]),
            "inverse": _patch(change.fields, after["data"], before["data"]),
            "message": message,
        }
        line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_journal(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Every entry of a journal file with its line number, oldest first.

    A file that cannot be read, or a line that is not a JSON object, is a
    :class:`PlanError` naming ``path:line``.
    """
    entries = []
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as error:
                    raise PlanError(f"{path}:{number}: not a journal line: {error.msg}") from None
                if not isinstance(entry, dict):
                    raise PlanError(f"{path}:{number}: not a journal line: not a JSON object")
                entries.append((number, entry))
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{path}: cannot read the journal: {error}") from None
    return entries


def _patch(
    fields: tuple[FieldChange, ...], old: dict[str, Any], new: dict[str, Any]
) -> list[dict[str, Any]]:
    """RFC 6902 operations that check each field's old value and replace it whole.

    Whole-value operations (not jsonpatch's element-wise diff of lists) keep each
    field's values readable on their own, which ``reconcile undo`` relies on; the
    ``test`` operations make the patch refuse to apply over a value that moved.
    jsonpatch parses the operations, so a malformed one fails here, not in ``undo``.
    """
    operations: list[dict[str, Any]] = []
    for f in fields:
        path = JsonPointer.from_parts(["data", f.field_id]).path
        operations.append({"op": "test", "path": path, "value": old[f.field_id]})
        operations.append({"op": "replace", "path": path, "value": new[f.field_id]})
    return jsonpatch.JsonPatch(operations).patch


def _stored(change: FieldChange, value: Any) -> Any:
    """A value as the journal keeps it: sensitive ones as digests (a saved plan's already are)."""
    if isinstance(value, Digest):
        return value.to_data()
    return Digest.of(value).to_data() if change.sensitive else value
