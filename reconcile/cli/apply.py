"""``reconcile apply``: write the plan, one etag-guarded PATCH per changed ticket."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import connection_options, open_manager, parallelism_option
from reconcile.cli.output import render
from reconcile.cli.plan import paths_argument, planned, shard_option, target_option
from reconcile.errors import ExitStatus, StalePlan
from reconcile.journal import Journal
from reconcile.manager import Manager, Shard, read_saved_plan
from reconcile.manifest import DesiredTicket
from reconcile.plan import Plan


@click.command()
@paths_argument
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Apply a plan saved by `plan --out FILE`, without asking.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--max-changes",
    type=click.IntRange(min=0),
    metavar="N",
    help="Refuse to write anything when more than N tickets would change.",
)
@click.option("--allow-protected", is_flag=True, help="Allow changes to protected fields.")
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Append one JSON line per write to FILE.",
)
@target_option
@shard_option
@parallelism_option
@connection_options
def apply(
    paths: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    max_changes: int | None,
    allow_protected: bool,
    journal_file: Path | None,
    targets: tuple[str, ...],
    shard: Shard | None,
    **params: Any,
) -> ExitStatus:
    """Make the live tickets match the manifests in PATHS (or a saved plan)."""
    if plan_file is not None and (paths or targets or shard):
        raise click.UsageError("--plan FILE takes no PATHS, --target or --shard")
    # The journal opens first: a path it cannot write is an error before any request.
    with _journal(journal_file) as journal:
        if plan_file is not None:
            return _apply_saved(plan_file, journal, max_changes, allow_protected, params)
        with planned(params, paths, targets, shard, write=True) as run:
            plan = run.plan
            click.echo(render(plan, "text"), nl=False)
            if plan.errors:
                click.echo("Nothing was written: fix the errors above first.", err=True)
                return ExitStatus.ERROR
            if not plan.has_changes:
                return ExitStatus.OK
            plan.check_safe(_limit(max_changes, run.settings.max_changes), allow_protected)
            confirm(auto_approve, len(plan.changes))
            return write_plan(run.manager, plan, run.desired, journal, allow_protected)


def _apply_saved(
    plan_file: Path,
    journal: Journal | None,
    max_changes: int | None,
    allow_protected: bool,
    params: dict[str, Any],
) -> ExitStatus:
    saved = read_saved_plan(plan_file)
    if saved.plan.errors:
        failed = ", ".join(c.id for c in saved.plan.errors)
        raise StalePlan(
            f"{plan_file} holds tickets that could not be planned ({failed}); "
            "nothing was written: fix them and plan again"
        )
    with open_manager(params, write=True) as (settings, manager):
        if saved.target != manager.target:
            made, here = saved.target, manager.target
            raise StalePlan(
                f"{plan_file} was made for {made.base_url} (tenant {made.tenant_id}, realm"
                f" {made.realm}); refusing to apply it to {here.base_url} (tenant"
                f" {here.tenant_id}, realm {here.realm})"
            )
        plan, refused = manager.prepare_saved(saved)
        for message in refused:
            click.echo(f"! {message}", err=True)
        plan.check_safe(_limit(max_changes, settings.max_changes), allow_protected)
        status = write_plan(manager, plan, journal=journal, allow_protected=allow_protected)
        return ExitStatus.ERROR if refused and status == ExitStatus.OK else status


def _limit(flag: int | None, configured: int | None) -> int | None:
    return flag if flag is not None else configured


def confirm(auto_approve: bool, count: int) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(
            "refusing to apply without confirmation: no terminal to ask on; "
            "review the plan and pass --auto-approve"
        )
    if not click.confirm(f"Apply these changes to {count} ticket(s)?", default=False):
        raise click.Abort()


def write_plan(
    manager: Manager,
    plan: Plan,
    desired: Sequence[DesiredTicket] | None = None,
    journal: Journal | None = None,
    allow_protected: bool = False,
) -> ExitStatus:
    """Apply with SIGINT/SIGTERM handled, print the outcomes, return the exit status."""
    stop = threading.Event()
    with _interruptible(stop) as received:
        report = manager.apply(
            plan, desired, journal=journal, stop=stop, allow_protected=allow_protected
        )
    for outcome in report.outcomes:
        if outcome.message:
            mark = "!" if outcome.status != "unchanged" else "="
            click.echo(f"{mark} {outcome.id}: {outcome.message}", err=True)
    click.echo(report.summary)
    if received:
        click.echo(
            "Interrupted: writes in flight were completed; no new write was started.", err=True
        )
        return ExitStatus.SIGTERM if received[0] == signal.SIGTERM else ExitStatus.SIGINT
    return ExitStatus.OK if report.ok else ExitStatus.ERROR


@contextlib.contextmanager
def _journal(path: Path | None) -> Iterator[Journal | None]:
    if path is None:
        yield None
        return
    with Journal(path) as journal:
        yield journal


@contextlib.contextmanager
def _interruptible(stop: threading.Event) -> Iterator[list[int]]:
    """On SIGINT or SIGTERM, set ``stop`` instead of dying, and note the signal."""
    received: list[int] = []

    def handle(signum: int, _frame: Any) -> None:
        received.append(signum)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
