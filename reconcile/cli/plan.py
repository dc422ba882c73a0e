"""``reconcile plan`` and ``reconcile drift``: read live tickets and compare with the manifests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from reconcile.apply_lock import apply_lock
from reconcile.cli.options import (
    connection_options,
    open_manager,
    parallelism_option,
    setting_option,
)
from reconcile.cli.output import FORMATS, render, write_step_summary
from reconcile.config import Settings, manifest_paths
from reconcile.errors import ExitStatus, PlanError
from reconcile.keys import needs_lookup
from reconcile.manager import Manager, Shard
from reconcile.manifest import DesiredTicket
from reconcile.plan import Plan, RequestBudget
from reconcile.saved_plan import write_saved_plan

paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=str))
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help=(
        "Output format: text for people, json for machines, markdown for pull requests, "
        "html for a self-contained report page."
    ),
)
target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ID",
    help="Only this ticket (repeatable).",
)
html_option = click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write this run's HTML report to FILE (whatever --format prints).",
)
shard_option = click.option(
    "--shard",
    metavar="I/N",
    callback=lambda ctx, param, value: _shard(value),
    help="Only shard I of N: a stable hash partition of the declared tickets.",
)


def _shard(value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return Shard.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--shard") from None


@dataclass(frozen=True)
class PlanRun:
    """What planning produced, for the command that goes on with it."""

    settings: Settings
    manager: Manager
    desired: list[DesiredTicket]
    plan: Plan
    sources: list[str]


@contextlib.contextmanager
def planned(
    params: dict[str, Any],
    paths: Sequence[str],
    targets: Sequence[str],
    shard: Shard | None,
    *,
    write: bool,
    writable: bool = True,
) -> Iterator[PlanRun]:
    """Open a client, load the manifests and plan: the first half of plan, apply and drift.

    The client stays open inside the ``with`` block (apply writes through it). When
    apply (``write``) may create tickets, the working tree's apply lock is held from
    before the keys are looked up until the block ends (:mod:`reconcile.apply_lock`).
    ``writable=False`` (drift, adopt): tickets the token may not update are not errors.
    """
    with open_manager(params, write=write) as (settings, manager):
        sources = manifest_paths(paths, settings)
        desired = manager.load(sources, only=targets, shard=shard)
        creating = write and needs_lookup(desired)
        lock = apply_lock(sources, on_wait=waiting_for_lock) if creating else None
        with lock or contextlib.nullcontext():
            plan = manager.plan(desired, writable=writable)
            yield PlanRun(settings, manager, desired, plan, sources)


def waiting_for_lock(path: Path) -> None:
    """Say why an apply waits: another one in the same working tree holds the lock."""
    click.echo(f"Waiting for another apply in this working tree (lock {path})...", err=True)


def write_html(path: Path | None, plan: Plan, *, drift: bool = False) -> None:
    """Write the HTML report of ``plan`` to ``path`` (``--html FILE``), when one is given."""
    if path is None:
        return
    try:
        path.write_text(render(plan, "html", drift=drift), encoding="utf-8")
    except OSError as error:
        raise PlanError(f"{path}: cannot write the HTML report: {error.strerror}") from None


def request_budget(manager: Manager, plan: Plan, rate_limit: float | None) -> RequestBudget | None:
    """Under ``--rate-limit``, what applying ``plan`` takes: the reads planning made (apply
    makes them again), one write per ticket to update, and how long that lasts at least.

    None without a limit, so the usual plan output keeps ending with its summary line.
    """
    if not rate_limit:
        return None
    counts = manager.client.request_counts()
    reads = counts["ticket_type"] + counts["get"] + counts["list"]
    return RequestBudget(reads, len(plan.updates) + len(plan.creates), rate_limit)


@click.command()
@paths_argument
@format_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Save the plan for a later `apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would, 1 on error.",
)
@html_option
@target_option
@shard_option
@parallelism_option
@setting_option("key_field")
@connection_options
def plan(
    paths: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    html_path: Path | None,
    targets: tuple[str, ...],
    shard: Shard | None,
    **params: Any,
) -> ExitStatus:
    """Show what apply would change: live tickets against the manifests in PATHS."""
    with planned(params, paths, targets, shard, write=False) as run:
        result = run.plan
        budget = request_budget(run.manager, result, run.settings.rate_limit)
    click.echo(render(result, fmt, budget=budget), nl=False)
    write_step_summary(result)
    write_html(html_path, result)
    if out is not None:
        write_saved_plan(result, run.sources, out)
        click.echo(
            f"Saved the plan to {out}. Apply it with: reconcile apply --plan {out}", err=True
        )
    if result.errors:
        return ExitStatus.ERROR
    if detailed_exitcode and result.has_changes:
        return ExitStatus.CHANGES
    return ExitStatus.OK


@click.command()
@paths_argument
@format_option
@html_option
@target_option
@shard_option
@parallelism_option
@setting_option("key_field")
@connection_options
def drift(
    paths: tuple[str, ...],
    fmt: str,
    html_path: Path | None,
    targets: tuple[str, ...],
    shard: Shard | None,
    **params: Any,
) -> ExitStatus:
    """Tell whether live tickets still match the manifests: exit 0 in sync, 2 drifted, 1 error."""
    with planned(params, paths, targets, shard, write=False, writable=False) as run:
        result = run.plan
    click.echo(render(result, fmt, drift=True), nl=False)
    write_step_summary(result, drift=True)
    write_html(html_path, result, drift=True)
    if result.errors:
        return ExitStatus.ERROR
    return ExitStatus.CHANGES if result.has_changes else ExitStatus.OK
