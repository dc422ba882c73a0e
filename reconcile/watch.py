"""``reconcile watch``: compare git with the live tickets on an interval, report, and heal.

One :class:`Watcher` runs cycles through the library (:class:`~reconcile.manager.Manager`):
each re-reads the manifests from disk (a git-sync sidecar or a ``git pull`` updates
them), reads the schema and the live tickets, and plans. Without ``self_heal`` it only
reports; with it, it applies the plan under apply's safety checks. A plan refused by a
safety check is remembered by a fingerprint of what it was made from (the declared
values and the live etags) and not tried again until one of them changes.

A failed cycle (manifests, API, a ticket that could not be read, a failed write) is
followed by the next one after an exponential backoff capped at the interval; every
delay gets ±10 % jitter so a fleet of watchers does not hit the API in step.

Each drifted (ticket, field, live value) is notified once; the set of notified drifts
lives in ``state_dir/notified.json`` (values as salted digests), so a restart does not
notify again, and a drift that is gone is notified as ``resolved``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.apply import ApplyReport, Outcome
from reconcile.client import TicketingClient, connect
from reconcile.config import Settings
from reconcile.errors import ConfigError, ExitStatus, ReconcileError, UnsafePlan
from reconcile.journal import Journal
from reconcile.lock import find_lock
from reconcile.manager import Manager, Shard
from reconcile.manifest import DesiredTicket
from reconcile.manifest.resolve import KeyFieldSetting
from reconcile.metrics import WRITE_RESULTS, WatchMetrics
from reconcile.notify import Notification, Notifier
from reconcile.plan import SENSITIVE, Digest, Plan, Target, TicketChange, canonical_json
from reconcile.redact import SECRETS, RedactingFilter

if TYPE_CHECKING:
    from reconcile.endpoints import EndpointServer

log = logging.getLogger("reconcile.watch")
log.addFilter(RedactingFilter())

JITTER = 0.1
"""Every delay is multiplied by a factor drawn uniformly from [1 - JITTER, 1 + JITTER]."""

FIRST_BACKOFF = 5.0
"""Seconds before the cycle after a first failure; doubled per failure, capped at the interval."""

STATE_FILE = "notified.json"
STATE_VERSION = 1
LISTED_IN_TEXT = 10
"""At most this many tickets are named in a notification's ``text`` (all are in ``tickets``)."""


@dataclass(frozen=True)
class WatchOptions:
    """What a watcher compares and whether it writes; the safety options are apply's."""

    paths: tuple[str, ...]
    interval: float = 300.0
    self_heal: bool = False
    max_changes: int | None = None
    max_change_ratio: float | None = None
    allow_protected: bool = False
    targets: tuple[str, ...] = ()
    shard: Shard | None = None
    state_dir: Path | None = None


@dataclass(frozen=True)
class DriftKey:
    """One drifted field as notified: the live value only as a salted digest."""

    ticket: str
    field_id: str
    name: str
    live: str


@dataclass
class CycleReport:
    """The outcome of one cycle, as ``/status`` shows it (masked, secret-free)."""

    started_at: float
    duration: float
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    drifted: list[dict[str, Any]] = field(default_factory=list)
    to_create: list[dict[str, str | None]] = field(default_factory=list)
    """Declared tickets no live ticket holds the key of: left to ``reconcile apply``."""
    errors: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    refused: str | None = None
    writes: dict[str, int] = field(default_factory=dict)
    plan: Plan | None = None
    """The cycle's plan (the drift it found, before any self-heal); None when it failed."""

    @property
    def exit_status(self) -> ExitStatus:
        """drift's exit status for ``--once``: 1 on error, 2 while drift remains, else 0."""
        if not self.ok:
            return ExitStatus.ERROR
        return ExitStatus.CHANGES if self.counts.get("drifted") else ExitStatus.OK

    def to_data(self) -> dict[str, Any]:
        return {
            "time": _iso(self.started_at),
            "duration_seconds": round(self.duration, 3),
            "result": "ok" if self.ok else "error",
            "counts": self.counts,
            "drifted": self.drifted,
            "to_create": self.to_create,
            "errors": self.errors,
            "error": self.error,
            "self_heal_refused": self.refused,
            "writes": self.writes,
        }


class Watcher:
    """Runs reconcile cycles against one tenant until ``stop`` is set.

    ``client`` stays open for the watcher's life (its token source refreshes itself);
    a new :class:`Manager` per cycle reads the schema afresh.
    """

    def __init__(
        self,
        client: TicketingClient,
        options: WatchOptions,
        *,
        parallelism: int = 10,
        target: Target | None = None,
        lock_file: Path | None = None,
        key_field: KeyFieldSetting = None,
        notifier: Notifier | None = None,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ):
        self.client = client
        self.options = options
        self.parallelism = parallelism
        self.target = target
        self.lock_file = lock_file
        self.key_field = key_field
        self.notifier = notifier or Notifier(())
        self.journal = journal
        self.stop = stop or threading.Event()
        self.metrics = WatchMetrics()
        client.transport.observers.append(self.metrics.count_request)
        self.alive = False
        self.cycles = 0
        self.last: CycleReport | None = None
        self.last_success: float | None = None
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._failures = 0
        self._last_plan: tuple[Plan, datetime] | None = None
        self._last_error: dict[str, str] | None = None
        self._refused: tuple[str, str] | None = None
        self._notified_error: str | None = None
        self._state = NotifiedState.load(options.state_dir)

    @property
    def ready(self) -> bool:
        """True once a first cycle has completed (with or without error)."""
        return self.last is not None

    def run(self, *, once: bool = False) -> CycleReport | None:
        """Run cycles until ``stop`` is set (or one, with ``once``); the last report."""
        self.alive = True
        try:
            while not self.stop.is_set():
                report = self.run_cycle()
                if once:
                    return report
                self.stop.wait(self.next_delay())
            return self.last
        finally:
            self.alive = False

    def next_delay(self) -> float:
        """The interval after a good cycle, a capped exponential backoff after failures."""
        delay = self.options.interval
        if self._failures:
            delay = min(delay, FIRST_BACKOFF * 2 ** (self._failures - 1))
        return delay * self._rng.uniform(1 - JITTER, 1 + JITTER)

    def drift_report(self) -> tuple[Plan, datetime] | None:
        """The plan of the last cycle that made one, and when that cycle started."""
        with self._lock:
            return self._last_plan

    def status(self) -> dict[str, Any]:
        """What ``/status`` serves: the last cycle and the watcher's own state."""
        with self._lock:
            last = self.last.to_data() if self.last else None
            return {
                "ready": self.ready,
                "cycles": self.cycles,
                "interval_seconds": self.options.interval,
                "self_heal": self.options.self_heal,
                "last_success": _iso(self.last_success) if self.last_success else None,
                "consecutive_failures": self._failures,
                "last_error": self._last_error,
                "notifications": {
                    "delivered": self.notifier.delivered,
                    "failed": self.notifier.failed,
                },
                "last_cycle": last,
            }

    def run_cycle(self) -> CycleReport:
        """One cycle: load, read, plan, maybe heal, notify, record. Never raises."""
        started, clock = time.time(), time.perf_counter()
        try:
            with self.metrics.cycle_duration.time():
                report = self._cycle(started, clock)
        except Exception as error:  # a controller outlives a bad cycle, whatever went wrong
            message = SECRETS.scrub(str(error)) or error.__class__.__name__
            if not isinstance(error, (ReconcileError, OSError)):
                message = f"unexpected {error.__class__.__name__}: {message}"
            report = CycleReport(started, time.perf_counter() - clock, ok=False, error=message)
            log.error("cycle failed: %s", message)
            self._notify_error(message)
        self._record(report)
        return report

    def _cycle(self, started: float, clock: float) -> CycleReport:
        manager = Manager(
            self.client,
            parallelism=self.parallelism,
            target=self.target,
            lock_file=self.lock_file,
            key_field=self.key_field,
        )
        # As plan reads: the list pages are asked for while the manifests are read.
        run = manager.plan_paths(
            self.options.paths, only=self.options.targets, shard=self.options.shard
        )
        desired, plan = run.desired, run.plan
        healed, writes, refused, write_failures = self._heal(manager, plan, desired)
        remaining = [c for c in plan.updates if c.id not in healed]
        counts = {
            "in_sync": len(plan.unchanged) + len(healed),
            "drifted": len(remaining) + len(plan.creates),
            "error": len(plan.errors),
        }
        errors = [{"id": c.id, "error": SECRETS.scrub(c.error or "")} for c in plan.errors]
        ok = not plan.errors and not write_failures
        message = None
        if plan.errors:
            message = f"{len(plan.errors)} ticket(s) could not be planned"
        elif write_failures:
            message = f"{write_failures} self-heal write(s) failed"
        self._notify_drift(plan, healed)
        if message:
            self._notify_error(message, plan.errors)
        else:
            self._notified_error = None
        log.info(
            "cycle done: %d in sync, %d drifted, %d error(s)%s",
            counts["in_sync"],
            counts["drifted"],
            counts["error"],
            f", {len(healed)} healed" if self.options.self_heal else "",
        )
        return CycleReport(
            started,
            time.perf_counter() - clock,
            ok=ok,
            counts=counts,
            drifted=[_drifted(c) for c in remaining],
            to_create=[{"name": c.name, "location": c.location} for c in plan.creates],
            errors=errors,
            error=message,
            refused=refused,
            writes=writes,
            plan=plan,
        )

    def _heal(
        self, manager: Manager, plan: Plan, desired: Sequence[DesiredTicket]
    ) -> tuple[set[str], dict[str, int], str | None, int]:
        """Apply the plan when self-healing; (healed IDs, writes, refusal, failed writes)."""
        if plan.creates:
            # Creating is apply's job: it holds the working tree's lock and writes the new
            # ids back into the manifests, which a watcher on a git-sync checkout cannot.
            plan = replace(plan, creates=())
        if not self.options.self_heal or not plan.has_changes:
            self._refused = None
            return set(), {}, None, 0
        if self.stop.is_set():
            return set(), {}, None, 0
        if plan.errors:
            log.warning("not self-healing: %d ticket(s) could not be planned", len(plan.errors))
            return set(), {}, None, 0
        fingerprint = _fingerprint(desired, plan)
        if self._refused and self._refused[0] == fingerprint:
            return set(), {}, self._refused[1], 0
        try:
            report = manager.apply(
                plan,
                desired,
                max_changes=self.options.max_changes,
                max_change_ratio=self.options.max_change_ratio,
                allow_protected=self.options.allow_protected,
                journal=self.journal,
                stop=self.stop,
            )
        except UnsafePlan as error:  # Manager.apply runs every check of apply, before writing
            message = str(error)
            self._refused = (fingerprint, message)
            log.warning("self-heal refused: %s", message)
            self.notifier.send(
                Notification("error", f"reconcile watch: self-heal refused: {message}")
            )
            return set(), {}, message, 0
        self._refused = None
        return self._count_writes(report)

    def _count_writes(self, report: ApplyReport) -> tuple[set[str], dict[str, int], None, int]:
        """Count the writes; the tickets in sync after them (written, or found in sync)."""
        writes = dict.fromkeys(WRITE_RESULTS, 0)
        in_sync: set[str] = set()
        for outcome in report.outcomes:
            if outcome.status in writes and outcome.status != "failed":
                writes[outcome.status] += 1
                in_sync.add(outcome.id)
            elif outcome.status == Outcome.UNCHANGED:
                in_sync.add(outcome.id)
            elif outcome.status == Outcome.SKIPPED and self.stop.is_set():
                continue  # not written because of the signal: still drifted, not a failure
            else:
                writes["failed"] += 1
                log.warning("self-heal %s: %s: %s", outcome.id, outcome.status, outcome.message)
        for result, count in writes.items():
            self.metrics.writes.labels(result=result).inc(count)
        return in_sync, writes, None, writes["failed"]

    def _notify_drift(self, plan: Plan, healed: set[str]) -> None:
        """Send ``drift`` for drifts not notified yet and ``resolved`` for those gone."""
        salt = self._state.salt
        seen = {key: change for change in plan.updates for key in _keys(change, salt)}
        remaining = {k for k, c in seen.items() if c.id not in healed}
        pairs = {(k.ticket, k.field_id) for k in remaining}
        unknown = {c.id for c in plan.errors}  # could not be read: neither drifted nor resolved
        notified = self._state.keys
        new = [k for k in seen if k not in notified]
        gone = [
            k
            for k in notified
            if k not in remaining
            and k.ticket not in unknown
            and (k.ticket, k.field_id) not in pairs
        ]
        if new:
            changes = {seen[k].id: seen[k] for k in new}
            fields = _group(new)
            self.notifier.send(_drift_notification(changes, fields, healed))
        if gone:
            self.notifier.send(_resolved_notification(_group(gone)))
        kept = {k for k in notified if k in remaining or k.ticket in unknown}
        self._state.replace(kept | (set(new) & remaining))

    def _notify_error(self, message: str, failed: Sequence[TicketChange] = ()) -> None:
        """An ``error`` notification, once per distinct error until a cycle succeeds."""
        if message == self._notified_error:
            return
        self._notified_error = message
        tickets = tuple({"id": c.id, "error": SECRETS.scrub(c.error or "")} for c in failed)
        self.notifier.send(Notification("error", f"reconcile watch: {message}", tickets))

    def _record(self, report: CycleReport) -> None:
        self.metrics.cycles.labels(result="ok" if report.ok else "error").inc()
        self.metrics.self_heal_refused.set(1 if self._refused else 0)
        if report.counts:
            self.metrics.set_tickets(report.counts)
        with self._lock:
            self.cycles += 1
            self.last = report
            if report.plan is not None:
                started = datetime.fromtimestamp(report.started_at, timezone.utc)
                self._last_plan = (report.plan, started)
            if report.ok:
                self._failures = 0
                self.last_success = report.started_at + report.duration
                self.metrics.last_success.set(self.last_success)
            else:
                self._failures += 1
            if report.error:
                self._last_error = {"time": _iso(report.started_at), "message": report.error}


@contextlib.contextmanager
def open_watcher(
    settings: Settings,
    options: WatchOptions,
    *,
    journal: str | Path | None = None,
    listen: tuple[str, int] | None = None,
    stop: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[Watcher, EndpointServer | None]]:
    """A watcher for ``settings`` with everything it lives with, closed when the block ends:
    the journal (opened first: a file it cannot write is an error before any request),
    the client (writing only with ``self_heal``), the notifier of ``notify_urls`` and,
    with ``listen`` (host, port), the endpoint server, already serving."""
    from reconcile.endpoints import EndpointServer  # it imports this module

    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(Journal(journal)) if journal is not None else None
        client = stack.enter_context(connect(settings, write=options.self_heal, env=env))
        notifier = Notifier(settings.notify_urls)
        stack.callback(notifier.close)
        watcher = Watcher(
            client,
            options,
            parallelism=settings.parallelism,
            lock_file=find_lock(settings.config_path),
            key_field=settings.key_field,
            notifier=notifier,
            journal=opened,
            stop=stop,
        )
        server = None
        if listen is not None:
            host, port = listen
            try:
                server = EndpointServer(watcher, host, port).start()
            except OSError as error:
                raise ConfigError(
                    f"--listen {host}:{port}: cannot listen: {error.strerror}"
                ) from None
            stack.callback(server.stop)
        yield watcher, server


class NotifiedState:
    """The drifts already notified, kept in ``state_dir/notified.json`` when there is one.

    Values are stored as digests salted by the file's own salt; the file is replaced
    atomically, so a crash leaves the old or the new state, never half of one.
    """

    def __init__(self, path: Path | None, salt: str, keys: set[DriftKey]):
        self.path = path
        self.salt = salt
        self.keys = keys

    @classmethod
    def load(cls, state_dir: Path | None) -> NotifiedState:
        if state_dir is None:
            return cls(None, secrets.token_hex(16), set())
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            keys = {
                DriftKey(d["ticket"], d["field_id"], d["name"], d["live"]) for d in data["drift"]
            }
            return cls(path, str(data["salt"]), keys)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("%s: unreadable notification state (%s); starting afresh", path, error)
        state = cls(path, secrets.token_hex(16), set())
        state.save()
        return state

    def replace(self, keys: set[DriftKey]) -> None:
        if keys != self.keys:
            self.keys = keys
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "state_version": STATE_VERSION,
            "salt": self.salt,
            "drift": [
                {"ticket": k.ticket, "field_id": k.field_id, "name": k.name, "live": k.live}
                for k in sorted(self.keys, key=lambda k: (k.ticket, k.field_id, k.live))
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _atomic(self.path) as out:
            json.dump(data, out, indent=2, sort_keys=True)


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Any]:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _keys(change: TicketChange, salt: str) -> list[DriftKey]:
    return [
        DriftKey(change.id, f.field_id, f.name, Digest.of(f.before, salt).digest)
        for f in change.fields
    ]


def _group(keys: Sequence[DriftKey]) -> dict[str, list[str]]:
    """Ticket ID → the names of its fields among ``keys``, both sorted."""
    grouped: dict[str, set[str]] = {}
    for key in keys:
        grouped.setdefault(key.ticket, set()).add(key.name)
    return {ticket: sorted(grouped[ticket]) for ticket in sorted(grouped)}


def _drift_notification(
    changes: dict[str, TicketChange], fields: dict[str, list[str]], healed: set[str]
) -> Notification:
    tickets = []
    parts = []
    for ticket, names in fields.items():
        change = changes[ticket]
        entry = _drifted(change, only=set(names))
        entry["self_healed"] = ticket in healed
        tickets.append(entry)
        by = f" by {change.last_updated_by}" if change.last_updated_by else ""
        reverted = ", reverted" if ticket in healed else ""
        parts.append(f"{ticket} ({', '.join(names)}){by}{reverted}")
    more = len(parts) - LISTED_IN_TEXT
    listed = "; ".join(parts[:LISTED_IN_TEXT]) + (f"; and {more} more" if more > 0 else "")
    text = f"Drift: {len(tickets)} ticket(s) changed outside git: {listed}"
    return Notification("drift", text, tuple(tickets))


def _resolved_notification(fields: dict[str, list[str]]) -> Notification:
    tickets = tuple(
        {"id": t, "fields": [{"name": n} for n in names]} for t, names in fields.items()
    )
    parts = [f"{t} ({', '.join(names)})" for t, names in fields.items()]
    more = len(parts) - LISTED_IN_TEXT
    listed = "; ".join(parts[:LISTED_IN_TEXT]) + (f"; and {more} more" if more > 0 else "")
    return Notification("resolved", f"Resolved: back in sync with git: {listed}", tickets)


def _drifted(change: TicketChange, only: set[str] | None = None) -> dict[str, Any]:
    """A drifted ticket as ``/status`` and notifications show it; sensitive values masked."""
    return {
        "id": change.id,
        "fields": [
            {
                "name": f.name,
                "field_id": f.field_id,
                "live": SENSITIVE if f.sensitive else f.before,
                "declared": SENSITIVE if f.sensitive else f.after,
                "sensitive": f.sensitive,
                "protected": f.protected,
            }
            for f in change.fields
            if only is None or f.name in only
        ],
        "last_updated_by": change.last_updated_by,
        "last_updated_at": change.last_updated_at,
    }


def _fingerprint(desired: Sequence[DesiredTicket], plan: Plan) -> str:
    """What a refused plan was made from: declared values and protections, live etags."""
    declared = [
        [d.id, d.values, sorted(d.sensitive), sorted(d.protected)]
        for d in sorted(desired, key=lambda d: d.name)
    ]
    etags = [[c.id, c.etag] for c in plan.changes]
    text = canonical_json({"declared": declared, "etags": etags})
    return hashlib.sha256(text.encode()).hexdigest()


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
