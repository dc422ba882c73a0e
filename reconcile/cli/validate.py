"""``reconcile validate``: check manifests offline, with the schema lock when there is one."""

from __future__ import annotations

from pathlib import Path

import click

from reconcile.cli.options import config_option, paths_argument
from reconcile.config import load_settings
from reconcile.errors import ExitStatus
from reconcile.validation import validate_manifests


@click.command()
@paths_argument
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Schema lock to check field names, types and options against "
    "[default: reconcile.lock.yaml beside reconcile.yaml, else in the current directory].",
)
@config_option
def validate(paths: tuple[str, ...], schema_file: Path | None, config: str | None) -> ExitStatus:
    """Check the manifests in PATHS without network: exit 0 valid, 1 invalid.

    Always checked: YAML syntax, structure, duplicates, ticket ID format. With a
    schema lock (`reconcile schema pull`) also field names, value types and options.
    """
    done = validate_manifests(paths, load_settings({"config": config}), schema_file)
    if done.lock is not None:
        checked = f"against the schema lock {done.lock}"
    else:
        checked = "structure only: no schema lock (run `reconcile schema pull` to add one)"
    click.echo(f"Valid: {done.tickets} ticket(s) in {done.files} file(s), {checked}.")
    return ExitStatus.OK
