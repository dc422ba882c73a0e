"""Settings on the command line: options declared by the one table, numbers bounded.

Each bad value is refused with one line naming the setting and where it came from
(flag, variable or ``reconcile.yaml:line``), exit 1, no traceback, no request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from reconcile.cli import cli as group
from reconcile.config import FILE_KEYS, MAX_PARALLELISM, SPEC_BY_NAME, SPECS
from reconcile.sandbox import Sandbox

from cli_runner import run_cli

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")

BAD_NUMBERS = [
    # (setting, value as typed, value in YAML, what the error says)
    ("timeout", "inf", ".inf", "expected a finite number, got"),
    ("timeout", "nan", ".nan", "expected a finite number, got"),
    ("timeout", "1e999", "1e999", "expected a finite number, got"),
    ("timeout", "1e300", "1e300", "expected a number <= 3600, got 1e+300"),
    ("rate_limit", "-inf", "-.inf", "expected a finite number, got"),
    ("rate_limit", "1e-300", "1e-300", "expected a number >= 0.000277778, got 1e-300"),
    ("parallelism", "inf", ".inf", "expected an integer, got"),
    (
        "parallelism",
        str(MAX_PARALLELISM + 1),
        str(MAX_PARALLELISM + 1),
        "expected an integer <= 64",
    ),
    ("parallelism", "9" * 30, "9" * 30, "expected an integer <= 64, got 999"),
    ("parallelism", "1e300", "1e300", "expected an integer"),
    ("max_changes", "nan", ".nan", "expected an integer, got"),
]


def _one_error_line(stderr: str, source: str, setting: str, message: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert re.fullmatch(rf"Error: {re.escape(source)}: {setting}: .+", lines[0]), lines[0]
    assert message in lines[0]


@pytest.mark.parametrize(("setting", "typed", "in_yaml", "message"), BAD_NUMBERS)
def test_bad_numbers_are_one_line_errors_from_every_source(
    cli: Callable[..., object],
    sandbox: Sandbox,
    tmp_path: Path,
    setting: str,
    typed: str,
    in_yaml: str,
    message: str,
) -> None:
    flag = "--" + setting.replace("_", "-")
    command = "apply" if setting == "max_changes" else "plan"
    variable = f"RECONCILE_{setting.upper()}"
    before = sandbox.stats()["requests"]

    by_flag = cli(command, flag, typed, expect=1)
    _one_error_line(by_flag.stderr, flag, setting, message)

    by_env = cli(command, expect=1, **{variable: typed})
    _one_error_line(by_env.stderr, variable, setting, message)

    (tmp_path / "reconcile.yaml").write_text(f"realm: demo\n{setting}: {in_yaml}\n")
    by_file = cli(command, expect=1)
    _one_error_line(by_file.stderr, "reconcile.yaml:2", setting, message)
    assert sandbox.stats()["requests"] == before


def test_the_largest_parallelism_is_accepted(cli: Callable[..., object], tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("tickets:\n  - id: REQ-0509\n")
    cli("plan", "m.yaml", "--parallelism", str(MAX_PARALLELISM))


@pytest.mark.parametrize("command", ["plan", "drift", "apply", "import", "adopt", "watch"])
def test_every_setting_option_names_all_its_sources(command: str) -> None:
    """A setting's option comes from its table entry: its help names every variable."""
    options = [
        p
        for p in group.get_command(click.Context(group), command).params
        if isinstance(p, click.Option)
    ]
    settings = [(o, SPEC_BY_NAME[o.name]) for o in options if o.name in SPEC_BY_NAME]
    assert len(settings) >= 5
    for option, spec in settings:
        assert option.opts == [spec.flag]
        assert option.help and all(variable in option.help for variable in spec.env)
        # A secret (a webhook URL) is never read from the config file: its help says no key.
        assert (f"config {spec.name}" in option.help) == (spec.name in FILE_KEYS)
    assert "RECONCILE_CA_BUNDLE, REQUESTS_CA_BUNDLE" in run_cli(["plan", "--help"], {}).stdout


def test_the_readme_lists_every_setting() -> None:
    table = README[README.index("## Settings") :]
    for spec in SPECS:
        row = next(
            (r for r in table.splitlines() if r.startswith("|") and f"`{spec.name}`" in r), ""
        )
        assert row, f"README's settings table has no row for {spec.name}"
        for variable in spec.env:
            assert f"`{variable}`" in row, (spec.name, variable)
        if spec.flag:
            assert f"`{spec.flag}`" in row, (spec.name, spec.flag)


def test_pyproject_settings_reach_the_command_and_bad_ones_are_one_line(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text("tickets:\n  - id: REQ-0509\n")
    (tmp_path / "pyproject.toml").write_text('[tool.reconcile]\nmanifests = ["m.yaml"]\n')
    plan = json.loads(cli("plan", "--format", "json").stdout)  # manifests from pyproject
    assert plan["summary"]["unchanged"] == 1
    (tmp_path / "pyproject.toml").write_text("[tool.reconcile]\nparallelism = inf\n")
    _one_error_line(
        cli("plan", expect=1).stderr, "pyproject.toml:2", "parallelism", "expected an integer"
    )
