"""``reconcile schema``: the manifest format's JSON Schema and the tenant's schema lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import connection_options, open_client
from reconcile.errors import ExitStatus
from reconcile.lock import default_lock_path, write_lock
from reconcile.manifest_schema import manifest_json_schema


@click.group()
def schema() -> None:
    """The manifest format (`json`) and the tenant's ticket types (`pull`)."""


@schema.command("json")
def schema_json() -> ExitStatus:
    """Print the JSON Schema (draft 2020-12) of the manifest format."""
    click.echo(json.dumps(manifest_json_schema(), indent=2, ensure_ascii=False))
    return ExitStatus.OK


@schema.command("pull")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Where to write the lock [default: reconcile.lock.yaml beside reconcile.yaml, "
    "else in the current directory].",
)
@connection_options
def schema_pull(output: Path | None, **params: Any) -> ExitStatus:
    """Write the schema lock: each ticket type's fields with UUID, name, label, type, options."""
    settings, client = open_client(params, write=False)
    with client:
        live = client.get_schema()
    path = output or default_lock_path(settings.config_path)
    write_lock(live, path)
    fields = sum(len(t.fields) for t in live.types)
    click.echo(f"Wrote {path}: {len(live.types)} ticket type(s), {fields} field(s).", err=True)
    return ExitStatus.OK
