"""The ``reconcile`` command line: parse, call the library, render, exit.

Every command exits 0 on success and 1 on any error (a usage error included, so a
CI job never reads a typo as drift); 2 only where a command documents "changes
present". This module is the one boundary that maps exceptions to exit statuses, and
everything a command writes passes through the safe output streams installed here
(secrets masked, invisible characters escaped, workflow commands defused).
"""

from __future__ import annotations

import sys
import traceback

import click

from reconcile import __version__
from reconcile.cli.adopt import adopt
from reconcile.cli.apply import apply
from reconcile.cli.demo import demo
from reconcile.cli.examples import add_examples
from reconcile.cli.import_ import import_
from reconcile.cli.output import in_github_actions, safe_output, workflow_command
from reconcile.cli.plan import drift, plan
from reconcile.cli.sandbox import sandbox
from reconcile.cli.schema import schema
from reconcile.cli.undo import undo
from reconcile.cli.validate import validate
from reconcile.cli.watch import watch
from reconcile.cli.whoami import whoami
from reconcile.errors import ExitStatus, ManifestError, ReconcileError
from reconcile.render.github import github_annotations


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reconcile")
def cli() -> None:
    """Declare ticket fields in YAML; plan, apply and detect drift against the live tenant."""


for command in (
    plan,
    apply,
    drift,
    watch,
    whoami,
    sandbox,
    demo,
    import_,
    validate,
    schema,
    adopt,
    undo,
):
    cli.add_command(command)
add_examples(cli)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with reconcile's exit statuses (never click's 2 for usage)."""
    with safe_output():
        try:
            status = _run(argv)
        except Exception:  # a bug: its traceback still goes through the secret scrubber
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
