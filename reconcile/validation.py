"""Offline validation of manifests (``reconcile validate``): no network, no token.

Always checked: YAML syntax, structure, duplicates, ticket ID format. With a schema
lock (``reconcile schema pull``) also field names, value types and options, exactly
as planning resolves them against the live schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from reconcile.config import Settings, manifest_paths
from reconcile.lock import find_lock, read_lock
from reconcile.manifest import DeclaredTicket
from reconcile.manifest.parse import read_manifest_files


class Validation(NamedTuple):
    """What was checked: how many tickets in how many files, against which lock."""

    tickets: int
    files: int
    lock: Path | None
    """The schema lock the fields were checked against; None: structure only."""


def validate_manifests(
    paths: Sequence[str], settings: Settings, schema_lock: Path | None = None
) -> Validation:
    """Check the manifests in ``paths`` (else the ``manifests`` setting); one
    :class:`~reconcile.errors.ManifestError` with every problem when they are invalid.

    ``schema_lock`` defaults to the lock beside the config file, else in the current
    directory, when there is one.
    """
    declared: list[DeclaredTicket] = []
    files = 0
    for found in read_manifest_files(manifest_paths(paths, settings)):
        declared.extend(found.tickets)
        files += 1  # one per file, when all are valid (else the loop raises)
    lock = schema_lock or find_lock(settings.config_path)
    if lock is not None:
        from reconcile.manifest.resolve import resolve_tickets  # it needs the schema

        resolve_tickets(declared, read_lock(lock))
    return Validation(len(declared), files, lock)
