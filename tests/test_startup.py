"""Start-up imports only what a command needs (issue 11): checked by module, not by time.

Timing lives in ``bench/`` (``start: reconcile --version``); these tests pin what makes
it: the modules a command loads. Each runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from reconcile.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(sys.modules)
import json
sys.stderr.write("\\nMODULES " + json.dumps(loaded))
"""


def loaded_by(*argv: str, env: dict[str, str | None] | None = None) -> set[str]:
    # Not measured by coverage (patch = ["subprocess"]): it would load its own modules.
    given = {**os.environ, **(env or {})}
    env = {
        k: v for k, v in given.items() if v is not None and not k.startswith("COVERAGE_PROCESS_")
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )  # fmt: skip
    assert done.returncode == 0 and "Error" not in done.stderr, done.stderr
    line = done.stderr.rsplit("\nMODULES ", 1)[-1]
    return set(json.loads(line))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_version_loads_click_and_no_settings_http_yaml_or_metadata() -> None:
    modules = loaded_by("--version")
    assert "click" in modules and "reconcile.cli" in modules
    heavy = {"requests", "urllib3", "yaml", "ruamel", "jinja2", "logging", "traceback"}
    assert top_level(modules) & heavy == set()
    assert {"importlib.metadata", "reconcile.config", "reconcile.client"} & modules == set()
    commands = {m for m in modules if m.startswith("reconcile.cli.")}
    assert commands <= {"reconcile.cli.output", "reconcile.cli.examples"}  # no command module


@pytest.mark.parametrize("argv", [("validate", "manifests"), ("validate", "--help")])
def test_validate_loads_no_http_client(argv: tuple[str, ...]) -> None:
    modules = loaded_by(*argv)
    assert "reconcile.cli.validate" in modules
    assert top_level(modules) & {"requests", "urllib3"} == set()
    assert {"reconcile.client", "reconcile.manager"} & modules == set()


def test_validate_reads_the_shipped_manifests_fast_and_loads_only_what_it_needs() -> None:
    """Every shipped manifest (a policy, comments quoting commands) takes the fast reader,
    so PyYAML is not even imported; nor the schema without a lock, nor the classes of
    what resolving makes, nor logging, nor tomllib for this repository's pyproject.toml,
    which names reconcile as a script only."""
    modules = loaded_by("validate", "manifests")
    assert {"reconcile.manifest.rapid", "reconcile.validation"} <= modules
    unneeded = {"yaml", "tomllib", "tomli", "logging", "difflib"}
    assert modules & unneeded == set()
    ours = {"reconcile.schema", "reconcile.manifest.resolve", "reconcile.manifest.desired"}
    assert ours & modules == set()
    assert "reconcile.cli.logs" not in modules


@pytest.mark.parametrize(("output", "renderer"), [("text", "text"), ("json", "json")])
def test_a_plan_loads_only_the_renderer_it_writes_with(
    output: str, renderer: str, reconcile_env: dict[str, str | None]
) -> None:
    modules = loaded_by("plan", "manifests/network", "--format", output, env=reconcile_env)
    renderers = {m for m in modules if m.startswith("reconcile.render.")}
    assert renderers - {"reconcile.render.safe", "reconcile.render._values"} == {
        f"reconcile.render.{renderer}"
    }
    assert "jinja2" not in top_level(modules)


def test_help_lists_every_command_with_its_summary_and_imports_none() -> None:
    """``reconcile --help`` took 0.66 s importing every command for its one-line help."""
    from reconcile.cli import COMMANDS, cli

    modules = loaded_by("--help")
    assert {m for m in modules if m.startswith("reconcile.cli.")} <= {
        "reconcile.cli.output",
        "reconcile.cli.examples",
    }
    assert top_level(modules) & {"requests", "urllib3", "yaml", "jinja2", "cheroot"} == set()
    shown = subprocess.run(
        [sys.executable, "-m", "reconcile", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    ).stdout  # fmt: skip
    listed = shown.split("Commands:\n", 1)[1].splitlines()
    assert [line.split(None, 1) for line in listed] == [
        [name, COMMANDS[name].summary] for name in sorted(COMMANDS)
    ]
    # Once a command is loaded its own help says the same summary.
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None and command.get_short_help_str(200) == COMMANDS[name].summary
