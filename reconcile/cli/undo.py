"""``reconcile undo --journal FILE``: put back the values an apply overwrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconcile.cli.applying import confirm, run_apply
from reconcile.cli.options import (
    allow_protected_option,
    auto_approve_option,
    connection_options,
    open_manager,
    parallelism_option,
)
from reconcile.cli.output import render
from reconcile.errors import ExitStatus
from reconcile.journal import read_journal
from reconcile.undo import plan_undo


@click.command()
@click.option(
    "--journal",
    "journal_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The journal written by `apply --journal FILE`.",
)
@auto_approve_option
@allow_protected_option
@parallelism_option
@connection_options
def undo(
    journal_file: Path, auto_approve: bool, allow_protected: bool, **params: Any
) -> ExitStatus:
    """Restore the values that the writes in a journal overwrote.

    Every write that landed or may have landed (a run killed before the answer) is
    considered; a ticket is restored only where its journal fields still hold values
    apply may have left. The others, sensitive fields (journaled as digests) and
    created tickets (the API cannot delete them) are reported. A journal made against
    another base URL, tenant or realm is refused. Exits 1 when anything was not restored.
    """
    journal = read_journal(journal_file)  # a damaged journal fails before any request
    with open_manager(params, write=True) as (_, manager):
        result = plan_undo(manager, journal)
        for message in result.notes:
            click.echo(f"= {message}", err=True)
        for message in result.refused:
            click.echo(f"! {message}", err=True)
        status = ExitStatus.ERROR if result.refused else ExitStatus.OK
        if not result.plan.has_changes:
            click.echo("Nothing to restore.")
            return status
        click.echo(render(result.plan, "text"), nl=False)
        applied = run_apply(
            lambda stop: manager.apply(
                result.plan,
                allow_protected=allow_protected,
                approve=lambda plan: confirm(auto_approve, len(plan.changes)),
                stop=stop,
            ),
            write_back=False,
        )
        return applied if applied != ExitStatus.OK else status
