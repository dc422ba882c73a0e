"""Where the bearer token comes from, what it says, and whether it can do the run.

Three token sources, tried in this order by :func:`token_source_from`: a token file
(``--token-file``), the ``RECONCILE_TOKEN`` variable, and OAuth2 client credentials
(``RECONCILE_CLIENT_ID`` + ``RECONCILE_CLIENT_SECRET``). Client credentials fetch one
token for all worker threads and refresh it shortly before it expires, and once more
when the API answers 401 ``UNAUTHORIZED``.

:func:`preflight` decodes the token's claims (without verifying the signature: the
client has no key) and refuses, before the first API request, a token for another
tenant, an expired one, and for a write run one without scope ``tickets:write`` or
without any of the write roles.

Secret values (tokens, client secrets) are registered in
:data:`reconcile.redact.SECRETS`, which scrubs server messages, log records and every
line the CLI writes. This module does no HTTP itself; the token
endpoint is reached through a callable the client module provides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import jwt

from reconcile.config import Settings
from reconcile.errors import AuthError
from reconcile.redact import SECRETS

TokenPost = Callable[[str, Mapping[str, str]], Mapping[str, Any]]
"""POSTs a form to the token endpoint and returns the JSON answer; raises AuthError."""

NEW_TOKEN_HINT = (
    "get a new token and set RECONCILE_TOKEN (or the token file) again; for the local "
    "sandbox: export RECONCILE_TOKEN=$(reconcile sandbox token). Client credentials "
    "(RECONCILE_CLIENT_ID and RECONCILE_CLIENT_SECRET) renew their tokens by themselves"
)
"""How to get out of an expired token, for every message that reports one."""

NO_CREDENTIALS = (
    "no credentials: give --token-file FILE, set RECONCILE_TOKEN, or set "
    "RECONCILE_CLIENT_ID and RECONCILE_CLIENT_SECRET (client credentials)"
)


class TokenSource(Protocol):
    """Hands out the current bearer token; shared by all worker threads."""

    description: str
    """Where the token comes from, for ``whoami`` and error messages (never the token)."""

    def token(self) -> str:
        """The token to send now."""
        ...

    def invalidate(self, token: str) -> bool:
        """Called after the API answered 401 UNAUTHORIZED to a request sent with ``token``;
        True when the source has (or will fetch) a new token worth one more try."""
        ...


class StaticToken:
    """A token given as it is (``RECONCILE_TOKEN``); it cannot be refreshed."""

    def __init__(self, token: str, description: str = "RECONCILE_TOKEN"):
        token = token.strip()
        if not token:
            raise AuthError(f"{description} is empty")
        SECRETS.add(token)
        self._token = token
        self.description = description

    def token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        """Nothing to refresh: False, so the client gives up after one 401."""
        return False


class FileToken:
    """A token read from a file (whitespace stripped), read again after a 401.

    Re-reading lets a sidecar that rotates the file (a Kubernetes projected token, a
    vault agent) hand a fresh token to a long run.
    """

    def __init__(self, path: Path):
        self.path = path
        self.description = f"token file {path}"
        self._lock = threading.Lock()
        self._token: str | None = None

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._read()
            return self._token

    def invalidate(self, token: str) -> bool:
        """Read the file again; True when it now holds another token (worth a retry)."""
        with self._lock:
            if self._token == token:
                self._token = None
        return self.token() != token

    def _read(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            _register_if_token_like(str(self.path))
            if isinstance(error, FileNotFoundError):
                raise AuthError(f"token file {self.path} does not exist") from None
            raise AuthError(
                f"cannot read token file {self.path}: {error.__class__.__name__}"
            ) from None
        token = text.strip()
        if not token:
            raise AuthError(f"token file {self.path} is empty")
        SECRETS.add(token)
        return token


class ClientCredentials:
    """OAuth2 client credentials: one token for every thread, refreshed before it expires.

    The token is refreshed when ``REFRESH_AT`` of its lifetime has passed, or 30 s before
    it expires, whichever comes first; ``invalidate`` (after a 401) drops it once, so
    that of many threads that saw the same 401 only the first causes a new request.
    """

    REFRESH_AT = 0.8
    REFRESH_BEFORE = 30.0

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        post: TokenPost,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        """``clock`` schedules refreshes; ``wall_clock`` (seconds since the epoch) reads the
        token's ``exp``. Tests pass a ``ManualClock``'s time for both."""
        SECRETS.add(client_secret)
        SECRETS.add(f"{client_id}:{client_secret}")  # an HTTP Basic credential
        self.token_url = token_url
        self.client_id = client_id
        self.description = f"client credentials (client_id {client_id})"
        self._secret = client_secret
        self._post = post
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0
        """How many tokens were fetched (tests and benchmarks read it)."""

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> bool:
        """Drop ``token`` (once, however many threads saw it refused); always True: the
        next :meth:`token` is a fresh one from the endpoint, even if it looks the same."""
        with self._lock:
            if self._token == token:
                self._token = None
        return True

    def _fetch(self) -> None:
        started = self._clock()
        answer = self._post(
            self.token_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
            },
        )
        self.fetches += 1
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token.strip():
            raise AuthError(f"the token endpoint {self.token_url} answered without an access_token")
        token = token.strip()
        SECRETS.add(token)
        lifetime = _expires_in(answer.get("expires_in"))
        remaining = _remaining(token, self._wall_clock())
        # The exp claim caps expires_in (exp is whole seconds, so a short token may live
        # less than expires_in says); an exp already past means skewed clocks: ignored.
        if remaining is not None and remaining > 0 and (lifetime is None or remaining < lifetime):
            lifetime = remaining
        self._token = token
        if lifetime is None:
            self._refresh_at = float("inf")  # refreshed only after a 401
        else:
            margin = min(self.REFRESH_BEFORE, lifetime * (1 - self.REFRESH_AT))
            self._refresh_at = started + max(lifetime - margin, 0.0)


TOKEN_LIKE_CHARS = 16
"""A file name at least this long that is no readable file may be a token or secret
pasted where its path belongs; shorter ones (``token``, ``tok.txt``) are shown."""


def _register_if_token_like(name: str) -> None:
    """Register a token file's name that cannot be read, when it is long enough to be
    the token itself: every output then masks it. A short name stays readable (and is
    not masked in every later line of the run, as a common word like ``token`` would be)."""
    if len(name) >= TOKEN_LIKE_CHARS:
        SECRETS.add(name)


def _remaining(token: str, now: float) -> float | None:
    """Seconds from ``now`` (this machine's clock) until the token's ``exp``, or None
    without one."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) - now if isinstance(exp, (int, float)) else None


def _expires_in(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().isdigit():
        return float(value)
    return None


def token_source_from(
    settings: Settings, env: Mapping[str, str], http: TokenPost | None
) -> TokenSource:
    """The token source for this run: token file, then ``RECONCILE_TOKEN``, then client
    credentials; :class:`AuthError` explaining the three ways when none is set up."""
    if settings.token_file is not None:
        return FileToken(settings.token_file)
    if env.get("RECONCILE_TOKEN", "").strip():
        return StaticToken(env["RECONCILE_TOKEN"], "RECONCILE_TOKEN")
    client_id = settings.client_id
    secret = _client_secret(env)
    if client_id and secret:
        settings.require("realm")
        if not settings.auth_url:
            settings.require("base_url")
        if http is None:
            raise AuthError("client credentials need an HTTP connection to the token endpoint")
        url = f"{settings.token_base_url}/realms/{settings.realm}/protocol/openid-connect/token"
        return ClientCredentials(url, client_id, secret, http)
    if client_id:
        raise AuthError(
            f"client_id {client_id} is set but no secret: set RECONCILE_CLIENT_SECRET "
            "or RECONCILE_CLIENT_SECRET_FILE"
        )
    if secret:
        raise AuthError(
            "a client secret is set but no client id: set RECONCILE_CLIENT_ID "
            "(or client_id in reconcile.yaml)"
        )
    raise AuthError(NO_CREDENTIALS)


def _client_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("RECONCILE_CLIENT_SECRET", "").strip()
    if secret:
        SECRETS.add(secret)
        return secret
    path = env.get("RECONCILE_CLIENT_SECRET_FILE", "").strip()
    if not path:
        return None
    try:
        secret = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        _register_if_token_like(path)
        raise AuthError(
            f"cannot read RECONCILE_CLIENT_SECRET_FILE {path}: {error.__class__.__name__}"
        ) from None
    if not secret:
        raise AuthError(f"RECONCILE_CLIENT_SECRET_FILE {path} is empty")
    SECRETS.add(secret)
    return secret


@dataclass(frozen=True)
class Claims:
    """What a token says about its bearer (decoded without a signature check).

    ``roles`` is None when the token has no ``realm_access.roles`` claim at all, which
    preflight does not hold against it (the server decides).
    """

    sub: str | None
    preferred_username: str | None
    tenant_id: str | None
    realm: str | None
    issuer: str | None
    scopes: tuple[str, ...]
    roles: tuple[str, ...] | None
    teams: tuple[str, ...]
    exp: int | None
    iat: int | None

    @classmethod
    def from_token(cls, token: str, source: str = "the token") -> Claims:
        """Decode ``token``; :class:`AuthError` (without the token's text) if it is no JWT."""
        try:
            payload = jwt.decode(
                token,
                options={"verify_signature": False, "verify_exp": False, "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise AuthError(
                f"{source} is not a valid JWT ({_jwt_reason(error)}): check that it is a "
                "bearer token for the ticketing API"
            ) from None
        issuer = _text(payload.get("iss"))
        realm = None
        if issuer and "/realms/" in issuer:
            realm = issuer.rsplit("/realms/", 1)[1].strip("/") or None
        scope = payload.get("scope")
        scopes = tuple(scope.split()) if isinstance(scope, str) else _strings(scope)
        access = payload.get("realm_access")
        roles = (
            _strings(access["roles"]) if isinstance(access, Mapping) and "roles" in access else None
        )
        return cls(
            sub=_text(payload.get("sub")),
            preferred_username=_text(payload.get("preferred_username")),
            tenant_id=_text(payload.get("tenant_id")),
            realm=realm,
            issuer=issuer,
            scopes=scopes,
            roles=roles,
            teams=_strings(payload.get("teams")),
            exp=_int(payload.get("exp")),
            iat=_int(payload.get("iat")),
        )

    @property
    def identity(self) -> str:
        return self.preferred_username or self.sub or "(unknown)"

    def expires_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.exp, timezone.utc) if self.exp is not None else None

    def expired(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.exp is not None and self.exp <= now

    def team_limit(self) -> tuple[str, ...] | None:
        """The teams whose tickets this token may update, when the contract limits it.

        A ``ticket_writer`` without ``ticket_admin`` may update only tickets whose team is
        null or one of its ``teams``; for any other token (an admin, a read-only one, one
        without a roles claim or with a tenant's own role names) None: no prediction.
        """
        if "tickets:write" not in self.scopes or self.roles is None:
            return None
        if "ticket_admin" in self.roles or "ticket_writer" not in self.roles:
            return None
        return self.teams

    def write_problem(self, write_roles: tuple[str, ...], now: float | None = None) -> str | None:
        """Why this token cannot update tickets, or None if it looks like it can."""
        if self.expired(now):
            return "it has expired"
        if "tickets:write" not in self.scopes:
            scopes = " ".join(self.scopes) or "none"
            return f"it lacks scope tickets:write (scopes: {scopes})"
        if self.roles is not None and not set(self.roles) & set(write_roles):
            roles = ", ".join(self.roles) or "none"
            return (
                f"it has none of the write roles {', '.join(write_roles)} (roles: {roles}); "
                "if this tenant names them differently, set write_roles in reconcile.yaml"
            )
        return None


def preflight(claims: Claims, settings: Settings, *, write: bool, now: float | None = None) -> None:
    """Refuse, before any API request, a token that cannot do what the run needs."""
    if claims.tenant_id and settings.tenant_id and claims.tenant_id != settings.tenant_id:
        raise AuthError(
            f"the token is for tenant {claims.tenant_id} but the configured tenant is "
            f"{settings.tenant_id} ({settings.sources.get('tenant_id', 'tenant_id')})"
        )
    if claims.expired(now):
        expired_at = claims.expires_at()
        assert expired_at is not None
        when = f"{expired_at:%Y-%m-%d %H:%M:%S} UTC"
        raise AuthError(f"the token expired at {when}; {NEW_TOKEN_HINT}")
    if write:
        problem = claims.write_problem(settings.write_roles)
        if problem:
            raise AuthError(f"the token of {claims.identity} cannot update tickets: {problem}")


def _jwt_reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.DecodeError):
        return "not three base64url parts with a JSON payload"
    return error.__class__.__name__


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value if isinstance(v, (str, int)))
    return ()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return None
