"""The apply journal: a write-ahead log of every write, one JSON line per record.

A journal file holds, in order (several runs may append to one file):

* a **run** line when a run starts writing: the target (base URL, tenant, realm) it
  writes to, so that ``reconcile undo`` never restores one tenant's values into another;
* an **intent** line *before* each write is sent, flushed and fsynced: the action
  (``update``; ``create`` for tickets the run creates), the ticket (and its manifest
  ``key``), the etag the write is guarded by, and the change as an RFC 6902 JSON Patch
  over the ticket (``/data/<field-uuid>``) with its inverse;
* an **outcome** line after the answer: the intent it answers (``run`` and ``seq``),
  a :class:`Status`, the new etag, a message.

A run killed at any instant (SIGKILL included) leaves every write that may have
landed as an intent: with an outcome that says it landed, or with none (it may have).
Sensitive values are stored as digests, never in clear.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import jsonpatch
from jsonpointer import JsonPointer, JsonPointerException

from reconcile._strenum import StrEnum
from reconcile.errors import PlanError
from reconcile.plan import Digest, FieldChange, Target, TicketChange

JOURNAL_VERSION = 2
"""Version 2: run, intent and outcome lines (version 1 had one line per answered write)."""

MAX_DEPTH = 64
"""How deeply a journal line may nest; deeper is a damaged or hostile file, not a journal."""


class Kind(StrEnum):
    """What a journal line is."""

    RUN = "run"
    INTENT = "intent"
    OUTCOME = "outcome"


class Action(StrEnum):
    """What an intent is about to do."""

    UPDATE = "update"
    CREATE = "create"


class Status(StrEnum):
    """The outcome of one write, as its answer (or a re-read after no answer) told it."""

    UPDATED = "updated"
    """The write landed: answered 200, or a re-read after no answer shows its values."""
    CREATED = "created"
    """A create landed: the outcome carries the new ticket's ID and etag."""
    ETAG_MISMATCH = "etag_mismatch"
    """Refused because the ticket changed since it was read: it did not land."""
    FAILED = "failed"
    """Refused by the server or never sent: it did not land."""
    UNKNOWN = "unknown"
    """No usable answer (timeout, reset, 5xx after sending): it may have landed."""

    @property
    def landed(self) -> bool | None:
        """True: landed; False: did not; None: may have."""
        if self in (Status.UPDATED, Status.CREATED):
            return True
        if self is Status.UNKNOWN:
            return None
        return False


def target_of(base_url: str | None, tenant_id: str | None, realm: str | None) -> Target:
    """The target as journals and saved plans record it (missing settings as "")."""
    return Target(base_url or "", tenant_id or "", realm or "")


class Journal:
    """An append-only JSON-lines file shared by the worker threads of one run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._run: str | None = None
        self._seq = 0
        try:
            torn = _torn(self.path)
            self._file: TextIO = self.path.open("a", encoding="utf-8")
            if torn:  # a run killed mid-line left a torn last line: start on a line of our own
                self._file.write("\n")
        except OSError as error:
            raise PlanError(f"{path}: cannot write the journal: {error.strerror}") from None

    def begin_run(self, target: Target) -> None:
        """Write the run line (once per run): the target every later intent writes to."""
        with self._lock:
            if self._run is not None:
                return
            self._run = uuid.uuid4().hex
        self._append(
            {
                "kind": Kind.RUN.value,
                "run": self._run,
                "target": {
                    "base_url": target.base_url,
                    "tenant_id": target.tenant_id,
                    "realm": target.realm,
                },
            },
            durable=True,
        )

    def intent(self, change: TicketChange, etag: str | None, *, key: str | None = None) -> int:
        """Record, durably, that ``change`` is about to be sent with ``etag``; return its
        ``seq`` for :meth:`outcome`. Returns only once the line is fsynced.

        The action is the change's (``update`` or ``create``). A create has no ticket ID
        nor etag yet: ``key`` is its manifest key, ``etag`` None, and its outcome
        (:attr:`Status.CREATED`) names the new ticket and its etag.
        """
        action = Action(str(change.action))
        before = {f.field_id: _stored(f, f.before) for f in change.fields}
        after = {f.field_id: _stored(f, f.after) for f in change.fields}
        with self._lock:
            if self._run is None:
                raise RuntimeError("Journal.begin_run must be called before the first intent")
            self._seq += 1
            seq = self._seq
        self._append(
            {
                "kind": Kind.INTENT.value,
                "run": self._run,
                "seq": seq,
                "action": action.value,
                "ticket": None if action is Action.CREATE else change.id,
                "key": key,
                "etag_before": etag,
                "fields": {f.field_id: f.name for f in change.fields},
                "sensitive": sorted(f.field_id for f in change.fields if f.sensitive),
                "protected": sorted(f.field_id for f in change.fields if f.protected),
                "patch": _patch(change.fields, before, after),
                "inverse": _patch(change.fields, after, before),
            },
            durable=True,
        )
        return seq

    def outcome(
        self,
        seq: int,
        ticket: str,
        status: Status,
        etag_after: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record how the write of intent ``seq`` ended (flushed; an outcome lost with
        the machine leaves an intent without outcome, which reads as "may have landed")."""
        if self._run is None:
            raise RuntimeError("Journal.begin_run must be called before the first outcome")
        self._append(
            {
                "kind": Kind.OUTCOME.value,
                "run": self._run,
                "seq": seq,
                "ticket": ticket,
                "status": status.value,
                "etag_after": etag_after,
                "message": message,
            },
            durable=False,
        )

    def _append(self, entry: dict[str, Any], *, durable: bool) -> None:
        entry = {
            "journal_version": JOURNAL_VERSION,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **entry,
        }
        line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            descriptor = self._file.fileno()
        if durable:
            # Outside the lock: concurrent writers' fsyncs overlap instead of queueing.
            os.fsync(descriptor)

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


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FieldWrite:
    """One field of an intent: its value before and the value the write sets."""

    field_id: str
    name: str
    before: Any
    after: Any
    sensitive: bool
    protected: bool


@dataclass(frozen=True)
class WriteRecord:
    """An intent and the outcome that answered it (``status`` None: no outcome came)."""

    where: str
    """``path:line`` of the intent."""
    run: str
    seq: int
    action: Action
    ticket: str | None
    key: str | None
    etag_before: str | None
    fields: tuple[FieldWrite, ...]
    status: Status | None = None
    etag_after: str | None = None
    message: str | None = None

    @property
    def landed(self) -> bool | None:
        """True: landed; False: did not; None: may have (no outcome, or ``unknown``)."""
        return None if self.status is None else self.status.landed


@dataclass(frozen=True)
class RunRecord:
    """A run line: where the run wrote."""

    where: str
    run: str
    target: Target


@dataclass(frozen=True)
class JournalFile:
    """A journal as read: its runs and its writes, in the order they were sent."""

    path: str
    runs: tuple[RunRecord, ...]
    writes: tuple[WriteRecord, ...]

    def foreign_runs(self, target: Target) -> list[RunRecord]:
        """The runs made against another target than ``target``."""
        return [r for r in self.runs if r.target != target]


def read_journal(path: str | Path) -> JournalFile:
    """Read and check a journal file; any damage is a :class:`PlanError` naming ``path:line``."""
    runs: dict[str, RunRecord] = {}
    writes: dict[tuple[str, int], WriteRecord] = {}
    for where, entry in _lines(path):
        line = _Line(where, entry)
        version = entry.get("journal_version")
        if version != JOURNAL_VERSION:
            raise PlanError(
                f"{where}: journal version {version!r}, expected {JOURNAL_VERSION}"
                + (
                    " (version 1 journals record no target and cannot be undone safely)"
                    if version == 1
                    else ""
                )
            )
        kind = line.choice("kind", Kind)
        run = line.string("run")
        if kind is Kind.RUN:
            target = _Line(where, line.mapping("target"))
            parts = (target.string(k, empty=True) for k in ("base_url", "tenant_id", "realm"))
            runs[run] = RunRecord(where, run, Target(*parts))
            continue
        if run not in runs:
            raise PlanError(f"{where}: a journal record of run {run} without its run line")
        seq = line.integer("seq")
        if kind is Kind.INTENT:
            if (run, seq) in writes:
                raise PlanError(f"{where}: a second intent {seq} of run {run}")
            writes[(run, seq)] = _intent(line, run, seq)
            continue
        write = writes.get((run, seq))
        if write is None:
            raise PlanError(f"{where}: an outcome of intent {seq}, which the journal lacks")
        status = line.choice("status", Status)
        if write.status is not None and _rank(status) <= _rank(write.status):
            continue  # only a landing resolves an unknown outcome, nothing undoes a landing
        writes[(run, seq)] = replace(
            write,
            status=status,
            ticket=write.ticket or line.optional_string("ticket"),
            etag_after=line.optional_string("etag_after"),
            message=line.optional_string("message"),
        )
    return JournalFile(str(path), tuple(runs.values()), tuple(writes.values()))


def _rank(status: Status) -> int:
    """Did not land < may have landed < landed."""
    return {False: 0, None: 1, True: 2}[status.landed]


def _intent(line: _Line, run: str, seq: int) -> WriteRecord:
    action = line.choice("action", Action)
    names = line.mapping("fields")
    sensitive = set(line.strings("sensitive"))
    protected = set(line.strings("protected"))
    after = _values(line, "patch")
    before = _values(line, "inverse")
    fields = []
    for field_id, name in names.items():
        if field_id not in after or field_id not in before:
            raise PlanError(f"{line.where}: field {name!r} is missing from 'patch' or 'inverse'")
        fields.append(
            FieldWrite(
                field_id=field_id,
                name=str(name),
                before=before[field_id],
                after=after[field_id],
                sensitive=field_id in sensitive,
                protected=field_id in protected,
            )
        )
    ticket = line.optional_string("ticket")
    if action is Action.UPDATE and ticket is None:
        raise PlanError(f"{line.where}: an update intent without 'ticket'")
    return WriteRecord(
        where=line.where,
        run=run,
        seq=seq,
        action=action,
        ticket=ticket,
        key=line.optional_string("key"),
        etag_before=line.optional_string("etag_before"),
        fields=tuple(fields),
    )


def _values(line: _Line, key: str) -> dict[str, Any]:
    """Field UUID to value, from a journal patch of whole-field ``replace`` operations."""
    raw = line.entry.get(key)
    try:
        if not isinstance(raw, list):
            raise TypeError(raw)
        operations = jsonpatch.JsonPatch(raw).patch  # checks every operation's shape
    except (jsonpatch.JsonPatchException, JsonPointerException, TypeError, KeyError):
        raise PlanError(f"{line.where}: {key!r} is not a JSON Patch") from None
    values: dict[str, Any] = {}
    for op in operations:
        if op["op"] == "test":
            continue
        parts = JsonPointer(op["path"]).parts
        whole_field = len(parts) == 2 and parts[0] == "data" and "value" in op
        if op["op"] not in ("replace", "add") or not whole_field:
            raise PlanError(
                f"{line.where}: {key!r} holds {op['op']} {op['path']}, "
                "not a whole-field replace; this journal cannot be undone"
            )
        values[parts[1]] = op.get("value")
    return values


class _Line:
    """Typed access to one journal line's keys; a wrong shape is a ``path:line`` error."""

    def __init__(self, where: str, entry: dict[str, Any]):
        self.where = where
        self.entry = entry

    def _fail(self, key: str, expected: str) -> PlanError:
        return PlanError(f"{self.where}: {key!r} must be {expected}")

    def string(self, key: str, *, empty: bool = False) -> str:
        value = self.entry.get(key)
        if not isinstance(value, str) or not (value or empty):
            raise self._fail(key, "a string" if empty else "a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string or null")
        return value

    def integer(self, key: str) -> int:
        value = self.entry.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, "an integer")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.entry.get(key)
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        return value

    def choice(self, key: str, kind: type[Any]) -> Any:
        value = self.entry.get(key)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self._fail(key, f"one of {allowed}, not {value!r}") from None


def _lines(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every non-blank line of a journal file as a JSON object, with its ``path:line``."""
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    entry = json.loads(text)
                except json.JSONDecodeError as error:
                    if not text.endswith("\n"):
                        # The last line, cut short by a crash: an intent that never got to
                        # disk whole was never sent (it is fsynced before), and a torn
                        # outcome leaves its intent "may have landed". Safe to skip.
                        return
                    raise PlanError(f"{where}: not a journal line: {error.msg}") from None
                except RecursionError:
                    entry = None
                if entry is None or _too_deep(entry):
                    raise PlanError(
                        f"{where}: not a journal line: nested deeper than {MAX_DEPTH} levels"
                    )
                if not isinstance(entry, dict):
                    raise PlanError(f"{where}: not a journal line: not a JSON object")
                yield where, entry
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{path}: cannot read the journal: {error}") from None


def _torn(path: Path) -> bool:
    """True when the file exists and its last line has no newline (a write cut short)."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _too_deep(value: Any) -> bool:
    """True when ``value`` nests deeper than :data:`MAX_DEPTH` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _patch(
    fields: tuple[FieldChange, ...], old: dict[str, Any], new: dict[str, Any]
) -> list[dict[str, Any]]:
    """RFC 6902 operations that check each field's old value and replace it whole.

    Whole-value operations (not jsonpatch's element-wise diff of lists) keep each
    field's values readable on their own, which ``reconcile undo`` relies on; the
    ``test`` operations make the patch refuse to apply over a value that moved.
    """
    operations: list[dict[str, Any]] = []
    for f in fields:
        path = JsonPointer.from_parts(["data", f.field_id]).path
        operations.append({"op": "test", "path": path, "value": old[f.field_id]})
        operations.append({"op": "replace", "path": path, "value": new[f.field_id]})
    return operations


def _stored(change: FieldChange, value: Any) -> Any:
    """A value as the journal keeps it: sensitive ones as digests (a saved plan's already are)."""
    if isinstance(value, Digest):
        return value.to_data()
    return Digest.of(value).to_data() if change.sensitive else value
