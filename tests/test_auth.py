"""Token sources, claims and preflight (no HTTP here; the client tests use the sandbox)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest

from reconcile.auth import (
    NO_CREDENTIALS,
    SECRETS,
    Claims,
    ClientCredentials,
    FileToken,
    StaticToken,
    preflight,
    token_source_from,
)
from reconcile.config import Settings
from reconcile.errors import AuthError

TENANT = "3f2c9b7e-5d41-4a8e-9c07-6b1e2d4f8a90"


def make_jwt(**claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "http://127.0.0.1:9/realms/demo",
        "sub": "sa-1",
        "preferred_username": "robot",
        "tenant_id": TENANT,
        "scope": "openid tickets:read tickets:write",
        "realm_access": {"roles": ["ticket_writer"]},
        "teams": ["network"],
        "iat": now,
        "exp": now + 300,
    }
    for key, value in claims.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return jwt.encode(payload, "k" * 32, algorithm="HS256")


SETTINGS = Settings(base_url="http://127.0.0.1:9", tenant_id=TENANT, realm="demo")


def test_claims_are_decoded_without_a_key() -> None:
    claims = Claims.from_token(make_jwt())
    assert claims.sub == "sa-1"
    assert claims.identity == "robot"
    assert claims.tenant_id == TENANT
    assert claims.realm == "demo"
    assert claims.scopes == ("openid", "tickets:read", "tickets:write")
    assert claims.roles == ("ticket_writer",)
    assert claims.teams == ("network",)
    assert claims.exp is not None and claims.iat is not None
    assert not claims.expired()


def test_claims_tolerate_missing_optional_claims() -> None:
    claims = Claims.from_token(make_jwt(realm_access=None, teams=None, iss=None, scope=None))
    assert claims.roles is None
    assert claims.teams == ()
    assert claims.realm is None
    assert claims.scopes == ()


@pytest.mark.parametrize("token", ["not-a-jwt-at-all-1234", "aaaa.bbbb.cccc", "eyJhbGciOi.x.y"])
def test_a_token_that_is_no_jwt_is_a_clear_error_without_its_text(token: str) -> None:
    with pytest.raises(AuthError, match="RECONCILE_TOKEN is not a valid JWT") as caught:
        Claims.from_token(token, "RECONCILE_TOKEN")
    assert token not in str(caught.value)


def test_preflight_accepts_a_good_write_token() -> None:
    preflight(Claims.from_token(make_jwt()), SETTINGS, write=True)


def test_preflight_refuses_another_tenant() -> None:
    claims = Claims.from_token(make_jwt(tenant_id="other-tenant"))
    with pytest.raises(AuthError, match="token is for tenant other-tenant but the configured"):
        preflight(claims, SETTINGS, write=False)


def test_preflight_refuses_an_expired_token() -> None:
    claims = Claims.from_token(make_jwt(exp=int(time.time()) - 60))
    with pytest.raises(AuthError, match="the token expired at"):
        preflight(claims, SETTINGS, write=False)
    preflight(claims, SETTINGS, write=False, now=claims.exp - 1)  # not yet, at that time


def test_preflight_for_write_needs_the_scope() -> None:
    claims = Claims.from_token(make_jwt(scope="openid tickets:read"))
    preflight(claims, SETTINGS, write=False)
    with pytest.raises(AuthError, match="cannot update tickets: it lacks scope tickets:write"):
        preflight(claims, SETTINGS, write=True)


def test_preflight_for_write_needs_a_write_role() -> None:
    claims = Claims.from_token(make_jwt(realm_access={"roles": ["viewer"]}))
    with pytest.raises(AuthError, match="none of the write roles ticket_writer, ticket_admin"):
        preflight(claims, SETTINGS, write=True)
    renamed = Settings(**{**SETTINGS.__dict__, "write_roles": ("viewer",)})
    preflight(claims, renamed, write=True)


def test_preflight_leaves_a_token_without_roles_claim_to_the_server() -> None:
    preflight(Claims.from_token(make_jwt(realm_access=None)), SETTINGS, write=True)


def test_static_token_is_stripped_and_registered_as_secret() -> None:
    value = make_jwt(sub="static-one")
    source = StaticToken(f"  {value}\n")
    assert source.token() == value
    assert source.description == "RECONCILE_TOKEN"
    source.invalidate(value)
    assert source.token() == value
    assert SECRETS.scrub(f"echo {value}") == "echo [redacted]"


def test_file_token_strips_and_rereads_after_invalidate(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token-value\n")
    source = FileToken(path)
    assert source.description == f"token file {path}"
    assert source.token() == "first-token-value"
    path.write_text("  second-token-value  \n")
    assert source.token() == "first-token-value"  # cached until a 401
    source.invalidate("first-token-value")
    assert source.token() == "second-token-value"


def test_file_token_errors_name_the_file_not_the_content(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match=r"token file .*missing does not exist"):
        FileToken(tmp_path / "missing").token()
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(AuthError, match="is empty"):
        FileToken(empty).token()


class FakeEndpoint:
    """A token endpoint callable (what the client module passes in), with a settable clock."""

    def __init__(self, expires_in: Any = 100, exp_in: int | None = None) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.exp_in = exp_in
        self.now = 1000.0
        self.forms: list[Mapping[str, str]] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        self.calls += 1
        self.forms.append(dict(form))
        exp = int(time.time()) + int(self.exp_in or self.expires_in or 300)
        return {
            "access_token": make_jwt(jti=str(self.calls), exp=exp),
            "expires_in": self.expires_in,
        }


def test_client_credentials_fetch_once_and_refresh_before_expiry() -> None:
    endpoint = FakeEndpoint(expires_in=100)
    source = ClientCredentials("https://sso/t", "ci", "cs-secret-1", endpoint, clock=endpoint.clock)
    first = source.token()
    assert [source.token() for _ in range(50)] == [first] * 50
    assert endpoint.calls == 1
    assert endpoint.forms[0] == {
        "grant_type": "client_credentials",
        "client_id": "ci",
        "client_secret": "cs-secret-1",
    }
    endpoint.now += 79  # before 80 % of the lifetime
    assert source.token() == first
    endpoint.now += 2  # past it
    assert source.token() != first
    assert endpoint.calls == 2


def test_client_credentials_refresh_30s_before_expiry_for_long_tokens() -> None:
    endpoint = FakeEndpoint(expires_in=3600)
    source = ClientCredentials("https://sso/t", "ci", "cs", endpoint, clock=endpoint.clock)
    first = source.token()
    endpoint.now += 3569
    assert source.token() == first
    endpoint.now += 2
    assert source.token() != first


def test_invalidate_refreshes_once_for_many_threads() -> None:
    endpoint = FakeEndpoint()
    source = ClientCredentials("https://sso/t", "ci", "cs", endpoint, clock=endpoint.clock)
    stale = source.token()

    def worker() -> None:
        source.invalidate(stale)  # every thread saw a 401 for the same token
        source.token()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert endpoint.calls == 2
    assert source.token() != stale


def test_client_credentials_lifetime_from_exp_when_expires_in_is_missing() -> None:
    endpoint = FakeEndpoint(expires_in=None)
    source = ClientCredentials("https://sso/t", "ci", "cs", endpoint, clock=endpoint.clock)
    first = source.token()
    endpoint.now += 260  # a 300 s token (its exp claim): refreshed 30 s before it expires
    assert source.token() == first
    endpoint.now += 20
    assert source.token() != first


def test_exp_claim_caps_a_longer_expires_in() -> None:
    endpoint = FakeEndpoint(expires_in=3600, exp_in=100)
    source = ClientCredentials("https://sso/t", "ci", "cs", endpoint, clock=endpoint.clock)
    first = source.token()
    endpoint.now += 75  # about 80 % of the 100 s the exp claim allows
    assert source.token() == first
    endpoint.now += 10
    assert source.token() != first


def test_client_credentials_without_access_token_is_an_auth_error() -> None:
    source = ClientCredentials("https://sso/t", "ci", "cs", lambda url, form: {"oops": 1})
    with pytest.raises(AuthError, match="answered without an access_token"):
        source.token()


def test_source_precedence_token_file_then_env_token_then_client_credentials(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "tok"
    token_file.write_text("file-token-value")
    env = {
        "RECONCILE_TOKEN": "env-token-value",
        "RECONCILE_CLIENT_SECRET": "cs-value",
    }
    with_file = Settings(**{**SETTINGS.__dict__, "token_file": token_file, "client_id": "ci"})
    with_client = Settings(**{**SETTINGS.__dict__, "client_id": "ci"})
    endpoint = FakeEndpoint()

    assert isinstance(token_source_from(with_file, env, endpoint), FileToken)
    assert token_source_from(with_client, env, endpoint).description == "RECONCILE_TOKEN"
    env.pop("RECONCILE_TOKEN")
    source = token_source_from(with_client, env, endpoint)
    assert isinstance(source, ClientCredentials)
    assert source.description == "client credentials (client_id ci)"
    assert source.token_url == "http://127.0.0.1:9/realms/demo/protocol/openid-connect/token"


def test_auth_url_overrides_base_url_for_the_token_endpoint() -> None:
    settings = Settings(
        **{**SETTINGS.__dict__, "client_id": "ci", "auth_url": "https://sso.example.test/auth"}
    )
    source = token_source_from(settings, {"RECONCILE_CLIENT_SECRET": "x1x1"}, FakeEndpoint())
    assert isinstance(source, ClientCredentials)
    assert source.token_url.startswith("https://sso.example.test/auth/realms/demo/")


def test_client_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-secret\n")
    settings = Settings(**{**SETTINGS.__dict__, "client_id": "ci"})
    endpoint = FakeEndpoint()
    source = token_source_from(
        settings, {"RECONCILE_CLIENT_SECRET_FILE": str(secret_file)}, endpoint
    )
    source.token()
    assert endpoint.forms[0]["client_secret"] == "from-a-file-secret"


def test_no_credentials_explains_the_three_ways() -> None:
    with pytest.raises(AuthError) as caught:
        token_source_from(SETTINGS, {}, FakeEndpoint())
    assert str(caught.value) == NO_CREDENTIALS
    for way in (
        "--token-file",
        "RECONCILE_TOKEN",
        "RECONCILE_CLIENT_ID",
        "RECONCILE_CLIENT_SECRET",
    ):
        assert way in NO_CREDENTIALS


def test_half_configured_client_credentials_say_what_is_missing() -> None:
    settings = Settings(**{**SETTINGS.__dict__, "client_id": "ci"})
    with pytest.raises(AuthError, match="client_id ci is set but no secret"):
        token_source_from(settings, {}, FakeEndpoint())
    with pytest.raises(AuthError, match="no client id") as caught:
        token_source_from(SETTINGS, {"RECONCILE_CLIENT_SECRET": "lonely-secret"}, FakeEndpoint())
    assert "lonely-secret" not in str(caught.value)


def test_scrub_masks_registered_secrets_jwts_and_bearer_values() -> None:
    SECRETS.add("registered-secret-42")
    text = (
        "a registered-secret-42 b "
        + make_jwt(sub="never-seen")
        + " Authorization: Bearer opaque123456 end"
    )
    scrubbed = SECRETS.scrub(text)
    assert "registered-secret-42" not in scrubbed
    assert "eyJ" not in scrubbed
    assert "opaque123456" not in scrubbed
    assert scrubbed.startswith("a [redacted] b [redacted]")
    assert scrubbed.endswith("Bearer [redacted] end")


def test_scrub_leaves_the_words_bearer_token_alone() -> None:
    assert SECRETS.scrub("Invalid bearer token") == "Invalid bearer token"
