"""``reconcile validate``: check manifests offline, with the schema lock when there is one."""

from __future__ import annotations

from pathlib import Path

import click

from reconcile.config import load_settings, manifest_paths
from reconcile.errors import ExitStatus
from reconcile.lock import find_lock, read_lock
from reconcile.manifest import find_manifest_files, load_manifests, resolve_tickets


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Schema lock to check field names, types and options against "
    "[default: reconcile.lock.yaml beside reconcile.yaml, else in the current directory].",
)
@click.option(
    "--config",
    metavar="FILE",
    help="Config file instead of the nearest reconcile.yaml or pyproject.toml [tool.reconcile].",
)
def validate(paths: tuple[str, ...], schema_file: Path | None, config: str | None) -> ExitStatus:
    """Check the manifests in PATHS without network: exit 0 valid, 1 invalid.

    Always checked: YAML syntax, structure, duplicates, ticket ID format. With a
    schema lock (`reconcile schema pull`) also field names, value types and options.
    """
    settings = load_settings({"config": config})
    sources = manifest_paths(paths, settings)
    declared = load_manifests(sources)
    lock = schema_file or find_lock(settings.config_path)
    if lock is not None:
        resolve_tickets(declared, read_lock(lock))
        checked = f"against the schema lock {lock}"
    else:
        checked = "structure only: no schema lock (run `reconcile schema pull` to add one)"
    files = len(find_manifest_files(sources))
    click.echo(f"Valid: {len(declared)} ticket(s) in {files} file(s), {checked}.")
    return ExitStatus.OK
