"""``reconcile adopt``: accept drift by writing the live values back into the manifests."""

from __future__ import annotations

from typing import Any

import click

from reconcile.adopt import adopt as adopt_drift
from reconcile.cli.options import (
    connection_options,
    open_manager,
    parallelism_option,
    paths_argument,
    setting_option,
    target_option,
)
from reconcile.errors import ExitStatus
from reconcile.plan import Plan
from reconcile.render._values import show
from reconcile.writeback import write_ids


@click.command()
@paths_argument
@target_option
@click.option("--dry-run", is_flag=True, help="Show what would be written; change no file.")
@click.option(
    "--ids",
    "ids_only",
    is_flag=True,
    help="Only write the ids of tickets found by their key (created by an apply whose "
    "write-back did not happen) into their entries.",
)
@parallelism_option
@setting_option("key_field")
@connection_options
def adopt(
    paths: tuple[str, ...],
    targets: tuple[str, ...],
    dry_run: bool,
    ids_only: bool,
    **params: Any,
) -> ExitStatus:
    """Write drifted live values back into the manifests in PATHS (the reverse of apply).

    Only the drifted values are edited; comments, order and formatting are kept. A
    value from a document's `defaults` is written into the ticket's own fields. A
    sensitive field is never written back: it is listed instead, and so is drift from
    a policy (policy documents are never edited).
    """
    with open_manager(params, write=False) as (_, manager):
        run = manager.plan_paths(paths, only=targets, writable=False)
    plan = run.plan
    if ids_only:
        return _adopt_ids(plan, run.sources, dry_run)
    report = adopt_drift(plan, run.desired, write=not dry_run)
    for done in report.adopted:
        origin = " (was a document default)" if done.from_default else ""
        click.echo(f"~ {done.ticket} {done.key}: {show(done.value)}  [{done.location}]{origin}")
    for message in report.sensitive + report.from_policies:
        click.echo(f"! {message}", err=True)
    for change in plan.errors:
        click.echo(f"! {change.id}: {change.error}", err=True)
    click.echo(("Dry run: " if dry_run else "") + report.summary)
    return ExitStatus.ERROR if plan.errors else ExitStatus.OK


def _adopt_ids(plan: Plan, sources: list[str], dry_run: bool) -> ExitStatus:
    """Write the ids of the tickets found by key into their entries (``--ids``)."""
    for change in plan.errors:
        click.echo(f"! {change.id}: {change.error}", err=True)
    ids = dict(plan.found_by_key)
    if dry_run:
        for key, display_id in sorted(ids.items()):
            click.echo(f"~ {key}: id {display_id}")
        written = len(ids)
    else:
        done = write_ids(ids, sources)
        for entry in done:
            click.echo(f"~ {entry.key}: id {entry.id} written into {entry.location}")
        written = len(done)
    click.echo(f"{'Dry run: ' if dry_run else ''}Adopt: {written} id(s) written.")
    return ExitStatus.ERROR if plan.errors else ExitStatus.OK
