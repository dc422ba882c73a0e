"""The example GitHub workflows: they parse, call commands and flags that exist, and work.

Every ``reconcile ...`` line of every ``run:`` step is checked against the click command
tree, and the commands of the three workflows are driven in order against the sandbox:
plan with --out and Markdown, apply of the saved plan, plan/apply of the rest, drift.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import yaml

from reconcile.cli import cli as reconcile_cli
from reconcile.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "examples" / "github"
ORDER = ("reconcile-plan.yml", "reconcile-apply.yml", "reconcile-drift.yml")
EXPRESSIONS = {"matrix.shard": "1"}
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def _expand(text: str) -> str:
    return _EXPRESSION.sub(lambda m: EXPRESSIONS.get(m.group(1), "X"), text)


def _substitute(line: str, env: dict[str, str]) -> str:
    """``${NAME}`` replaced by the step's ``env`` value, as the shell would."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1), m.group()), line)


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def reconcile_lines(path: Path) -> list[list[str]]:
    """The argv of each ``reconcile`` command in the workflow's run steps, in order."""
    commands = []
    for step in _steps(yaml.safe_load(path.read_text())):
        script = step.get("run", "").replace("\\\n", " ")
        env = {k: _expand(str(v)) for k, v in (step.get("env") or {}).items()}
        for line in script.splitlines():
            line = _substitute(_expand(line), env).strip()
            if line.startswith("reconcile "):
                commands.append(shlex.split(line, comments=True))
    return commands


def split_redirect(argv: list[str]) -> tuple[list[str], str | None]:
    """``reconcile ... > FILE`` as (args after ``reconcile``, FILE)."""
    if ">" in argv:
        at = argv.index(">")
        return argv[1:at], argv[at + 1]
    return argv[1:], None


def check_command(args: list[str]) -> None:
    """Fail unless ``args`` names a command and only options that it has."""
    command: click.Command = reconcile_cli
    ctx = click.Context(reconcile_cli)
    rest = list(args)
    while isinstance(command, click.Group):
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {name!r} in: reconcile {' '.join(args)}"
        command = sub
    options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"{word} is not an option of {command.name}"
    try:
        command.make_context(command.name, rest)
    except click.BadParameter as error:  # the saved plan file exists only in CI
        assert "does not exist" in error.message, error.message


def test_workflows_parse_and_have_the_pieces() -> None:
    found = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert found == sorted(ORDER)
    plan, apply, drift = (yaml.safe_load((WORKFLOWS / n).read_text()) for n in ORDER)
    plan_text = (WORKFLOWS / "reconcile-plan.yml").read_text()
    assert "<!-- reconcile-plan -->" in plan_text and "updateComment" in plan_text
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in _steps(plan))
    assert apply["concurrency"] == {"group": "reconcile-apply", "cancel-in-progress": False}
    assert drift["jobs"]["drift"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert "schedule" in drift[True] and "push" in apply[True] and "pull_request" in plan[True]


@pytest.mark.parametrize("name", ORDER)
def test_every_reconcile_command_exists(name: str) -> None:
    commands = reconcile_lines(WORKFLOWS / name)
    assert commands, f"{name} runs no reconcile command"
    for argv in commands:
        check_command(split_redirect(argv)[0])


def test_a_typo_is_caught() -> None:
    with pytest.raises(AssertionError):
        check_command(["plan", "--detailed-exit-code"])
    with pytest.raises(AssertionError):
        check_command(["plans"])


def test_pre_commit_hook_runs_validate() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "reconcile-validate"
    check_command(shlex.split(hook["entry"])[1:])
    assert re.search(hook["files"], "manifests/a.yml") and re.search(hook["files"], "b.yaml")
    assert re.search(hook["exclude"], "reconcile.lock.yaml")
    assert not re.search(hook["exclude"], "manifests/network.yaml")


MANIFEST = """\
# Network team's tickets.
tickets:
  - id: REQ-0509
    fields:
      priority: Critical
      tags: [freeze, q4]
"""


def test_workflows_drive_the_sandbox_in_order(
    cli: Callable[..., object], sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "network.yaml").write_text(MANIFEST)
    summary = tmp_path / "summary.md"
    gha = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    statuses: list[tuple[str, int]] = []
    for name in ORDER:
        for argv in reconcile_lines(WORKFLOWS / name):
            args, redirect = split_redirect(argv)
            result = cli(*args, expect=None, **gha)
            statuses.append((" ".join(args), result.exit_code))
            if redirect:
                (tmp_path / redirect).write_text(result.stdout)
        if name == "reconcile-plan.yml":
            assert '| priority | `"Low"` | `"Critical"` |' in (tmp_path / "plan.md").read_text()
            saved = json.loads((tmp_path / "reconcile-plan.json").read_text())
            assert [c["id"] for c in saved["changes"]] == ["REQ-0509"]
            report = (tmp_path / "reconcile-plan.html").read_text()
            assert report.startswith("<!DOCTYPE html>") and ">REQ-0509</code>" in report
    assert statuses == [
        ("validate", 0),
        (
            "plan --format markdown --out reconcile-plan.json --html reconcile-plan.html "
            "--detailed-exitcode",
            2,
        ),
        ("apply --plan reconcile-plan.json", 0),
        ("plan --detailed-exitcode", 0),
        ("apply --auto-approve --max-changes 50", 0),
        ("adopt --ids", 0),
        ("drift --shard 1/4 --format markdown --html drift.html", 0),
    ]
    assert sandbox.stats()["writes"]["patches"] == 1
    text = summary.read_text()
    assert text.count("**Plan:** 1 to update") == 1 and "**Drift:**" in text

    # A manual edit by someone else: the nightly check fails visibly and names the editor.
    other = sandbox.token(sub="j.random", roles=["ticket_admin"], teams=())
    (tmp_path / "edit.yaml").write_text(MANIFEST.replace("Critical", "Low"))
    cli("apply", "edit.yaml", "--auto-approve", RECONCILE_TOKEN=other)
    shard = next(a for a in reconcile_lines(WORKFLOWS / "reconcile-drift.yml"))
    args = split_redirect(shard)[0]
    assert "1/4" in args
    drifted = [
        cli(*(f"{i}/4" if a == "1/4" else a for a in args), expect=None) for i in range(1, 5)
    ]
    assert sorted(r.exit_code for r in drifted) == [0, 0, 0, 2]
    report = next(r for r in drifted if r.exit_code == 2).stdout
    assert "Last updated by `j.random`" in report and "priority" in report


# --------------------------------------------------------------------------- linters users run

ALL_WORKFLOWS = sorted([*WORKFLOWS.glob("*.yml"), *(ROOT / ".github" / "workflows").glob("*.yml")])
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _uses(path: Path) -> list[str]:
    """Each ``uses:`` of the workflow as written, with its trailing comment."""
    return [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text().splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit_with_their_version(path: Path) -> None:
    uses = _uses(path)
    assert uses, f"{path.name} uses no action"
    for ref in uses:
        assert _PINNED.match(ref), f"{path.name}: {ref!r} is not pinned as owner/repo@SHA # vX.Y.Z"


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions_and_no_persisted_credentials(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert "permissions" in workflow, f"{path.name} leaves the token's default permissions"
    for step in _steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


def test_zizmor_finds_nothing() -> None:
    """zizmor, offline with its default settings, as users run it (it is a test extra)."""
    zizmor = Path(sys.executable).with_name("zizmor")
    result = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", *map(str, ALL_WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("name", ORDER)
def test_workflows_install_the_pinned_requirement_the_docs_name(name: str) -> None:
    """No placeholder owner or tag that may not exist: the reviewed requirement, set once."""
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    installs = [s for s in _steps(workflow) if s.get("name") == "Install reconcile"]
    assert installs  # one per job that runs reconcile
    for install in installs:
        assert install["env"] == {"RECONCILE_REQUIREMENT": "${{ vars.RECONCILE_REQUIREMENT }}"}
        assert 'pip install "$RECONCILE_REQUIREMENT"' in install["run"]
        assert '[ -z "$RECONCILE_REQUIREMENT" ]' in install["run"]  # unset: a clear error
    assert "OWNER" not in (WORKFLOWS / name).read_text()
    assert "`RECONCILE_REQUIREMENT`" in (ROOT / "docs" / "gitops.md").read_text()
