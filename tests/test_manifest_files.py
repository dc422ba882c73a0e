"""Manifests read a file at a time (``read_manifest_files``), as the Manager loads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.errors import ManifestError
from reconcile.manifest import load_manifest_set
from reconcile.manifest.parse import read_manifest_files

ONE = "tickets:\n  - id: REQ-0001\n    fields: {summary: one}\n"
TWO = "tickets:\n  - id: REQ-0002\n    fields: {summary: two}\n"


def write(root: Path, **files: str) -> Path:
    for name, text in files.items():
        (root / f"{name}.yaml").write_text(text)
    return root


def test_each_file_is_given_in_turn(tmp_path: Path) -> None:
    root = write(tmp_path, a=ONE, b=TWO)
    given = [[t.id for t in found.tickets] for found in read_manifest_files([root])]
    assert given == [["REQ-0001"], ["REQ-0002"]]


def test_no_file_is_given_after_a_problem_and_every_problem_is_raised(tmp_path: Path) -> None:
    # b repeats a's ticket, c is no YAML: a is given, then nothing, then all of it at once.
    root = write(tmp_path, a=ONE, b=ONE, c="tickets: [\n", d=TWO)
    given = []
    with pytest.raises(ManifestError) as raised:
        given.extend(f.tickets[0].id for f in read_manifest_files([root]))
    assert given == ["REQ-0001"]
    messages = [f"{Path(p.path).name}:{p.line}: {p.message}" for p in raised.value.problems]
    assert messages == [
        f"b.yaml:2: ticket REQ-0001 is declared twice: here and at {root / 'a.yaml'}:2",
        "c.yaml:2: YAML syntax error: did not find expected node content (while parsing a "
        "flow node at line 2)",
    ]
    with pytest.raises(ManifestError) as loaded:  # the same problems as reading them all
        load_manifest_set([root])
    assert loaded.value.problems == raised.value.problems
