"""``reconcile demo``: the whole loop on the built-in sandbox, in one go.

Starts a demo sandbox on a free loopback port, then runs the real commands against
it, handing them the sandbox's settings (:class:`GivenSettings`): plan, apply (which
creates the ticket declared by its key and writes its id back), plan again (no
changes), apply again (nothing created twice), a manual edit by another user, drift.
The commands work on a temporary copy of the manifests: write-back never edits the
repository's (or the installed package's) files.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import click

from reconcile.auth import StaticToken
from reconcile.cli.apply import apply
from reconcile.cli.options import GivenSettings
from reconcile.cli.plan import drift, plan
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.errors import ExitStatus, ReconcileError
from reconcile.manifest import DesiredTicket, load_manifests, resolve_tickets
from reconcile.sandbox import DEMO_WRITER, Sandbox, SandboxOptions
from reconcile.schema import Field

DEMO_MANIFESTS = "demo_manifests"
"""The example manifests, package data of ``reconcile`` (``manifests/`` in the repository
is a link to them, so the README's commands and the demo read the same files)."""

KEY_FIELD = "external_ref"
"""The demo types' text field that holds a declared ticket's key."""

EDITOR = "jdoe"
"""The colleague who edits a managed field by hand in the demo."""


@click.command()
@click.argument(
    "manifests",
    required=False,
    type=click.Path(exists=True, path_type=Path),
)
@click.pass_context
def demo(ctx: click.Context, manifests: Path | None) -> ExitStatus:
    """Show plan → apply → plan (no changes) → drift on a built-in demo sandbox.

    MANIFESTS defaults to the example manifests that ship with reconcile (the
    repository's manifests/ directory).
    """
    with contextlib.ExitStack() as stack:
        if manifests is None:
            manifests = stack.enter_context(as_file(files("reconcile") / DEMO_MANIFESTS))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reconcile-demo-")))
        copy = work / "manifests"
        if manifests.is_dir():
            shutil.copytree(manifests, copy)
        else:
            copy.mkdir()
            shutil.copy2(manifests, copy / manifests.name)
        click.secho(f"Working on a copy of {manifests} in {copy}", dim=True)
        return _run_demo(ctx, copy)


def _run_demo(ctx: click.Context, manifests: Path) -> ExitStatus:
    with Sandbox(SandboxOptions(port=0, demo=True)) as sandbox:
        click.secho(f"Started a demo sandbox at {sandbox.base_url}", bold=True)
        # The commands run with these settings alone: no flag, variable or config
        # file of the user's can point them elsewhere.
        ctx.obj = GivenSettings(
            Settings(
                base_url=sandbox.base_url,
                tenant_id=sandbox.tenant_id,
                realm=sandbox.realm,
                client_id=DEMO_WRITER.client_id,
                key_field=KEY_FIELD,
            ),
            secrets={"RECONCILE_CLIENT_SECRET": DEMO_WRITER.secret},
        )
        paths = str(manifests)
        _step(ctx, plan, [paths], ExitStatus.OK)
        _step(ctx, apply, [paths, "--auto-approve"], ExitStatus.OK)
        _step(ctx, plan, [paths, "--detailed-exitcode"], ExitStatus.OK)
        _step(ctx, apply, [paths, "--auto-approve"], ExitStatus.OK)
        _edit_by_hand(sandbox, manifests)
        _step(ctx, drift, [paths], ExitStatus.CHANGES)
    click.secho(
        "\nDemo complete: plan, apply (one ticket created, its id written back), no-op plan,"
        " an apply that created nothing, and drift all behaved.",
        bold=True,
    )
    return ExitStatus.OK


def _step(
    ctx: click.Context, command: click.Command, args: list[str], expected: ExitStatus
) -> None:
    """Run ``command`` with ``args`` as the command line would, with the demo's settings."""
    name = command.name or ""
    click.secho(f"\n$ reconcile {name} {' '.join(args)}", bold=True)
    with command.make_context(name, args, parent=ctx) as context:
        status = command.invoke(context)
    click.secho(f"(exit {int(status)})", dim=True)
    if status != expected:
        raise ReconcileError(f"demo step `reconcile {name} {' '.join(args)}` exited {int(status)}")


def _edit_by_hand(sandbox: Sandbox, manifests: Path) -> None:
    """Change one managed field as a colleague would in the web UI."""
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    token = StaticToken(sandbox.token(sub=EDITOR, roles=["ticket_admin"], teams=[]))
    with TicketingClient(settings, token) as client:
        schema = client.get_schema()
        desired = resolve_tickets(load_manifests([manifests]), schema, KEY_FIELD)
        ticket, field = _editable_field(desired)
        live = client.get_ticket(ticket.name)
        value = _another_value(field, ticket.values[field.id])
        client.update_ticket(ticket.name, live.etag, {field.id: value})
    click.secho(
        f"\n# {EDITOR} changes {ticket.name} {field.name} to {value!r} in the web UI", bold=True
    )


def _editable_field(desired: list[DesiredTicket]) -> tuple[DesiredTicket, Field]:
    for ticket in (d for d in desired if d.id is not None):
        for field in ticket.type.fields:
            managed = field.id in ticket.values and field.id not in ticket.sensitive
            if managed and field.type in ("select", "text") and not field.required:
                return ticket, field
    raise ReconcileError("the demo manifests manage no text or select field to edit")


def _another_value(field: Field, current: Any) -> Any:
    if field.type == "select" and field.options:
        return next(option for option in field.options if option != current)
    return f"{current} (edited by hand)"
