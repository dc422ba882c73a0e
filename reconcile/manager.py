"""Orchestration: plan, apply and drift as library calls.

The CLI is a thin layer over this module; everything here is usable from Python:

    with Manager.open(settings, write=True, journal="apply.journal") as manager:
        report = manager.apply_paths(["manifests/"], max_changes=50)
        # or, to look at the plan before writing it:
        with manager.planning(["manifests/"], for_apply=True) as run:
            print(run.plan.summary)
            report = run.apply(max_changes=50)
        # or, for a reviewed plan saved by `reconcile plan --out plan.json`:
        report = manager.apply_saved("plan.json")

Reads happen in :meth:`Manager.read_live` and writes only in :mod:`reconcile.apply`.
Every safety check runs here, whoever calls: :meth:`Manager.apply` refuses a plan with
errors, above ``max_changes`` or changing protected fields (unless allowed), before
anything is written; :meth:`Manager.apply_saved` also refuses a saved plan made for
another target. An apply that may create tickets holds the working tree's apply lock
(:mod:`reconcile.apply_lock`) from before the keys are looked up until the ids of the
created tickets are written back into the manifests (:mod:`reconcile.writeback`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import (
    Callable,
    Container,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import NoReturn, TypeVar

from reconcile.apply import ApplyReport, Outcome, TicketOutcome, apply_plan
from reconcile.apply_lock import apply_lock
from reconcile.client import TicketingClient, connect
from reconcile.config import Settings, manifest_paths
from reconcile.diff import diff_read, make_plan, plan_create, plan_of
from reconcile.errors import (
    ApiError,
    ListUnsupported,
    ManifestError,
    PlanError,
    Problem,
    ReconcileError,
    UnsafePlan,
)
from reconcile.fanout import Background, in_threads
from reconcile.journal import Journal
from reconcile.keys import KeyMatch, holders, match_keys, needs_lookup
from reconcile.listing import Pages, no_tick, read_everything, read_pages
from reconcile.lock import find_lock, read_lock, schema_drift
from reconcile.manifest import (
    DeclaredPolicy,
    DeclaredTicket,
    DesiredTicket,
    Manifests,
    Policy,
    resolve_policies,
)
from reconcile.manifest.parse import read_manifest_files
from reconcile.manifest.resolve import KeyFieldSetting, Resolver
from reconcile.plan import (
    Action,
    Plan,
    RequestBudget,
    Target,
    TicketChange,
    TicketCreate,
    ticket_sort_key,
)
from reconcile.policy import expand, summarize
from reconcile.saved_plan import SavedPlan, prepare, read_saved_plan
from reconcile.schema import Schema
from reconcile.ticket import LiveTicket

LIST_MIN_TICKETS = 50
"""Below this many declared tickets, one GET each is cheap enough: never list."""

LIST_MAX_PAGES_PER_TICKET = 0.5
"""List only when the pages needed are at most half the GETs they replace."""

Progress = Callable[[int], None]
Approve = Callable[[Plan], None]
"""Called with a plan that passed every check, just before writing; raises to stop it."""
LockWait = Callable[[Path], None]
"""Called once when another apply in the same working tree holds the apply lock."""


@dataclass(frozen=True)
class Shard:
    """A stable hash partition of the declared tickets: shard ``index`` of ``count`` (1-based)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``I/N`` with 1 <= I <= N."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"shard must be I/N, got {text!r}") from None
        if not 1 <= index <= count:
            raise ValueError(f"shard must be I/N with 1 <= I <= N, got {text!r}")
        return cls(index, count)

    def contains(self, display_id: str) -> bool:
        """True when the ticket belongs to this shard; depends on the display ID alone."""
        digest = hashlib.sha256(display_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


@dataclass(frozen=True)
class PlanRun:
    """A plan made from manifests, with what it was made from: what an apply goes on with."""

    manager: Manager
    sources: list[str]
    """The manifest paths planned (the ids of created tickets are written back there)."""
    desired: list[DesiredTicket]
    plan: Plan

    def apply(
        self,
        *,
        max_changes: int | None = None,
        max_change_ratio: float | None = None,
        allow_protected: bool = False,
        approve: Approve | None = None,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        write_back: bool = True,
    ) -> ApplyReport:
        """:meth:`Manager.apply` of this plan; created ids go back into :attr:`sources`."""
        return self.manager.apply(
            self.plan,
            self.desired,
            max_changes=max_changes,
            max_change_ratio=max_change_ratio,
            allow_protected=allow_protected,
            approve=approve,
            journal=journal,
            stop=stop,
            write_back=self.sources if write_back else None,
        )


class Manager:
    """Runs the phases of a reconcile run against one tenant through one client."""

    def __init__(
        self,
        client: TicketingClient,
        *,
        parallelism: int = 10,
        target: Target | None = None,
        progress: Callable[[int, str], Progress] | None = None,
        lock_file: Path | None = None,
        key_field: KeyFieldSetting = None,
        journal: Journal | None = None,
    ):
        self.client = client
        self.journal = journal
        """The journal :meth:`apply` writes to when its call names none."""
        self.key_field = key_field
        self.parallelism = parallelism
        settings = client.settings
        self.target = target or Target(
            settings.base_url or "", settings.tenant_id or "", settings.realm or ""
        )
        self.lock_file = lock_file
        self._progress = progress
        self._schema: Schema | None = None
        self._schema_drift: list[str] | None = None
        self.policies: list[Policy] = []
        """The policies of the manifests :meth:`load` read; :meth:`plan` applies them."""
        self._scope: tuple[list[str], Shard | None] = ([], None)
        self._matched: dict[str, DesiredTicket] = {}
        self._pages_ahead: Pages | None = None

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        settings: Settings,
        *,
        write: bool,
        env: Mapping[str, str] | None = None,
        journal: str | Path | None = None,
        progress: Callable[[int, str], Progress] | None = None,
    ) -> Iterator[Manager]:
        """A manager over a ready client for ``settings``, closed when the block ends.

        ``journal`` (a path) is opened first, so a file it cannot write is an error
        before any request; then :func:`reconcile.client.connect` gets a token and
        preflights it (``write``: the token must be allowed to update tickets). ``env``
        holds the variables secrets are read from (default ``os.environ``).
        """
        with contextlib.ExitStack() as stack:
            opened = stack.enter_context(Journal(journal)) if journal is not None else None
            client = stack.enter_context(connect(settings, write=write, env=env))
            yield cls(
                client,
                parallelism=settings.parallelism,
                progress=progress,
                lock_file=find_lock(settings.config_path),
                key_field=settings.key_field,
                journal=opened,
            )

    @property
    def schema(self) -> Schema:
        """The tenant's ticket types, read once per run."""
        if self._schema is None:
            self._schema = self.client.get_schema()
        return self._schema

    @property
    def schema_drift(self) -> list[str]:
        """How the live schema moved away from the committed schema lock, if there is one."""
        if self._schema_drift is None:
            locked = read_lock(self.lock_file) if self.lock_file else None
            self._schema_drift = schema_drift(locked, self.schema) if locked else []
        return self._schema_drift

    def load(
        self,
        paths: Sequence[str | Path],
        *,
        only: Iterable[str] = (),
        shard: Shard | None = None,
    ) -> list[DesiredTicket]:
        """Read and resolve manifests; ``only`` limits to some ticket IDs (``--target``).

        A file at a time: its entries are resolved and let go before the next file is
        read, so a plan of a large tenant holds only the desired tickets. The schema is
        read once, when the first file has been read without a problem (a syntax error
        there costs no round trip). Policies are resolved too and kept in
        :attr:`policies`: the tickets they select are known only from live data, so
        ``only`` and ``shard`` apply to them in :meth:`plan`.
        """
        return self._load(paths, only=only, shard=shard)

    def _load(
        self,
        paths: Sequence[str | Path],
        *,
        only: Iterable[str] = (),
        shard: Shard | None = None,
        ahead: Pages | None = None,
    ) -> list[DesiredTicket]:
        """:meth:`load`; with ``ahead``, the list pages that reading the tickets loaded so
        far would start with are asked for after each file (see :meth:`planning`)."""
        only = list(only)
        self._scope = (only, shard)
        resolver: Resolver | None = None
        resolved: list[DesiredTicket] = []
        policies: list[DeclaredPolicy] = []
        declared: set[str | None] = set()
        with_ids = 0  # resolved tickets declared by id: those a plan reads
        files = self._with_resolver(paths)
        with contextlib.closing(files):
            for resolver, found in files:
                policies.extend(found.policies)
                if only:
                    declared.update(name for t in found.tickets for name in (t.id, t.key))
                selected = select_tickets(found.tickets, only=only, shard=shard, strict=False)
                tickets = resolver.tickets(selected)
                resolved.extend(tickets)
                with_ids += sum(d.id is not None for d in tickets)
                if ahead is not None and with_ids >= LIST_MIN_TICKETS:
                    ahead.ask_ahead(max_pages=_list_pages_for(with_ids))
        if not policies:
            check_targets(only, declared)
        problems = resolver.problems if resolver is not None else []
        try:
            self.policies = resolve_policies(policies, self.schema)
        except ManifestError as error:
            problems = error.problems + problems
        if problems:
            self._refuse(problems)
        return resolved

    def _with_resolver(
        self, paths: Sequence[str | Path]
    ) -> Generator[tuple[Resolver, Manifests], None, None]:
        """Each manifest file's entries, a file at a time, with the resolver of the
        tenant's schema.

        The schema is asked for once a file has been read without a problem (a syntax
        error in the first costs no round trip) and is on its way while the next files
        are parsed: those wait for it. A schema that cannot be read is the first
        problem met, before those of later files, as when it was read at once. A schema
        read already (an earlier load of this manager's) is not read again.
        """
        known = self._schema
        resolver = Resolver(known, self.key_field) if known is not None else None
        waiting: list[Manifests] = []
        schema: Future[Schema] | None = None
        with Background(1, self.client.abort) as background:
            try:
                for found in read_manifest_files(paths):
                    if resolver is not None:
                        yield resolver, found
                        continue
                    if schema is None:
                        schema = background.submit(lambda: self.schema)
                    waiting.append(found)
                    if schema.done():
                        resolver = Resolver(schema.result(), self.key_field)
                        yield from ((resolver, each) for each in waiting)
                        waiting.clear()
            except ManifestError:
                if schema is not None:
                    schema.result()
                raise
            if waiting:  # every file was read before the schema came
                assert schema is not None
                resolver = Resolver(schema.result(), self.key_field)
                yield from ((resolver, each) for each in waiting)

    def _refuse(self, problems: list[Problem]) -> NoReturn:
        """Raise the problems of resolution; with schema drift, say that first: a renamed
        or removed field fails resolution."""
        drift = [
            Problem(None, f"schema drift since {self.lock_file}: {m}") for m in self.schema_drift
        ]
        raise ManifestError(drift + problems)

    def manifest_paths(self, paths: Sequence[str | Path] = ()) -> list[str]:
        """``paths``, else the ``manifests`` setting, else ``manifests/``."""
        return manifest_paths([str(p) for p in paths], self.client.settings)

    @contextlib.contextmanager
    def planning(
        self,
        paths: Sequence[str | Path] = (),
        *,
        only: Iterable[str] = (),
        shard: Shard | None = None,
        writable: bool = True,
        for_apply: bool = False,
        on_lock_wait: LockWait | None = None,
    ) -> Iterator[PlanRun]:
        """Load the manifests in ``paths`` (:meth:`manifest_paths`) and plan them.

        ``for_apply``: when the plan may create tickets, the working tree's apply lock is
        held from before the keys are looked up until the block ends, so the
        :meth:`PlanRun.apply` inside it creates and writes the ids back before another
        apply in the same working tree plans. ``writable=False`` (drift, adopt): tickets
        the token may not update are not errors (see :meth:`plan`).

        The list pages the plan will read first are asked for while the manifests are
        still being read, once they declare enough tickets to list (:meth:`read_live`):
        the round trips overlap the parsing. The plan's first listing takes them.
        """
        sources = self.manifest_paths(paths)
        with contextlib.ExitStack() as held:
            with Pages(self.client, self.parallelism) as ahead:
                desired = self._load(sources, only=only, shard=shard, ahead=ahead)
                if for_apply and needs_lookup(desired):
                    # Keys are looked up under the lock, in pages read once it is held.
                    ahead.close()
                    held.enter_context(apply_lock(sources, on_wait=on_lock_wait))
                self._pages_ahead = ahead
                try:
                    plan = self.plan(desired, writable=writable)
                finally:
                    self._pages_ahead = None
            yield PlanRun(self, sources, desired, plan)

    def plan_paths(
        self,
        paths: Sequence[str | Path] = (),
        *,
        only: Iterable[str] = (),
        shard: Shard | None = None,
        writable: bool = True,
    ) -> PlanRun:
        """Load and plan the manifests in ``paths``, to look at (plan, drift, adopt)."""
        with self.planning(paths, only=only, shard=shard, writable=writable) as run:
            return run

    def apply_paths(
        self,
        paths: Sequence[str | Path] = (),
        *,
        only: Iterable[str] = (),
        shard: Shard | None = None,
        max_changes: int | None = None,
        max_change_ratio: float | None = None,
        allow_protected: bool = False,
        approve: Approve | None = None,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        write_back: bool = True,
        on_lock_wait: LockWait | None = None,
    ) -> ApplyReport:
        """Plan the manifests in ``paths`` and apply the plan: ``reconcile apply`` in one
        call, under the apply lock when it creates (see :meth:`planning` and :meth:`apply`)."""
        with self.planning(
            paths, only=only, shard=shard, for_apply=True, on_lock_wait=on_lock_wait
        ) as run:
            return run.apply(
                max_changes=max_changes,
                max_change_ratio=max_change_ratio,
                allow_protected=allow_protected,
                approve=approve,
                journal=journal,
                stop=stop,
                write_back=write_back,
            )

    def request_budget(self, plan: Plan) -> RequestBudget | None:
        """Under a rate limit, what applying ``plan`` takes: the reads planning made (apply
        makes them again), one write per ticket to update or create, and how long that
        lasts at least. None without a limit."""
        rate_limit = self.client.settings.rate_limit
        if not rate_limit:
            return None
        counts = self.client.request_counts()
        reads = counts["ticket_type"] + counts["get"] + counts["list"]
        return RequestBudget(reads, len(plan.updates) + len(plan.creates), rate_limit)

    def read_live(
        self, ids: Sequence[str], *, bulk: bool = True
    ) -> dict[str, LiveTicket | ApiError]:
        """Read the live tickets, by pages of the list endpoint or one GET each.

        The list endpoint is used when it needs far fewer requests than GETs
        (see ``LIST_*``); tickets it does not return are read one by one, and a
        server without a usable list endpoint falls back to GETs entirely.
        ``bulk=False`` reads one GET per ticket whatever the count (the benchmark
        measures that path).
        """
        return self.read_each(ids, _as_read, bulk=bulk)

    def read_each(
        self,
        ids: Sequence[str],
        take: Callable[[str, LiveTicket | ApiError], Kept],
        *,
        bulk: bool = True,
    ) -> dict[str, Kept]:
        """:meth:`read_live`, keeping of each read only what ``take(display ID, read)``
        makes of it, in this thread, as it arrives: a plan diffs each ticket at once
        instead of holding every live ticket of a large tenant."""
        kept: dict[str, Kept] = {}
        wanted = set(ids)
        if bulk and len(wanted) >= LIST_MIN_TICKETS:
            kept.update(self._read_by_list(wanted, take))
        missing = [i for i in ids if i not in kept]
        kept.update(self._read_by_get(missing, take))
        return kept

    def plan(self, desired: Sequence[DesiredTicket], *, writable: bool = True) -> Plan:
        """Diff the desired tickets against live ones; schema drift goes into the plan.

        Tickets declared by their key alone are looked up among the live tickets first
        (:func:`reconcile.keys.match_keys`): found, they are diffed like the others
        (and listed in ``found_by_key``); found nowhere, they are planned as creates,
        each checked against the token's teams. With ``writable`` (a plan to apply), a
        ticket the token may not update (a writer token's ticket of another team) is an
        error of the plan, as apply would be refused it; drift and adopt ask
        ``writable=False``: what differs is drift whoever may fix it.

        With policies, every live ticket is read through the list endpoint, the
        policies are applied to the tickets they select (under the explicit entries),
        and the plan says per policy how many tickets it matched and changes.
        """
        match = self.match_keys(desired) if needs_lookup(desired) else KeyMatch()
        with_ids = [d for d in desired if d.id is not None]
        known = [*with_ids, *match.found]
        matched: dict[str, list[str]] = {}
        team_limit = self.team_limit if writable else None
        if self.policies:
            listed = self.list_for_policies()
            expansion = expand(known, self.policies, listed, self.schema)
            only, shard = self._scope
            known = select_desired(expansion.desired, only=only, shard=shard)
            self._matched = {d.id: d for d in known if d.id is not None and d.selectors}
            live: dict[str, LiveTicket | ApiError] = {t.object_id: t for t in listed}
            missing = [d.id for d in known if d.id and d.id not in live]
            live.update(self._read_by_get(missing, _as_read))
            in_scope = {d.id for d in known}
            matched = {
                name: [i for i in ids if i in in_scope] for name, ids in expansion.matched.items()
            }
            plan = make_plan(known, live, self.target, self.schema_drift, team_limit)
        else:
            # Each ticket is diffed as it is read: the live tickets are not all held.
            by_id = {d.id: d for d in with_ids if d.id is not None}
            changes = self.read_each(
                list(by_id), lambda i, read: diff_read(by_id[i], read, team_limit)
            )
            found = match.live or {}
            for ticket in match.found:
                changes[ticket.name] = diff_read(ticket, found.get(ticket.name), team_limit)
            plan = plan_of(known, changes, self.target, self.schema_drift)
        creates = [plan_create(d) for d in match.to_create]
        refused = {c.name: self.team_problem(c) for c in creates}
        errors = [
            TicketChange(id=name, action=Action.ERROR, error=problem)
            for name, problem in refused.items()
            if problem is not None
        ]
        plan = replace(
            plan,
            changes=plan.changes + match.errors + tuple(errors),
            creates=tuple(c for c in creates if refused[c.name] is None),
            found_by_key=tuple((d.key, d.id) for d in match.found if d.key and d.id),
        )
        return summarize(plan, self.policies, matched) if self.policies else plan

    def list_for_policies(self) -> list[LiveTicket]:
        """Every live ticket, for the policies to select from; a clear error without a list."""
        try:
            return self.read_all()
        except ListUnsupported as error:
            raise PlanError(
                f"the manifests hold policies, which select tickets from the list "
                f"endpoint, and this server has none ({error}); nothing was planned"
            ) from None

    def match_keys(self, desired: Sequence[DesiredTicket]) -> KeyMatch:
        """Find the tickets declared by key among every live ticket (the list endpoint)."""
        return match_keys(desired, self.list_for_keys(desired))

    def find_key(self, create: TicketCreate) -> list[LiveTicket]:
        """The live tickets that hold ``create``'s key now (read again, never cached)."""
        return holders(
            create.type_id, create.type_prefix, create.key_field, create.key, self.read_all()
        )

    def list_for_keys(self, desired: Sequence[DesiredTicket]) -> list[LiveTicket]:
        """Every live ticket, to look keys up in; a clear error without a list endpoint."""
        try:
            return self.read_all()
        except ListUnsupported as error:
            keyed = [d for d in desired if d.id is None]
            raise PlanError(
                f"{len(keyed)} ticket(s) are declared by 'key' without an 'id' (first at "
                f"{keyed[0].location if keyed else '?'}); finding or creating them needs the "
                f"list endpoint, which this server does not offer ({error}). Write their "
                "ids into the manifests, or create them by hand"
            ) from None

    def team_problem(self, create: TicketCreate) -> str | None:
        """Why the token may not create a ticket of ``create``'s team, or None.

        A ``ticket_writer`` writes only tickets of no team or of one of its teams; an
        admin writes any. A token whose roles are unknown is left to the server.
        """
        claims = getattr(self.client, "claims", None)
        if claims is None or claims.roles is None or create.team is None:
            return None
        if "ticket_admin" in claims.roles or create.team in claims.teams:
            return None
        teams = ", ".join(claims.teams) or "none"
        return (
            f"the token of {claims.identity} may not create a ticket of team "
            f"{create.team!r} (its teams: {teams}); the server would refuse it"
        )

    def recheck_keys(self, plan: Plan) -> tuple[Plan, tuple[TicketOutcome, ...]]:
        """Leave out the creates whose key is on a live ticket now (made since the plan)."""
        if not plan.creates:
            return plan, ()
        live = self.read_all()
        kept: list[TicketCreate] = []
        stale: list[TicketOutcome] = []
        for create in plan.creates:
            found = holders(create.type_id, create.type_prefix, create.key_field, create.key, live)
            if found:
                ids = " and ".join(t.object_id for t in found)
                why = f"stale: the key is on {ids} now, made since the plan; re-run plan"
                stale.append(TicketOutcome(create.name, Outcome.STALE, why, create=create))
            else:
                kept.append(create)
        return replace(plan, creates=tuple(kept)), tuple(stale)

    @property
    def team_limit(self) -> tuple[str, ...] | None:
        """The teams whose tickets the client's token may update, or None when unlimited
        or unknown (:meth:`reconcile.auth.Claims.team_limit` of the preflighted claims)."""
        claims = self.client.claims
        return claims.team_limit() if claims is not None else None

    def apply(
        self,
        plan: Plan,
        desired: Sequence[DesiredTicket] | None = None,
        *,
        max_changes: int | None = None,
        max_change_ratio: float | None = None,
        allow_protected: bool = False,
        approve: Approve | None = None,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        write_back: Sequence[str | Path] | None = None,
    ) -> ApplyReport:
        """Check a plan, then write it; nothing is written when a check refuses.

        Refuses (:class:`UnsafePlan`) a plan holding errors, one that changes more
        than ``max_changes`` tickets or more than ``max_change_ratio`` of a policy's
        matched tickets (when it matched at least ten), or one that changes a protected
        field unless
        ``allow_protected``; then ``approve(plan)`` (e.g. asking the user) may stop it
        by raising. With the ``desired`` tickets it was made from (direct apply), a
        ticket that lost a race is re-diffed and rebased. Without them (a saved,
        reviewed plan) only the plan's own changes are sent, and tickets that went
        stale are refused. ``journal`` defaults to the manager's. With ``write_back``
        (manifest paths), the ids of created tickets are written into their entries
        there; the report says what was written (``written_back``) or why not.
        """
        check_plan(
            plan,
            max_changes=max_changes,
            allow_protected=allow_protected,
            max_change_ratio=max_change_ratio,
        )
        if approve is not None and plan.has_changes:
            approve(plan)
        # Tickets that policies select were planned from desired tickets made in plan().
        by_id = None if desired is None else {**{d.id: d for d in desired if d.id}, **self._matched}
        report = apply_plan(
            plan,
            self.client,
            desired=by_id,
            schema=self.schema if desired is None else None,
            parallelism=self.parallelism,
            journal=journal if journal is not None else self.journal,
            stop=stop,
            progress=self._progress_for(len(plan.updates) + len(plan.creates), "Applying"),
            allow_protected=allow_protected,
            find_key=self.find_key,
        )
        return report if write_back is None else write_back_ids(report, write_back)

    def apply_saved(
        self,
        saved: SavedPlan | str | os.PathLike[str],
        *,
        max_changes: int | None = None,
        max_change_ratio: float | None = None,
        allow_protected: bool = False,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        write_back: bool = True,
        on_lock_wait: LockWait | None = None,
    ) -> ApplyReport:
        """Apply a reviewed plan saved by ``plan --out`` (a path, or one already read).

        Refuses (:class:`~reconcile.errors.StalePlan`) a plan with planning errors or
        made for another target than this manager's, then runs :meth:`apply`'s checks.
        A ticket whose sensitive value in the manifests is no longer the reviewed one is
        not written: it is in the report as ``stale``. A plan that creates tickets holds
        the apply lock of its manifests while it writes, and (``write_back``) writes the
        created ids into them.
        """
        if not isinstance(saved, SavedPlan):
            saved = read_saved_plan(saved)
        sources = [str(p) for p in saved.manifest_paths()]
        creating = bool(saved.plan.creates)
        with apply_lock(sources, on_wait=on_lock_wait) if creating else contextlib.nullcontext():
            saved.check_applicable(self.target)
            prepared = prepare(saved, self.schema, self.key_field)
            plan, gone = self.recheck_keys(prepared.plan)
            report = self.apply(
                plan,
                max_changes=max_changes,
                max_change_ratio=max_change_ratio,
                allow_protected=allow_protected,
                journal=journal,
                stop=stop,
            )
            refused = gone + tuple(
                TicketOutcome(i, Outcome.STALE, why) for i, why in prepared.refused
            )
            if refused:
                report = replace(report, outcomes=report.outcomes + refused)
            return write_back_ids(report, sources) if write_back else report

    def _read_by_get(
        self, ids: Sequence[str], take: Callable[[str, LiveTicket | ApiError], Kept]
    ) -> dict[str, Kept]:
        if not ids:
            return {}
        tick = self._progress_for(len(ids), "Reading")

        def read(object_id: str) -> tuple[str, LiveTicket | ApiError]:
            try:
                return object_id, self.client.get_ticket(object_id)
            except ApiError as error:
                return object_id, error
            finally:
                tick(1)

        kept: dict[str, Kept] = {}
        # Each read is taken in this thread as it ends: none is held longer. Ctrl-C (or
        # any error) here ends the reads in flight at once (the client's abort).
        calls = [partial(read, i) for i in ids]
        reads = in_threads(calls, self.parallelism, abort=self.client.abort)
        with contextlib.closing(reads):
            for done in reads:
                if done is not None:
                    kept[done[0]] = take(*done)
        return kept

    def read_all(self) -> list[LiveTicket]:
        """Every ticket of the tenant through the list endpoint (``ListUnsupported`` passes).

        Items the pages held in an untrusted shape are read again with a GET.
        """
        listing = read_everything(
            self.client,
            parallelism=self.parallelism,
            progress=self._progress_for,
            pages=self._taken_pages_ahead(),
        )
        tickets = list(listing.tickets.values())
        reread = sorted(listing.reread, key=ticket_sort_key)
        for result in self._read_by_get(reread, _as_read).values():
            if isinstance(result, ApiError):
                raise result
            tickets.append(result)
        return tickets

    def _read_by_list(
        self, wanted: set[str], take: Callable[[str, LiveTicket | ApiError], Kept]
    ) -> dict[str, Kept]:
        """The wanted tickets that list pages return, when listing saves requests.

        At most one page per ``1 / LIST_MAX_PAGES_PER_TICKET`` declared tickets is read
        after the first; a ``total`` announcing more pages than that reads none.
        """
        try:
            listing = read_pages(
                self.client,
                lambda ticket: take(ticket.object_id, ticket),
                max_pages=_list_pages_for(len(wanted)),
                parallelism=self.parallelism,
                progress=self._progress_for,
                only_if_announced_within=True,
                wanted=wanted,
                pages=self._taken_pages_ahead(),
            )
        except ApiError:
            # Reading must never depend on the list endpoint (it is not in the vendor's
            # documentation): any trouble with it, and the tickets are read one by one.
            return {}
        return listing.tickets

    def _taken_pages_ahead(self) -> Pages | None:
        """The pages :meth:`planning` asked for ahead, for the plan's first listing only:
        any later one reads afresh."""
        pages, self._pages_ahead = self._pages_ahead, None
        return pages

    def _progress_for(self, total: int, label: str) -> Progress:
        if self._progress is None or total == 0:
            return no_tick
        return self._progress(total, label)


def _list_pages_for(tickets: int) -> int:
    """The most list pages worth reading for ``tickets`` declared tickets: page 1, and one
    more per ``1 / LIST_MAX_PAGES_PER_TICKET`` tickets (fewer requests than their GETs)."""
    return 1 + int(tickets * LIST_MAX_PAGES_PER_TICKET)


Kept = TypeVar("Kept")


def _as_read(_: str, read: LiveTicket | ApiError) -> LiveTicket | ApiError:
    """The ``take`` of :meth:`Manager.read_each` that keeps each read as it is."""
    return read


def write_back_ids(report: ApplyReport, paths: Sequence[str | Path]) -> ApplyReport:
    """``report`` with the ids of its created tickets written into their entries in
    ``paths`` (``written_back``), or with why that failed (``write_back_error``)."""
    ids = report.created_ids
    if not ids:
        return report
    # Imported here: the round-trip YAML editor is needed only once a ticket was created.
    from reconcile.writeback import write_ids

    try:
        return replace(report, written_back=tuple(write_ids(ids, paths)))
    except ReconcileError as error:
        return replace(report, write_back_error=str(error))


def check_plan(
    plan: Plan,
    *,
    max_changes: int | None,
    allow_protected: bool,
    max_change_ratio: float | None = None,
) -> None:
    """Every check a plan passes before anything is written (:class:`UnsafePlan` if not)."""
    if plan.errors:
        failed = ", ".join(c.id for c in plan.errors)
        raise UnsafePlan(
            f"the plan holds tickets that could not be planned ({failed}); "
            "nothing was written: fix them first"
        )
    plan.check_safe(max_changes, allow_protected, max_change_ratio)


def select_tickets(
    declared: Sequence[DeclaredTicket],
    *,
    only: Iterable[str] = (),
    shard: Shard | None = None,
    strict: bool = True,
) -> list[DeclaredTicket]:
    """Keep the tickets named by ``--target`` and in ``--shard``; an unknown target is an
    error when ``strict`` (with policies it may be a ticket they select: see
    :func:`select_desired`)."""
    only = list(only)
    if only:
        if strict:
            check_targets(only, {t.id for t in declared} | {t.key for t in declared})
        chosen = set(only)
        declared = [t for t in declared if t.id in chosen or t.key in chosen]
    if shard is not None:
        # By key when there is one: a ticket stays in its shard when its id is written back.
        declared = [t for t in declared if shard.contains(t.key or t.name)]
    return list(declared)


def check_targets(only: Sequence[str], declared: Container[str | None]) -> None:
    """Every ``--target`` names a ticket's id or key among ``declared``, or ManifestError."""
    unknown = [i for i in only if i not in declared]
    if unknown:
        raise ManifestError(
            Problem(None, f"--target {i}: no such ticket in the manifests") for i in unknown
        )


def select_desired(
    desired: Sequence[DesiredTicket],
    *,
    only: Sequence[str] = (),
    shard: Shard | None = None,
) -> list[DesiredTicket]:
    """``--target`` and ``--shard`` over the desired tickets policies were applied to."""
    if only:
        known = {d.id for d in desired} | {d.key for d in desired}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise ManifestError(
                Problem(None, f"--target {i}: no such ticket in the manifests or their policies")
                for i in unknown
            )
        chosen = set(only)
        desired = [d for d in desired if d.id in chosen or d.key in chosen]
    if shard is not None:
        desired = [d for d in desired if shard.contains(d.key or d.name)]
    return list(desired)
