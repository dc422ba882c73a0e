"""``reconcile sandbox``: run the local emulator of the ticketing API."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from reconcile.cli.output import write_raw
from reconcile.sandbox import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_REALM,
    DEFAULT_RETRY_AFTER,
    DEFAULT_SCOPE,
    DEFAULT_SECRET,
    DEFAULT_TENANT_ID,
    DEFAULT_TOKEN_LIFETIME,
    DEMO_WRITER,
    Sandbox,
    SandboxError,
    SandboxOptions,
    make_token,
)

_RATE = click.FloatRange(0.0, 1.0)


@click.group()
def sandbox() -> None:
    """Run a local emulator of the ticketing API (the playground and the test server)."""


@sandbox.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file that keeps state across restarts (default: in memory).",
)
@click.option("--demo", is_flag=True, help="Seed the demo tenant and register the demo clients.")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed ticket types and tickets from a YAML or JSON file.",
)
@click.option(
    "--tickets",
    type=click.IntRange(min=0),
    default=0,
    help="Generate this many more tickets (load work).",
)
@click.option(
    "--secret", default=DEFAULT_SECRET, show_default=True, help="HS256 secret of the tokens."
)
@click.option(
    "--tenant-id", default=DEFAULT_TENANT_ID, show_default=True, help="The tenant's UUID."
)
@click.option("--realm", default=DEFAULT_REALM, show_default=True, help="The realm name.")
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID:SECRET[:ROLE[:TEAM,...]]",
    help="Register a token-endpoint client (repeatable).",
)
@click.option(
    "--token-lifetime",
    type=click.IntRange(min=1),
    default=DEFAULT_TOKEN_LIFETIME,
    show_default=True,
    help="expires_in of issued tokens, in seconds.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Sleep this long in every API request.",
)
@click.option("--fail-rate", type=_RATE, default=0.0, help="Share of API requests answered 500.")
@click.option(
    "--drop-after-commit-rate",
    type=_RATE,
    default=0.0,
    help="Share of committed writes whose connection is dropped or answered 500.",
)
@click.option(
    "--rate-limit-rate", type=_RATE, default=0.0, help="Share of API requests answered 429."
)
@click.option(
    "--retry-after",
    default=str(DEFAULT_RETRY_AFTER),
    show_default=True,
    help="Retry-After of a 429: seconds, or any text, sent as it is (to test clients).",
)
@click.option("--fault-seed", type=int, help="Seed of the fault generator (deterministic faults).")
@click.option(
    "--echo-token-form",
    is_flag=True,
    help="Quote the refused request body in the token endpoint's error (a leaky IdP).",
)
@click.option(
    "--unauthorized-requests",
    type=click.IntRange(min=0),
    default=0,
    help="Answer the first N API requests 401 UNAUTHORIZED (a revoked token).",
)
@click.option(
    "--list-item-drop", multiple=True, metavar="KEY", help="Drop KEY from every list item."
)
@click.option(
    "--list-item-set",
    multiple=True,
    metavar="KEY=JSON",
    help="Set KEY of every list item to a JSON value.",
)
@click.option("--get-drop", multiple=True, metavar="KEY", help="Drop KEY from GET ticket answers.")
@click.option("--get-set", multiple=True, metavar="KEY=JSON", help="Set KEY of GET ticket answers.")
@click.option("--list-total", type=click.IntRange(min=0), help="The total that list answers claim.")
@click.option("--list-ignore-page", is_flag=True, help="List answers are always page 1.")
@click.option("--no-list", is_flag=True, help="The list endpoint answers 404 (no such route).")
@click.option(
    "--slow-body-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Send answer bodies one byte every MS milliseconds.",
)
@click.option(
    "--slow-route",
    "slow_routes",
    multiple=True,
    type=click.Choice(["ticket_type", "list", "get", "create", "update"]),
    help="Only these routes are slow (repeatable; default every API route).",
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def serve(**options: Any) -> None:
    """Serve the API; print the base URL once it accepts connections.

    Runs until interrupted (SIGINT or SIGTERM), then exits 0. Defaults need no flag:
    http://127.0.0.1:8080, tenant 3f2c9b7e-5d41-4a8e-9c07-6b1e2d4f8a90, realm demo,
    secret sandbox-secret (public: for local use only).
    """
    options["clients"] = tuple(options["clients"])
    retry_after = options["retry_after"]
    options["retry_after"] = int(retry_after) if retry_after.isdigit() else retry_after
    for name in ("list_item_set", "get_set"):
        options[name] = _json_assignments(name, options[name])
    for name in ("list_item_drop", "get_drop", "slow_routes"):
        options[name] = tuple(options[name])
    try:
        running = Sandbox(SandboxOptions(**options)).start()
    except SandboxError as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(running.base_url)
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _json_assignments(name: str, specs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=JSON`` options as a dict; a malformed one is a usage error naming it."""
    values: dict[str, Any] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        try:
            if not key or not sep:
                raise ValueError("expected KEY=JSON")
            values[key] = json.loads(text)
        except ValueError as error:
            flag = "--" + name.replace("_", "-")
            raise click.BadParameter(f"{spec!r}: {error}", param_hint=flag) from None
    return values


@sandbox.command()
@click.option("--secret", default=DEFAULT_SECRET, show_default=True, help="HS256 secret.")
@click.option("--tenant-id", default=DEFAULT_TENANT_ID, show_default=True, help="tenant_id claim.")
@click.option("--realm", default=DEFAULT_REALM, show_default=True, help="Realm of the issuer.")
@click.option("--sub", default=None, help="Subject (default: the demo writer's).")
@click.option(
    "--role", "roles", multiple=True, help="Realm role (repeatable; default ticket_writer)."
)
@click.option(
    "--team", "teams", multiple=True, help="Team (repeatable; default network and service-desk)."
)
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True)
@click.option(
    "--expires-in", type=int, default=DEFAULT_TOKEN_LIFETIME, show_default=True, help="Seconds."
)
def token(
    secret: str,
    tenant_id: str,
    realm: str,
    sub: str | None,
    roles: tuple[str, ...],
    teams: tuple[str, ...],
    scope: str,
    expires_in: int,
) -> None:
    """Print a JWT the sandbox accepts (by default the demo writer's identity)."""
    write_raw(  # printing the token is this command's job: around the secret scrubber
        make_token(
            secret=secret,
            tenant_id=tenant_id,
            realm=realm,
            sub=sub or DEMO_WRITER.sub,
            roles=roles or DEMO_WRITER.roles,
            teams=teams or DEMO_WRITER.teams,
            scope=scope,
            expires_in=expires_in,
        )
    )
