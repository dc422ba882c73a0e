"""The ``reconcile`` command line: parse, call the library, render, exit.

Every command exits 0 on success and 1 on any error (a usage error included, so a
CI job never reads a typo as drift); 2 only where a command documents "changes
present". This module is the one boundary that maps exceptions to exit statuses, and
everything a command writes passes through the safe output streams installed here
(secrets masked, invisible characters escaped, workflow commands defused).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from typing import NamedTuple

import click

from reconcile import __version__
from reconcile.cli.examples import add_examples
from reconcile.errors import ExitStatus, ManifestError, ReconcileError


class Command(NamedTuple):
    """Where a command lives, and its one-line summary for ``reconcile --help``."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, Command] = {
    "plan": Command("reconcile.cli.plan", "plan", "Show what apply would change."),
    "apply": Command("reconcile.cli.apply", "apply", "Make the live tickets match the manifests."),
    "drift": Command(
        "reconcile.cli.plan", "drift", "Tell whether live tickets still match (exit 2: drift)."
    ),
    "watch": Command(
        "reconcile.cli.watch", "watch", "Compare (and heal) continuously, with metrics."
    ),
    "whoami": Command("reconcile.cli.whoami", "whoami", "Show what the token is allowed to do."),
    "sandbox": Command(
        "reconcile.cli.sandbox", "sandbox", "Run a local emulator of the ticketing API."
    ),
    "demo": Command("reconcile.cli.demo", "demo", "Run plan, apply and drift on a sandbox."),
    "import": Command("reconcile.cli.import_", "import_", "Write a manifest for existing tickets."),
    "validate": Command(
        "reconcile.cli.validate", "validate", "Check the manifests without network."
    ),
    "schema": Command(
        "reconcile.cli.schema", "schema", "The manifest format and the tenant's ticket types."
    ),
    "adopt": Command(
        "reconcile.cli.adopt", "adopt", "Write drifted live values back into the manifests."
    ),
    "undo": Command(
        "reconcile.cli.undo", "undo", "Restore the values that a journal's writes overwrote."
    ),
}
"""Command name -> where it lives and its summary: a command's module is imported when
it runs, so ``reconcile --version``, ``--help`` or ``validate`` import only what they
need, not requests, the sandbox's WSGI stack or the HTML templates (issue 11). The
summary is the command's ``short_help`` (as pip's command table holds its summaries):
``reconcile --help`` lists the commands without importing any of them.
"""


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            where = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(where.module), where.attribute)
            command.short_help = where.summary
            add_examples(command, cmd_name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMANDS`, without importing a command module."""
        rows = [(name, COMMANDS[name].summary) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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
    # At exit the interpreter's last collections walk every object still alive (modules,
    # commands, what the command read) only to free them just before the process ends:
    # about 10 ms of a `reconcile validate` of 60. Frozen, they are skipped; atexit
    # handlers still run and stdout and stderr are still flushed (Spack and Synapse do
    # the same). What is lost are finalizers of objects in cycles still alive at exit,
    # which Python does not promise to run. Registered once however often main() runs.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)

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
