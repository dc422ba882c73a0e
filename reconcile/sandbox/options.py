"""The sandbox's options and their fixed, documented defaults.

The defaults are chosen so that ``reconcile sandbox serve --demo`` needs no other flag.
The secret is public: the sandbox is for local use only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_TENANT_ID = "3f2c9b7e-5d41-4a8e-9c07-6b1e2d4f8a90"
DEFAULT_REALM = "demo"
DEFAULT_SECRET = "sandbox-secret"
DEFAULT_TOKEN_LIFETIME = 3600
"""An hour: long enough to follow the quick start without a token expiring mid-way."""
DEFAULT_SCOPE = "openid tickets:read tickets:write"
DEFAULT_RETRY_AFTER = 1
MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this are answered 413."""


class SandboxError(Exception):
    """A sandbox that cannot start: bad option, unreadable seed file, port in use."""


@dataclass(frozen=True)
class Client:
    """A client of the token endpoint (``client_credentials`` grant).

    Its tokens carry ``sub`` and ``preferred_username`` ``service-account-<client_id>``
    (Keycloak's convention), its ``roles`` as realm roles, its ``teams``, and the scopes
    of ``scope`` (a request may ask for fewer with the ``scope`` form field).
    """

    client_id: str
    secret: str
    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    scope: str = DEFAULT_SCOPE

    @property
    def sub(self) -> str:
        return f"service-account-{self.client_id}"

    @classmethod
    def parse(cls, spec: str) -> Client:
        """Parse ``ID:SECRET[:ROLE[:TEAM,...]]``; raise :class:`SandboxError` if malformed."""
        parts = spec.split(":")
        if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
            raise SandboxError(
                f"client {spec.split(':')[0]!r}: expected ID:SECRET[:ROLE[:TEAM,...]]"
            )
        roles = (parts[2],) if len(parts) > 2 and parts[2] else ()
        teams = tuple(t for t in parts[3].split(",") if t) if len(parts) > 3 else ()
        return cls(client_id=parts[0], secret=parts[1], roles=roles, teams=teams)


@dataclass
class SandboxOptions:
    """Everything ``reconcile sandbox serve`` can be told; the CLI flags map one to one.

    ``port=0`` picks a free port (read it back from ``Sandbox.base_url``). ``clients``
    takes :class:`Client` objects or ``ID:SECRET[:ROLE[:TEAM,...]]`` strings.
    Seeding (``demo``, ``seed``, ``tickets``) only happens on an empty database: a
    ``db`` file that already holds ticket types is served as it is.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str | Path | None = None
    demo: bool = False
    seed: str | Path | None = None
    tickets: int = 0
    secret: str = DEFAULT_SECRET
    tenant_id: str = DEFAULT_TENANT_ID
    realm: str = DEFAULT_REALM
    clients: tuple[Client | str, ...] | list[Client | str] = ()
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    tls_cert: str | Path | None = None
    tls_key: str | Path | None = None
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: int | str = DEFAULT_RETRY_AFTER
    """Seconds, or any text: a string is sent as the ``Retry-After`` value as it is
    (``"soon"``, ``"-5"``, ``""``), to test clients against malformed headers."""
    fault_seed: int | None = None
    unauthorized_requests: int = 0
    """The first N API requests (after the other faults) answer 401 ``UNAUTHORIZED``, as
    for a token the identity provider revoked; later ones are served normally."""
    list_item_drop: tuple[str, ...] = ()
    """Keys removed from every item of a list answer (``data``, ``etag``, ...)."""
    list_item_set: dict[str, Any] = field(default_factory=dict)
    """Keys set on every item of a list answer, to these JSON values (``{"etag": ""}``)."""
    get_drop: tuple[str, ...] = ()
    """Keys removed from every GET ticket answer."""
    get_set: dict[str, Any] = field(default_factory=dict)
    """Keys set on every GET ticket answer."""
    token_set: dict[str, Any] = field(default_factory=dict)
    """Keys set on every answer of the token endpoint that grants a token, to these JSON
    values (``{"expires_in": "300"}``, ``{"access_token": "opaque"}``; no CLI flag)."""
    ticket_types_answer: list[Any] | None = None
    """The ``data`` of every ticket-type answer instead of the stored types: shapes a real
    tenant may answer that the store cannot hold (two types of one prefix; no CLI flag)."""
    list_total: int | None = None
    """The ``total`` that list answers give instead of the true count."""
    list_ignore_page: bool = False
    """List answers are always the first page, whatever ``page`` asks."""
    list_fail_pages: tuple[int, ...] = ()
    """These list pages answer 500 ``INTERNAL_SERVER_ERROR``, every time (a listing that
    fails part of the way; no CLI flag)."""
    no_list: bool = False
    """The list endpoint answers 404 ``NOT_FOUND``, as on a server without one (clients
    read one GET per ticket)."""
    slow_body_ms: float = 0.0
    """Send answer bodies one byte every this many milliseconds (after the work is done:
    a write has committed), on ``slow_routes`` or, if those are empty, every API route."""
    slow_routes: tuple[str, ...] = ()
    """Route names for ``slow_body_ms``: ``ticket_type``, ``list``, ``get``, ``create``,
    ``update``."""
    verbose: bool = False
    write_delay_ms: float = 0.0
    """Sleep between a PATCH's etag check and its compare-and-swap: widens the race window
    so that tests can show the swap, not the check, decides (no CLI flag)."""
    fail_writes: int = 0
    """The first N PATCHes answer 500 before any work: nothing commits (no CLI flag)."""
    fail_creates: int = 0
    """The first N creates answer 500 before any work: nothing commits (no CLI flag)."""
    hold_tickets: tuple[str, ...] = ()
    """PATCHes of these display IDs wait before any work until ``Sandbox.release_held()``,
    then answer 500 without committing (no CLI flag)."""
    hold_after_commits: int | None = None
    """After this many committed writes, later writes still commit but their answers wait
    until ``Sandbox.release_held()`` (no CLI flag)."""
    echo_token_form: bool = False
    """The token endpoint quotes the request body it refused in ``error_description``,
    as a verbose identity provider does: the client secret comes back URL-encoded."""
    refuse_fields: tuple[str, ...] = ()
    """Field UUIDs whose PATCH a tenant rule refuses (400 ``INPUT_VALIDATION_FAILURE``)
    with a message and reason that quote the value sent (no CLI flag)."""

    def check(self) -> None:
        """Raise :class:`SandboxError` naming every option that is out of range."""
        problems = []
        if self.demo and self.seed is not None:
            problems.append("--demo and --seed cannot be used together")
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("--tls-cert and --tls-key go together")
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} is not in 0..65535")
        if self.tickets < 0:
            problems.append("--tickets cannot be negative")
        if self.token_lifetime <= 0:
            problems.append("--token-lifetime must be positive")
        if self.latency_ms < 0:
            problems.append("--latency-ms cannot be negative")
        if self.fail_writes < 0:
            problems.append("fail_writes cannot be negative")
        if self.fail_creates < 0:
            problems.append("fail_creates cannot be negative")
        if self.hold_after_commits is not None and self.hold_after_commits < 0:
            problems.append("hold_after_commits cannot be negative")
        if isinstance(self.retry_after, int) and self.retry_after < 0:
            problems.append("--retry-after cannot be negative (give it as text to send it as is)")
        if self.unauthorized_requests < 0:
            problems.append("--unauthorized-requests cannot be negative")
        if self.list_total is not None and self.list_total < 0:
            problems.append("--list-total cannot be negative")
        if self.slow_body_ms < 0:
            problems.append("--slow-body-ms cannot be negative")
        routes = ("ticket_type", "list", "get", "create", "update")
        for route in self.slow_routes:
            if route not in routes:
                problems.append(f"--slow-route {route!r} is not one of {', '.join(routes)}")
        for name in ("fail_rate", "drop_after_commit_rate", "rate_limit_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"--{name.replace('_', '-')} {value} is not in 0..1")
        if not self.secret:
            problems.append("--secret cannot be empty")
        if problems:
            raise SandboxError("; ".join(problems))

    def parsed_clients(self) -> list[Client]:
        return [c if isinstance(c, Client) else Client.parse(c) for c in self.clients]
