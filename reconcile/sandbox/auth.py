"""Tokens: minting Keycloak-shaped JWTs (HS256) and checking the ones requests carry.

PyJWT's JWS layer signs and verifies; its HS256 is registered again without the key
length warning, because the sandbox's documented default secret is short on purpose
(and a warning raised in a server thread would turn into a 500 under
``-W error``). The claims are checked here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

from reconcile.sandbox.clock import Clock, SystemClock
from reconcile.sandbox.options import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SCOPE

READ_SCOPES = frozenset({"tickets:read", "tickets:write"})
WRITE_SCOPE = "tickets:write"
WRITE_ROLES = frozenset({"ticket_writer", "ticket_admin"})
ADMIN_ROLE = "ticket_admin"
_CACHE_SIZE = 4096


class _QuietHS256(HMACAlgorithm):
    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)

    def check_key_length(self, key: bytes) -> str | None:
        return None


_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm("HS256", _QuietHS256())


def make_token(
    *,
    secret: str,
    tenant_id: str,
    realm: str,
    sub: str,
    roles: Iterable[str] = (),
    teams: Iterable[str] = (),
    scope: str = DEFAULT_SCOPE,
    expires_in: int = 300,
    issuer_base: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
    preferred_username: str | None = None,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """A signed JWT with the contract's claims; ``claims`` overrides (``None`` removes one).

    ``now`` is the issue time (default: the wall clock)."""
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": f"{issuer_base.rstrip('/')}/realms/{realm}",
        "sub": sub,
        "preferred_username": preferred_username or sub,
        "tenant_id": tenant_id,
        "scope": scope,
        "realm_access": {"roles": list(roles)},
        "teams": list(teams),
        "iat": issued,
        "exp": issued + int(expires_in),
        "typ": "Bearer",
    }
    for key, value in (claims or {}).items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    body = json.dumps(payload, separators=(",", ":")).encode()
    return _JWS.encode(body, secret, algorithm="HS256", headers={"typ": "JWT"})


class TokenError(Exception):
    """A token the sandbox does not accept; the message goes into the 401 answer."""


class Identity:
    """What a request's token says about its caller."""

    __slots__ = ("exp", "name", "roles", "scopes", "teams", "tenant_id")

    def __init__(self, claims: dict[str, Any]) -> None:
        self.exp = claims["exp"]
        self.tenant_id = claims.get("tenant_id")
        scope = claims.get("scope")
        self.scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        access = claims.get("realm_access")
        roles = access.get("roles") if isinstance(access, dict) else None
        self.roles = (
            frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset()
        )
        teams = claims.get("teams")
        self.teams = (
            frozenset(t for t in teams if isinstance(t, str))
            if isinstance(teams, list)
            else frozenset()
        )
        name = claims.get("preferred_username") or claims.get("sub")
        self.name = str(name)

    @property
    def can_read(self) -> bool:
        return bool(self.scopes & READ_SCOPES)

    @property
    def can_write(self) -> bool:
        return WRITE_SCOPE in self.scopes and bool(self.roles & WRITE_ROLES)

    def may_write_team(self, team: str | None) -> bool:
        """``ticket_admin``: any ticket; ``ticket_writer``: team null or one of the token's."""
        return ADMIN_ROLE in self.roles or team is None or team in self.teams


class Verifier:
    """Checks bearer tokens against the sandbox's secret and realm; caches decoded ones."""

    def __init__(self, secret: str, realm: str, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._secret = secret
        self._issuer_suffix = f"/realms/{realm}"
        self._realm = realm
        self._cache: dict[str, Identity] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Identity:
        identity = self._cache.get(token)
        if identity is None:
            identity = self._decode(token)
            with self._lock:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[token] = identity
        if identity.exp <= self._clock.time():
            raise TokenError("Token has expired")
        return identity

    def _decode(self, token: str) -> Identity:
        try:
            claims = json.loads(_JWS.decode(token, self._secret, algorithms=["HS256"]))
        except jwt.InvalidSignatureError:
            raise TokenError("Invalid token signature") from None
        except jwt.InvalidAlgorithmError:
            raise TokenError("Token is not signed with HS256") from None
        except (jwt.InvalidTokenError, ValueError):
            raise TokenError("Malformed token") from None
        if not isinstance(claims, dict):
            raise TokenError("Malformed token")
        for claim in ("exp", "sub"):
            if claim not in claims:
                raise TokenError(f"Token has no '{claim}' claim")
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise TokenError("Token's 'exp' claim is not a number")
        issuer = claims.get("iss")
        if issuer is not None and not str(issuer).endswith(self._issuer_suffix):
            raise TokenError(f"Token was not issued by realm '{self._realm}'")
        return Identity(claims)
