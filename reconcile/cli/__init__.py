"""The ``reconcile`` command line: parse, call the library, render, exit.

Every command exits 0 on success and 1 on any error (a usage error included, so a
CI job never reads a typo as drift); 2 only where a command documents "changes
present". This module is the one boundary that maps exceptions to exit statuses, and
everything a command writes passes through the safe output streams installed here
(secrets masked, invisible characters escaped, workflow commands defused).
"""

from __future__ import annotations

import gc
import importlib
import sys

import click

from reconcile import __version__
from reconcile.cli.examples import add_examples
from reconcile.errors import ExitStatus, ManifestError, ReconcileError

COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("reconcile.cli.plan", "plan"),
    "apply": ("reconcile.cli.apply", "apply"),
    "drift": ("reconcile.cli.plan", "drift"),
    "watch": ("reconcile.cli.watch", "watch"),
    "whoami": ("reconcile.cli.whoami", "whoami"),
    "sandbox": ("reconcile.cli.sandbox", "sandbox"),
    "demo": ("reconcile.cli.demo", "demo"),
    "import": ("reconcile.cli.import_", "import_"),
    "validate": ("reconcile.cli.validate", "validate"),
    "schema": ("reconcile.cli.schema", "schema"),
    "adopt": ("reconcile.cli.adopt", "adopt"),
    "undo": ("reconcile.cli.undo", "undo"),
}
"""Command name -> (module, attribute): a command's module is imported when it runs.

``reconcile --version`` or ``validate`` then import only what they need, not
requests, the sandbox's WSGI stack or the HTML templates (issue 11: start-up).
"""


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            add_examples(command, cmd_name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"reconcile, version {__version__}")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Declare ticket fields in YAML; plan, apply and detect drift against the live tenant."""


GC_THRESHOLD = 200_000
"""Allocations between two runs of the cycle collector's youngest generation."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with reconcile's exit statuses (never click's 2 for usage)."""
    from reconcile.cli.output import safe_output

    # A plan builds hundreds of thousands of small objects and frees almost none in
    # cycles: at CPython's default threshold (700) the cycle collector ran about 190
    # times in a 10,000-ticket plan for 0.2-0.3 s (10-15 %) and found ~500 objects.
    # mypy (build.py) sets the same threshold for the same reason. A process setting, so the CLI
    # makes it, not the library (a Python caller keeps its own).
    gc.set_threshold(GC_THRESHOLD, 30, 30)

    with safe_output():
        try:
            status = _run(argv)
        except Exception:  # a bug: its traceback still goes through the secret scrubber
            import traceback  # only for a bug: not on every start

            click.echo("Error: unexpected error (a bug in reconcile); traceback:", err=True)
            traceback.print_exc()
            status = ExitStatus.ERROR
    sys.exit(int(status or 0))


def _run(argv: list[str] | None) -> int:
    try:
        status = cli.main(args=argv, prog_name="reconcile", standalone_mode=False)
    except click.exceptions.UsageError as error:
        error.show()
        status = ExitStatus.ERROR
    except click.exceptions.Abort as error:
        if isinstance(error.__context__, KeyboardInterrupt):  # click's wrapping of Ctrl-C
            click.echo("Interrupted.", err=True)
            status = ExitStatus.SIGINT
        else:
            click.echo("Aborted.", err=True)
            status = ExitStatus.ERROR
    except click.exceptions.Exit as done:
        status = done.exit_code
    except click.ClickException as error:
        error.show()
        status = ExitStatus.ERROR
    except ReconcileError as error:
        click.echo(f"Error: {error}", err=True)
        from reconcile.cli.output import in_github_actions, workflow_command
        from reconcile.render.github import github_annotations

        if isinstance(error, ManifestError) and in_github_actions():
            for line in github_annotations(error.problems):
                workflow_command(line)
        status = ExitStatus.ERROR
    except OSError as error:  # a file a command had to read or write
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"Error: {where}{error.strerror or error}", err=True)
        status = ExitStatus.ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        status = ExitStatus.SIGINT
    return int(status or 0)
