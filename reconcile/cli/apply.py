"""``reconcile apply``: write the plan, one etag-guarded PATCH per changed ticket."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from reconcile.apply import CREATED, UNCHANGED, ApplyReport
from reconcile.apply_lock import apply_lock
from reconcile.cli.options import (
    connection_options,
    open_manager,
    parallelism_option,
    setting_option,
)
from reconcile.cli.output import render
from reconcile.cli.plan import (
    paths_argument,
    planned,
    shard_option,
    target_option,
    waiting_for_lock,
)
from reconcile.errors import ExitStatus, ReconcileError
from reconcile.journal import Journal
from reconcile.manager import Shard
from reconcile.saved_plan import read_saved_plan
from reconcile.writeback import write_ids


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
@setting_option("max_changes")
@setting_option("max_change_ratio")
@click.option("--allow-protected", is_flag=True, help="Allow changes to protected fields.")
@click.option(
    "--no-write-back",
    is_flag=True,
    help="Do not write the ids of created tickets into the manifests.",
)
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Append a write-ahead log of every write to FILE (for `reconcile undo`).",
)
@target_option
@shard_option
@parallelism_option
@setting_option("key_field")
@connection_options
def apply(
    paths: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    allow_protected: bool,
    no_write_back: bool,
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
            saved = read_saved_plan(plan_file)  # a damaged file costs no request
            paths_back = [str(p) for p in saved.manifest_paths()]
            creating = bool(saved.plan.creates)
            lock = apply_lock(paths_back, on_wait=waiting_for_lock) if creating else None
            with (
                open_manager(params, write=True) as (settings, manager),
                lock or contextlib.nullcontext(),
            ):
                return run_apply(
                    lambda stop: manager.apply_saved(
                        saved,
                        max_changes=settings.max_changes,
                        max_change_ratio=settings.max_change_ratio,
                        allow_protected=allow_protected,
                        journal=journal,
                        stop=stop,
                    ),
                    write_back=None if no_write_back else paths_back,
                )
        with planned(params, paths, targets, shard, write=True) as run:
            click.echo(render(run.plan, "text"), nl=False)
            if run.plan.errors:
                click.echo("Nothing was written: fix the errors above first.", err=True)
                return ExitStatus.ERROR
            return run_apply(
                lambda stop: run.manager.apply(
                    run.plan,
                    run.desired,
                    max_changes=run.settings.max_changes,
                    max_change_ratio=run.settings.max_change_ratio,
                    allow_protected=allow_protected,
                    approve=lambda plan: confirm(
                        auto_approve, len(plan.updates) + len(plan.creates)
                    ),
                    journal=journal,
                    stop=stop,
                ),
                write_back=None if no_write_back else run.sources,
            )


def confirm(auto_approve: bool, count: int) -> None:
    """Ask on the terminal before writing (``--auto-approve`` skips it); raise to stop."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(
            "refusing to apply without confirmation: no terminal to ask on; "
            "review the plan and pass --auto-approve"
        )
    if not click.confirm(f"Apply these changes to {count} ticket(s)?", default=False):
        raise click.Abort()


def run_apply(
    write: Callable[[threading.Event], ApplyReport],
    write_back: Sequence[str] | None = None,
) -> ExitStatus:
    """Run ``write`` with SIGINT/SIGTERM setting its stop event; print the outcomes.

    ``write_back``: the manifests that get the ids of created tickets (None: none).
    Returns the exit status: 130/143 when interrupted, else 0 when every ticket is ok
    and every id was written back.
    """
    stop = threading.Event()
    with _interruptible(stop) as received:
        report = write(stop)
    for outcome in report.outcomes:
        if outcome.status == CREATED and outcome.create is not None:
            click.echo(f"+ {outcome.create.name}: created {outcome.id}")
        elif outcome.message:
            mark = "=" if outcome.status == UNCHANGED else "!"
            click.echo(f"{mark} {outcome.id}: {outcome.message}", err=True)
    written_back = _write_back(report, write_back)
    click.echo(report.summary)
    if received:
        click.echo(
            "Interrupted: writes in flight were completed; no new write was started.", err=True
        )
        return ExitStatus.SIGTERM if received[0] == signal.SIGTERM else ExitStatus.SIGINT
    return ExitStatus.OK if report.ok and written_back else ExitStatus.ERROR


def _write_back(report: ApplyReport, paths: Sequence[str] | None) -> bool:
    """Write the created tickets' ids into their manifest entries; False if that failed."""
    ids = {o.create.key: o.id for o in report.created if o.create is not None}
    if not ids:
        return True
    if paths is None:
        click.echo(
            "Not written back (--no-write-back): add the ids to the manifests, or run "
            "`reconcile adopt --ids`.",
            err=True,
        )
        return True
    try:
        written = write_ids(ids, paths)
    except ReconcileError as error:
        click.echo(
            f"! the ids of created tickets were not written back: {error}; the next plan "
            "finds them by key, and `reconcile adopt --ids` writes them",
            err=True,
        )
        return False
    for done in written:
        click.echo(f"  id {done.id} written into {done.location}")
    return True


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
