"""``reconcile whoami``: what the token says, and whether it can do a run. Never the token."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from reconcile.auth import Claims, preflight
from reconcile.cli.logs import setup_logging
from reconcile.cli.options import connection_options, settings_for
from reconcile.client import token_claims
from reconcile.errors import AuthError


@click.command()
@connection_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def whoami(output_format: str, **params: Any) -> None:
    """Show the token's identity, tenant, realm, scopes, roles, teams and expiry.

    Exits 1 when the token has expired or is for another tenant than the configured one.
    The token itself is never shown.
    """
    setup_logging(params.get("verbose") or 0)
    settings, secrets = settings_for(params)
    claims, source = token_claims(settings, secrets)
    now = time.time()
    write_problem = claims.write_problem(settings.write_roles, now)
    info = {
        "identity": claims.identity,
        "sub": claims.sub,
        "tenant_id": claims.tenant_id,
        "configured_tenant_id": settings.tenant_id,
        "realm": claims.realm,
        "scopes": list(claims.scopes),
        "roles": None if claims.roles is None else list(claims.roles),
        "teams": list(claims.teams),
        "expires_at": _iso(claims),
        "expired": claims.expired(now),
        "can_write": write_problem is None,
        "source": source,
    }
    if output_format == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        _print_text(info, claims, now, write_problem)
    try:
        preflight(claims, settings, write=False, now=now)
    except AuthError as error:
        click.echo(f"Error: {error}", err=True)
        raise click.exceptions.Exit(1) from None


def _print_text(
    info: dict[str, Any], claims: Claims, now: float, write_problem: str | None
) -> None:
    configured = info["configured_tenant_id"]
    if not configured:
        tenant_note = "(no tenant configured)"
    elif configured == claims.tenant_id:
        tenant_note = "(matches the configured tenant)"
    else:
        tenant_note = f"(does NOT match the configured tenant {configured})"
    sub = f" (sub {claims.sub})" if claims.sub and claims.sub != claims.identity else ""
    roles = "(no realm roles claim)" if claims.roles is None else ", ".join(claims.roles) or "-"
    rows = [
        ("identity", f"{claims.identity}{sub}"),
        ("tenant", f"{claims.tenant_id or '-'} {tenant_note}"),
        ("realm", claims.realm or "-"),
        ("scopes", " ".join(claims.scopes) or "-"),
        ("roles", roles),
        ("teams", ", ".join(claims.teams) or "-"),
        ("expires", _expiry(claims, now)),
        ("can write", "yes" if write_problem is None else f"no: {write_problem}"),
        ("source", info["source"]),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<11} {value}")


def _iso(claims: Claims) -> str | None:
    expires = claims.expires_at()
    return expires.isoformat().replace("+00:00", "Z") if expires else None


def _expiry(claims: Claims, now: float) -> str:
    expires = claims.expires_at()
    if expires is None or claims.exp is None:
        return "never (no exp claim)"
    left = claims.exp - now
    when = f"{expires:%Y-%m-%d %H:%M:%S} UTC"
    return (
        f"{when} (EXPIRED {_duration(-left)} ago)"
        if left <= 0
        else f"{when} (in {_duration(left)})"
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"
