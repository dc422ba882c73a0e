"""``reconcile import``: write a manifest declaring the live values of existing tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import connection_options, open_manager, parallelism_option
from reconcile.errors import ApiError, ExitStatus, ListUnsupported
from reconcile.importer import filter_listed, render_import
from reconcile.plan import ticket_sort_key
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
        if import_all:
            try:
                listed = manager.read_all()
            except ListUnsupported as error:
                raise ApiError(f"--all needs the list endpoint: {error}") from None
            tickets = filter_listed(listed, prefix=prefix, team=team)
        else:
            live = manager.read_live(sorted(set(ids), key=ticket_sort_key))
            failed = [(i, r) for i, r in live.items() if isinstance(r, ApiError)]
            if failed:
                raise ApiError("; ".join(f"{i}: {r}" for i, r in failed))
            tickets = [r for r in live.values() if not isinstance(r, ApiError)]
        imported = render_import(tickets, manager.schema, names)
    for note in imported.notes:
        click.echo(f"! {note}", err=True)
    if output is None:
        click.echo(imported.text, nl=False)
    else:
        output.write_text(imported.text, encoding="utf-8")
        click.echo(f"Imported {imported.tickets} ticket(s) into {output}.", err=True)
    return ExitStatus.OK
