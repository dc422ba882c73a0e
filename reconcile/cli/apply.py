"""``reconcile apply``: write the plan, one etag-guarded PATCH per changed ticket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconcile.cli.applying import confirm, run_apply, waiting_for_lock
from reconcile.cli.options import (
    auto_approve_option,
    connection_options,
    journal_option,
    open_manager,
    parallelism_option,
    paths_argument,
    safety_options,
    setting_option,
    shard_option,
    target_option,
)
from reconcile.cli.output import render
from reconcile.errors import ExitStatus
from reconcile.manager import Shard
from reconcile.saved_plan import read_saved_plan


@click.command()
@paths_argument
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Apply a plan saved by `plan --out FILE`, without asking.",
)
@auto_approve_option
@safety_options
@click.option(
    "--no-write-back",
    is_flag=True,
    help="Do not write the ids of created tickets into the manifests.",
)
@journal_option
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
    saved = read_saved_plan(plan_file) if plan_file else None  # damaged: costs no request
    with open_manager(params, write=True, journal=journal_file) as (settings, manager):
        checks: dict[str, Any] = {
            "max_changes": settings.max_changes,
            "max_change_ratio": settings.max_change_ratio,
            "allow_protected": allow_protected,
            "write_back": not no_write_back,
        }
        if saved is not None:
            return run_apply(
                lambda stop: manager.apply_saved(
                    saved, stop=stop, on_lock_wait=waiting_for_lock, **checks
                ),
                write_back=not no_write_back,
            )
        with manager.planning(
            paths, only=targets, shard=shard, for_apply=True, on_lock_wait=waiting_for_lock
        ) as run:
            click.echo(render(run.plan, "text"), nl=False)
            if run.plan.errors:
                click.echo("Nothing was written: fix the errors above first.", err=True)
                return ExitStatus.ERROR
            return run_apply(
                lambda stop: run.apply(
                    approve=lambda plan: confirm(
                        auto_approve, len(plan.updates) + len(plan.creates)
                    ),
                    stop=stop,
                    **checks,
                ),
                write_back=not no_write_back,
            )
