"""Help and shell completion: every command's --help ends with examples that exist."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from test_workflows import check_command

from reconcile.cli import cli
from reconcile.cli.examples import EXAMPLES

from cli_runner import run_cli


def _commands(command: click.Command, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``command`` (the top group imports its commands on demand)."""
    if not isinstance(command, click.Group):
        return
    context = click.Context(command)
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        assert sub is not None
        sub_path = f"{path} {name}".strip()
        yield sub_path, sub
        yield from _commands(sub, sub_path)


COMMANDS = dict(_commands(cli))


def _argv(example: str) -> list[str]:
    """The reconcile command of an example line: inside ``$(...)``, before ``>``."""
    if "$(" in example:
        example = example[example.index("$(") + 2 : example.rindex(")")]
    return shlex.split(example.split(" > ")[0])


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_help_ends_with_examples_of_real_options(path: str) -> None:
    result = run_cli([*path.split(), "--help"], {})
    assert result.exit_code == 0, result.stderr
    tail = result.stdout.rstrip().splitlines()[-len(EXAMPLES[path]) - 1 :]
    assert tail[0].strip() == "Examples:"
    assert [line.strip() for line in tail[1:]] == [f"$ {e}" for e in EXAMPLES[path]]
    for example in EXAMPLES[path]:
        argv = _argv(example)
        assert argv[0] == "reconcile"
        check_command(argv[1:])


def test_no_examples_for_commands_that_do_not_exist() -> None:
    assert set(EXAMPLES) == set(COMMANDS)


def _complete(words: str) -> list[str]:
    env = {
        "_RECONCILE_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    result = run_cli([], env)
    assert result.exit_code == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_shell_completion_completes_commands_options_and_choices() -> None:
    assert _complete("reconcile pl") == ["plan"]
    assert "--detailed-exitcode" in _complete("reconcile plan --de")
    assert _complete("reconcile plan --catalog-type ") == ["template", "agent", "user"]
    assert _complete("reconcile drift --format j") == ["json"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_readme_bash_completion_line_works() -> None:
    """What the README says to put in ~/.bashrc, run in bash with the installed command."""
    reconcile = Path(sys.executable).parent / "reconcile"
    line = 'eval "$(_RECONCILE_COMPLETE=bash_source reconcile)"'
    assert line in (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    script = (
        f"{line}\n"
        "COMP_WORDS=(reconcile dr); COMP_CWORD=1; _reconcile_completion reconcile\n"
        'echo "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(reconcile.parent) + ":/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["drift"]
