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

from reconcile.plan import Digest, FieldChange, TicketChange

JOURNAL_VERSION = 1


class Journal:
    """An append-only JSON-lines file shared by the worker threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: TextIO = self.path.open("a", encoding="utf-8")

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
            "patch": jsonpatch.make_patch(before, after).patch,
            "inverse": jsonpatch.make_patch(after, before).patch,
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


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Read every entry of a journal file, oldest first."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _stored(change: FieldChange, value: Any) -> Any:
    return Digest.of(value).to_data() if change.sensitive else value
