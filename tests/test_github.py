"""GitHub Actions: manifest errors as annotations on stderr, Markdown in the step summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

BAD = "tickets:\n  - id: REQ-0509\n    fields:\n      priorty: High\n  - id: REQ-12\n"
GOOD = "tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n"


@pytest.fixture
def summary(tmp_path: Path) -> Path:
    path = tmp_path / "step-summary.md"
    path.write_text("## Earlier step\n")
    return path


def test_manifest_errors_become_annotations_on_stderr(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    result = cli("plan", "bad.yaml", "--format", "json", expect=1, GITHUB_ACTIONS="true")
    assert result.stdout == ""
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    assert annotations[0].startswith("::error file=bad.yaml,line=5::malformed ticket id 'REQ-12'")
    assert "Error: bad.yaml:5: malformed ticket id" in result.stderr
    (tmp_path / "bad.yaml").write_text(BAD.replace("REQ-12", "REQ-0510"))
    result = cli("plan", "bad.yaml", "--format", "json", expect=1, GITHUB_ACTIONS="true")
    assert result.stdout == "" and result.stderr.splitlines()[-1] == (
        "::error file=bad.yaml,line=4::REQ-0509: unknown field 'priorty' (did you mean 'priority'?)"
    )
    (tmp_path / "bad.yaml").write_text(BAD)
    offline = cli("validate", "bad.yaml", expect=1, GITHUB_ACTIONS="true").stderr
    assert "::error file=bad.yaml,line=5::malformed ticket id 'REQ-12'" in offline


def test_no_annotations_outside_github(cli: Callable[..., object], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    assert "::error" not in cli("validate", "bad.yaml", expect=1).stderr


def test_json_stays_valid_and_summary_is_appended(
    cli: Callable[..., object], tmp_path: Path, summary: Path
) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    gha = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    plan = json.loads(cli("plan", "good.yaml", "--format", "json", **gha).stdout)
    assert plan["summary"]["update"] == 1
    cli("drift", "good.yaml", "--format", "json", expect=2, **gha)
    text = summary.read_text()
    assert text.startswith("## Earlier step\n**Plan:** 1 to update, 0 unchanged.")
    assert '| priority | `"Low"` | `"Critical"` |' in text
    assert "**Drift:** 1 drifted" in text and "Last updated by" in text


def test_no_summary_outside_github(
    cli: Callable[..., object], tmp_path: Path, summary: Path
) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    cli("plan", "good.yaml", GITHUB_STEP_SUMMARY=str(summary))
    assert summary.read_text() == "## Earlier step\n"
