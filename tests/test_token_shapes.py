"""Token sources and claims in the shapes a library caller or an identity provider may
hand over: empty, rotated, read-only, or with claims of an unusual type."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconcile.auth import ClientCredentials, FileToken, StaticToken, token_source_from
from reconcile.client import Transport
from reconcile.config import Settings
from reconcile.errors import AuthError
from reconcile.redact import scrub
from reconcile.sandbox import DEMO_ADMIN, Sandbox, make_token

from cli_runner import CliResult
from sandbox_api import token_url


def test_an_empty_static_token_is_refused() -> None:
    with pytest.raises(AuthError, match=r"^a test token is empty$"):
        StaticToken("  \n", "a test token")


def test_a_rotated_token_file_is_read_again_once(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token-value\n")
    source = FileToken(path)
    assert source.token() == "first-token-value"
    path.write_text("second-token-value\n")  # the sidecar rotated it
    assert source.invalidate("first-token-value") is True
    assert source.token() == "second-token-value"
    # A second thread that saw the same 401 does not drop the new token.
    assert source.invalidate("first-token-value") is True
    assert source.token() == "second-token-value"
    assert source.invalidate("second-token-value") is False  # not rotated again


def test_client_credentials_need_a_connection_to_the_token_endpoint() -> None:
    settings = Settings(base_url="http://127.0.0.1:1", realm="demo", client_id="ci-bot")
    with pytest.raises(AuthError, match="need an HTTP connection to the token endpoint"):
        token_source_from(settings, {"RECONCILE_CLIENT_SECRET": "s3cret-value"}, None)


def test_an_empty_client_secret_file(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("\n")
    result = cli(
        "whoami", expect=1, RECONCILE_TOKEN=None, RECONCILE_CLIENT_ID="ci-bot",
        RECONCILE_CLIENT_SECRET_FILE=str(tmp_path / "secret"),
    )  # fmt: skip
    assert result.stderr == f"Error: RECONCILE_CLIENT_SECRET_FILE {tmp_path / 'secret'} is empty\n"


def test_claims_of_unusual_types_are_read_as_far_as_they_go(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    token = make_token(
        secret=sandbox.secret,
        tenant_id=sandbox.tenant_id,
        realm=sandbox.realm,
        sub="odd-claims",
        claims={"teams": "network", "exp": True, "iat": "yesterday", "realm_access": None},
    )
    info = json.loads(cli("whoami", "--format", "json", RECONCILE_TOKEN=token).stdout)
    assert info["teams"] == ["network"]
    assert info["roles"] is None  # no realm_access claim: the server decides
    assert info["expires_at"] is None and info["expired"] is False


def test_a_read_only_token_plans(cli: Callable[..., CliResult], sandbox: Sandbox) -> None:
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab\n")
    reader = sandbox.token(sub="reader", roles=[], teams=[], scope="openid tickets:read")
    result = cli("plan", "m.yaml", expect=0, RECONCILE_TOKEN=reader)
    assert '~ location: "Berlin office" → "Lab"' in result.stdout


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def credentials(sandbox: Sandbox, clock: Clock) -> tuple[ClientCredentials, Transport]:
    transport = Transport(
        Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    )
    source = ClientCredentials(
        token_url(sandbox), DEMO_ADMIN.client_id, DEMO_ADMIN.secret, transport.post_token,
        clock=clock,
    )  # fmt: skip
    return source, transport


def test_an_expires_in_given_as_text_sets_the_refresh(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(demo=True, token_set={"expires_in": "120"})
    clock = Clock()
    source, transport = credentials(sandbox, clock)
    try:
        source.token()
        clock.now = 95.0  # refreshed 24 s (a fifth of 120) before the end, at 96 s
        source.token()
        assert source.fetches == 1
        clock.now = 97.0
        source.token()
        assert source.fetches == 2
    finally:
        transport.close()


def test_a_grant_without_lifetime_is_kept_until_refused(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    opaque = "opaque-granted-token-5be0c1"
    sandbox = sandbox_factory(demo=True, token_set={"access_token": opaque, "expires_in": None})
    clock = Clock()
    source, transport = credentials(sandbox, clock)
    try:
        assert source.token() == opaque
        clock.now = 1e9  # no expires_in, no exp claim: nothing says when it ends
        assert source.token() == opaque and source.fetches == 1
        assert source.invalidate(opaque) is True  # after a 401: fetched again
        source.token()
        assert source.fetches == 2
    finally:
        transport.close()
    assert scrub(f"got {opaque}") == "got [redacted]"
