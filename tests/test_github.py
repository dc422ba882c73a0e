"""GitHub Actions: manifest errors as annotations on stderr, Markdown in the step summary,
and no untrusted text (ticket data, file names) that the runner could take for a command."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox_api import edit_by_hand, field_ids

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


# --------------------------------------------------------------------------- untrusted text


def runner_commands(text: str) -> list[str]:
    """The workflow commands the Actions runner would act on in ``text``, by its parser:
    lines split at ``\\r`` and ``\\n``; ``::name …::`` after leading whitespace, or
    ``##[name …]`` anywhere in a line."""
    names = []
    for line in re.split(r"\r\n|\r|\n", text):
        stripped = line.lstrip()
        if stripped.startswith("::") and "::" in stripped[2:]:
            names.append(stripped[2:].split("::", 1)[0].split(" ", 1)[0])
        old = re.search(r"##\[([^\]]*)\]", line)
        if old:
            names.append(old.group(1).split(" ", 1)[0])
    return names


HOSTILE = (
    "<p>first line</p>\n"
    "::error file=manifests/x.yaml,line=1::forged by the ticket\n"
    "   ::add-mask::everything\n"
    "\u00a0::stop-commands::forged\n"
    "text\r::warning::after a carriage return\n"
    "inline ##[error]old syntax\n"
    "<p>last line</p>"
)


def test_ticket_data_cannot_act_as_a_workflow_command(
    cli: Callable[..., object], sandbox: Any, tmp_path: Path
) -> None:
    description = field_ids(sandbox)["description"]
    edit_by_hand(sandbox, "REQ-0509", {description: HOSTILE})
    manifest = HOSTILE.replace("first line", "changed first line").replace("\r", " ")
    (tmp_path / "m.yaml").write_text(
        yaml.safe_dump({"tickets": [{"id": "REQ-0509", "fields": {"description": manifest}}]})
    )
    outputs = [
        cli("plan", "m.yaml", GITHUB_ACTIONS="true"),
        cli("plan", "m.yaml", "--format", "markdown", GITHUB_ACTIONS="true"),
        cli("drift", "m.yaml", expect=2, GITHUB_ACTIONS="true"),
        cli("import", "REQ-0509", "--fields", "description", GITHUB_ACTIONS="true"),
    ]
    for result in outputs:
        text = result.stdout + result.stderr
        assert "forged by the ticket" in text  # shown, as text
        assert runner_commands(text) == [], text
    plain = cli("plan", "m.yaml").stdout  # outside Actions nothing is rewritten but \r
    assert "::error file=manifests/x.yaml" in plain and "\r" not in plain
    data = cli("plan", "m.yaml", "--format", "json", GITHUB_ACTIONS="true").stdout
    [change] = json.loads(data)["changes"]
    assert change["fields"][0]["before"] == HOSTILE  # JSON stays exact


def test_file_names_cannot_act_as_a_workflow_command(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "ok\n::warning::forged by a file name.yaml").write_text(BAD)
    result = cli("validate", "m", expect=1, GITHUB_ACTIONS="true")
    text = result.stdout + result.stderr
    assert "forged by a file name" in text
    assert set(runner_commands(text)) == {"error"}, text  # reconcile's own annotations only
    assert "::error file=m/ok%0A%3A%3Awarning%3A%3Aforged by a file name.yaml,line=5::" in text


def test_invisible_characters_are_escaped_in_terminal_output(
    cli: Callable[..., object], sandbox: Any, tmp_path: Path
) -> None:
    summary = field_ids(sandbox)["summary"]
    hostile = "evil\u202eexe.txt\u200b\u2028\x1b[8mhidden\x07\x7f\u0085"
    edit_by_hand(sandbox, "REQ-0509", {summary: hostile})
    (tmp_path / "m.yaml").write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n      summary: plain\n"
    )
    for fmt in ("text", "markdown"):
        out = cli("plan", "m.yaml", "--format", fmt).stdout
        assert "evil\\u202eexe.txt\\u200b\\u2028\\u001b[8mhidden\\u0007\\u007f\\u0085" in out
        assert not any(c in out for c in "\u202e\u200b\u2028\x1b\x07\x7f\u0085"), repr(out)
    data = cli("plan", "m.yaml", "--format", "json").stdout
    assert json.loads(data)["changes"][0]["fields"][0]["before"] == hostile
    assert "\u202e" not in data
