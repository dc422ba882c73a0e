"""Run the ``reconcile`` command in-process, with reconcile's own exit statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from click.testing import CliRunner

from reconcile.cli import main


@dataclass(frozen=True)
class CliResult:
    """What one in-process run of the ``reconcile`` command printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(
    args: Sequence[str], env: Mapping[str, str | None], stdin: str | None = None
) -> CliResult:
    """Run ``reconcile ARGS`` in-process through ``main`` (so exit statuses are reconcile's)."""
    with CliRunner().isolation(input=stdin, env=dict(env)) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())
