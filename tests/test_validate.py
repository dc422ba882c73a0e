"""``reconcile validate``: offline checks, with the same messages and file:line as plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconcile.lock import write_lock
from reconcile.sandbox.demo import demo_ticket_types
from reconcile.schema import Schema

GOOD = Path(__file__).parent / "manifests" / "good"
OFFLINE = {
    "RECONCILE_BASE_URL": None,
    "RECONCILE_TENANT_ID": None,
    "RECONCILE_REALM": None,
    "RECONCILE_TOKEN": None,
}

TYPO = """\
tickets:
  - id: REQ-0509
    fields:
      priorty: High
      tags: [freeze, nope]
"""


@pytest.fixture
def offline(cli: Callable[..., object]) -> Callable[..., object]:
    """The CLI with no connection settings and no credentials at all."""
    return lambda *args, expect=0: cli(*args, expect=expect, **OFFLINE)


def test_valid_without_lock_checks_structure(offline: Callable[..., object]) -> None:
    result = offline("validate", str(GOOD))
    assert result.stdout.startswith("Valid: ") and "structure only" in result.stdout


def test_files_are_counted_once_when_paths_overlap(offline: Callable[..., object]) -> None:
    files = sorted(GOOD.rglob("*.y*ml"))
    result = offline("validate", str(GOOD), str(files[0]))
    assert f" in {len(files)} file(s), structure only" in result.stdout, result.stdout


def test_structure_errors_match_plan(
    cli: Callable[..., object], offline: Callable[..., object], tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "tickets:\n  - id: REQ-509\n  - id: REQ-0510\n    feilds: {}\n  - id: REQ-0510\n"
    )
    validated = offline("validate", "bad.yaml", expect=1).stderr
    assert "bad.yaml:2: malformed ticket id 'REQ-509'" in validated
    assert "bad.yaml:4: unknown key 'feilds' in ticket (did you mean 'fields'?)" in validated
    assert "bad.yaml:5: ticket REQ-0510 is declared twice: here and at bad.yaml:3" in validated
    assert validated == cli("plan", "bad.yaml", expect=1).stderr


def test_with_lock_checks_fields_types_and_options(
    offline: Callable[..., object], tmp_path: Path
) -> None:
    write_lock(Schema.from_api(demo_ticket_types()), tmp_path / "reconcile.lock.yaml")
    (tmp_path / "typo.yaml").write_text(TYPO)
    result = offline("validate", "typo.yaml", expect=1)
    assert "typo.yaml:4: REQ-0509: unknown field 'priorty' (did you mean 'priority'?)" in (
        result.stderr
    )
    assert "typo.yaml:5: REQ-0509 field 'tags': 'nope' is not an option" in result.stderr
    (tmp_path / "typo.yaml").write_text(TYPO.replace("priorty", "priority").replace("nope", "q4"))
    assert "against the schema lock" in offline("validate", "typo.yaml").stdout


def test_lock_beside_config_and_schema_option(
    offline: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "reconcile.yaml").write_text("manifests: [manifests]\n")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(TYPO)
    write_lock(Schema.from_api(demo_ticket_types()), tmp_path / "reconcile.lock.yaml")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert "unknown field 'priorty'" in offline("validate", expect=1).stderr
    (tmp_path / "reconcile.lock.yaml").rename(tmp_path / "elsewhere.lock")
    assert "structure only" in offline("validate").stdout
    result = offline("validate", "--schema", "../elsewhere.lock", expect=1)
    assert "unknown field 'priorty'" in result.stderr
    missing = offline("validate", "--schema", "nothere.yaml", expect=1)
    assert "nothere.yaml: cannot read the schema lock" in missing.stderr


def test_damaged_lock_is_an_error(offline: Callable[..., object], tmp_path: Path) -> None:
    (tmp_path / "reconcile.lock.yaml").write_text("types: [\n")
    (tmp_path / "a.yaml").write_text(TYPO)
    assert "not a schema lock" in offline("validate", "a.yaml", expect=1).stderr
