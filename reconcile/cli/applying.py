"""What the commands that write share: the confirmation prompt, SIGINT/SIGTERM as a stop
event, the outcome lines of an apply and their exit status."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from reconcile.apply import ApplyReport, Outcome
from reconcile.errors import ExitStatus


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


def waiting_for_lock(path: Path) -> None:
    """Say why an apply waits: another one in the same working tree holds the lock."""
    click.echo(f"Waiting for another apply in this working tree (lock {path})...", err=True)


def run_apply(write: Callable[[threading.Event], ApplyReport], *, write_back: bool) -> ExitStatus:
    """Run ``write`` with SIGINT/SIGTERM setting its stop event; print the outcomes.

    ``write_back``: whether the run was asked to write created ids into the manifests.
    Returns the exit status: 130/143 when interrupted, else 0 when every ticket is ok
    and every id was written back.
    """
    stop = threading.Event()
    with stop_on_signals(stop) as received:
        report = write(stop)
    for outcome in report.outcomes:
        if outcome.status == Outcome.CREATED and outcome.create is not None:
            click.echo(f"+ {outcome.create.name}: created {outcome.id}")
        elif outcome.message:
            mark = "=" if outcome.status == Outcome.UNCHANGED else "!"
            click.echo(f"{mark} {outcome.id}: {outcome.message}", err=True)
    _show_write_back(report, write_back)
    click.echo(report.summary)
    if received:
        click.echo(
            "Interrupted: writes in flight were completed; no new write was started.", err=True
        )
        return ExitStatus.SIGTERM if received[0] == signal.SIGTERM else ExitStatus.SIGINT
    return ExitStatus.OK if report.ok else ExitStatus.ERROR


def _show_write_back(report: ApplyReport, asked: bool) -> None:
    if report.write_back_error is not None:
        click.echo(
            f"! the ids of created tickets were not written back: {report.write_back_error}; "
            "the next plan finds them by key, and `reconcile adopt --ids` writes them",
            err=True,
        )
    elif report.created_ids and not asked:
        click.echo(
            "Not written back (--no-write-back): add the ids to the manifests, or run "
            "`reconcile adopt --ids`.",
            err=True,
        )
    for done in report.written_back:
        click.echo(f"  id {done.id} written into {done.location}")


@contextlib.contextmanager
def stop_on_signals(
    stop: threading.Event, on_signal: Callable[[int], None] | None = None
) -> Iterator[list[int]]:
    """On SIGINT or SIGTERM, call ``on_signal`` and set ``stop`` instead of dying; yields
    the signals received. Outside the main thread (no handlers there) it only yields."""
    received: list[int] = []

    def handle(signum: int, _frame: Any) -> None:
        received.append(signum)
        if on_signal is not None:
            on_signal(signum)
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
