"""Write-back: the id of a ticket created (or found) by its key goes into its manifest entry.

After ``apply`` creates a declared ticket, its entry gets ``id: REQ-0510`` above its
``key``, so that the manifest names the ticket as every other entry does. The file
is edited with the same ruamel.yaml round trip as :mod:`reconcile.adopt` (comments,
key order, quoting and indentation kept; only the new line differs) and read back
with the manifest loader before it is written. ``reconcile adopt --ids`` uses the same
function for tickets found by their key whose id was never written (a run that died
between the create and the write-back).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconcile.manifest import Location, load_manifests, parse_manifest
from reconcile.manifest.write import ManifestWriteError, write_ticket_ids


@dataclass(frozen=True)
class WrittenId:
    """One id written into a manifest entry."""

    key: str
    id: str
    location: Location


def write_ids(ids: Mapping[str, str], paths: Sequence[str | Path]) -> list[WrittenId]:
    """Write ``id`` into the entry of each key of ``ids`` (key → display ID) in ``paths``.

    Only entries that have the key and no id yet are edited; a key declared nowhere
    any more is skipped. Each file is written once, atomically, after its edits read
    back; :class:`~reconcile.manifest.write.ManifestWriteError` (that file left as it
    was) when they would not.
    """
    if not ids:
        return []
    entries = {t.key: t for t in load_manifests(paths) if t.key in ids and t.id is None}
    by_file: dict[str, dict[str, str]] = {}
    for key, ticket in entries.items():
        assert key is not None
        by_file.setdefault(ticket.location.path, {})[key] = ids[key]
    written: list[WrittenId] = []
    for path, file_ids in sorted(by_file.items()):
        text = Path(path).read_text(encoding="utf-8")
        lines = {entries[key].location.line: display_id for key, display_id in file_ids.items()}
        new_text = write_ticket_ids(text, path, lines)
        read = {t.key: t.id for t in parse_manifest(new_text, path)}
        for key, display_id in file_ids.items():
            if read.get(key) != display_id:
                raise ManifestWriteError(
                    f"{entries[key].location}: the entry of key {key!r} would not read back "
                    f"with id {display_id}; nothing was written to this file"
                )
        _replace(Path(path), new_text)
        written += [WrittenId(k, i, entries[k].location) for k, i in sorted(file_ids.items())]
    return written


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader (another apply loading the
    manifests) sees the old file or the new one, never half of it."""
    temporary = path.with_name(f".{path.name}.reconcile-tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
