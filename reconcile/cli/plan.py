"""``reconcile plan`` and ``reconcile drift``: read live tickets and compare with the manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import (
    connection_options,
    open_manager,
    parallelism_option,
    paths_argument,
    setting_option,
    shard_option,
    target_option,
)
from reconcile.cli.output import FORMATS, show_plan
from reconcile.errors import ExitStatus
from reconcile.manager import Shard
from reconcile.saved_plan import write_saved_plan

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
html_option = click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write this run's HTML report to FILE (whatever --format prints).",
)


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
    with open_manager(params, write=False) as (_, manager):
        run = manager.plan_paths(paths, only=targets, shard=shard)
        budget = manager.request_budget(run.plan)
    show_plan(run.plan, fmt, html_path=html_path, budget=budget)
    if out is not None:
        write_saved_plan(run.plan, run.sources, out)
        click.echo(
            f"Saved the plan to {out}. Apply it with: reconcile apply --plan {out}", err=True
        )
    if run.plan.errors:
        return ExitStatus.ERROR
    if detailed_exitcode and run.plan.has_changes:
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
    with open_manager(params, write=False) as (_, manager):
        result = manager.plan_paths(paths, only=targets, shard=shard, writable=False).plan
    show_plan(result, fmt, html_path=html_path, drift=True)
    if result.errors:
        return ExitStatus.ERROR
    return ExitStatus.CHANGES if result.has_changes else ExitStatus.OK
