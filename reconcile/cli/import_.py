"""``reconcile import``: write a manifest declaring the live values of existing tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import connection_options, open_manager, parallelism_option
from reconcile.errors import ExitStatus
from reconcile.importer import import_tickets
from reconcile.ticket import DISPLAY_ID


@click.command("import")
@click.argument("ids", nargs=-1, metavar="ID...")
@click.option("--all", "import_all", is_flag=True, help="Import every ticket (list endpoint).")
@click.option("--prefix", metavar="REQ", help="With --all: only tickets of this type prefix.")
@click.option("--team", metavar="NAME", help="With --all: only tickets of this team.")
@click.option(
    "--fields",
    metavar="NAME,...",
    help="Only these fields (names, labels or UUIDs); absent ones are declared empty.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the manifest to FILE instead of stdout.",
)
@parallelism_option
@connection_options
def import_(
    ids: tuple[str, ...],
    import_all: bool,
    prefix: str | None,
    team: str | None,
    fields: str | None,
    output: Path | None,
    **params: Any,
) -> ExitStatus:
    """Write a manifest for existing tickets: planning it shows no changes."""
    if not ids and not import_all:
        raise click.UsageError(
            "give ticket IDs or --all: which tickets to import "
            "(reconcile import REQ-0509 REQ-0510, or reconcile import --all)"
        )
    if ids and import_all:
        raise click.UsageError("give ticket IDs or --all, not both")
    if (prefix or team) and not import_all:
        raise click.UsageError("--prefix and --team go with --all")
    malformed = [i for i in ids if not DISPLAY_ID.fullmatch(i)]
    if malformed:
        raise click.BadParameter(
            f"{malformed[0]!r} is not a display ID such as REQ-0509", param_hint="ID"
        )
    names = [n.strip() for n in (fields or "").split(",") if n.strip()]
    with open_manager(params, write=False) as (_, manager):
        imported = import_tickets(
            manager, ids, every=import_all, prefix=prefix, team=team, fields=names
        )
    for note in imported.notes:
        click.echo(f"! {note}", err=True)
    if output is None:
        click.echo(imported.text, nl=False)
    else:
        output.write_text(imported.text, encoding="utf-8")
        click.echo(f"Imported {imported.tickets} ticket(s) into {output}.", err=True)
    return ExitStatus.OK
