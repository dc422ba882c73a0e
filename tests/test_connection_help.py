"""Transport and credentials as a user meets them: a 401 on the first request, nothing
listening, https to a plain-http server, an expired token. Real HTTP, real CLI runs."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from reconcile.sandbox import DEMO_ADMIN

MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 7\n"
CLIENT_CREDENTIALS = {
    "RECONCILE_TOKEN": None,
    "RECONCILE_CLIENT_ID": DEMO_ADMIN.client_id,
    "RECONCILE_CLIENT_SECRET": DEMO_ADMIN.secret,
}
QUICK_RETRIES = {"RECONCILE_RETRIES": "2", "RECONCILE_RETRY_BACKOFF": "0.01"}


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_401_on_the_very_first_request_fetches_a_new_token_and_retries(
    cli: Any, sandbox_factory: Any
) -> None:
    """Before: the re-fetched token was the same string (same second, same claims), so the
    client gave up. A token revoked at the IdP must cost one retry, not the run."""
    sandbox = sandbox_factory(demo=True, unauthorized_requests=1)
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "m.yaml", RECONCILE_BASE_URL=sandbox.base_url, **CLIENT_CREDENTIALS)
    assert "~ REQ-0509" in result.stdout
    stats = sandbox.stats()
    assert stats["faults"] == {"unauthorized": 1}
    assert stats["by_route"]["token"] == 2
    assert stats["by_method_status"]["GET"]["401"] == 1


def test_a_401_mid_apply_fetches_a_new_token_and_retries(cli: Any, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True)
    Path("m.yaml").write_text(MANIFEST)
    cli("plan", "m.yaml", RECONCILE_BASE_URL=sandbox.base_url, **CLIENT_CREDENTIALS)
    sandbox._app.faults._unauthorized_left = 1  # the next request: the token was revoked
    result = cli(
        "apply", "m.yaml", "--auto-approve", RECONCILE_BASE_URL=sandbox.base_url,
        **CLIENT_CREDENTIALS,
    )  # fmt: skip
    assert "Apply: 1 updated, 0 failed" in result.stdout
    assert sandbox.stats()["faults"] == {"unauthorized": 1}


def test_a_static_token_refused_is_not_sent_again(cli: Any, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, unauthorized_requests=1)
    Path("m.yaml").write_text(MANIFEST)
    result = cli(
        "plan", "m.yaml", expect=1, RECONCILE_BASE_URL=sandbox.base_url,
        RECONCILE_TOKEN=sandbox.token(),
    )  # fmt: skip
    assert "refused the token from RECONCILE_TOKEN (401 UNAUTHORIZED" in result.stderr
    assert sandbox.stats()["requests"] == 1


def test_nothing_listening_says_it_retries_and_ends_with_a_hint(cli: Any) -> None:
    """Before: seconds of silence, then "could not connect"."""
    url = f"http://127.0.0.1:{closed_port()}"
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "m.yaml", expect=1, RECONCILE_BASE_URL=url, **QUICK_RETRIES)
    lines = result.stderr.splitlines()
    notice = f"reconcile: cannot connect to {url} (a failed connect); retrying up to 2 times"
    assert lines[0] == notice
    assert lines[-1].startswith("Error: GET ticket-type: could not connect")
    assert lines[-1].endswith(f"after 2 retries: is a server running at {url}?")
    assert "Traceback" not in result.stderr


def test_nothing_listening_at_the_token_endpoint_gets_the_same_hint(cli: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    Path("m.yaml").write_text(MANIFEST)
    result = cli(
        "plan", "m.yaml", expect=1, RECONCILE_BASE_URL=url, **QUICK_RETRIES, **CLIENT_CREDENTIALS
    )
    assert result.stderr.startswith(f"reconcile: cannot connect to {url}")
    assert "cannot reach the token endpoint" in result.stderr
    assert f"is a server running at {url}?" in result.stderr


def test_https_to_a_plain_http_server_is_diagnosed_as_such(cli: Any, sandbox: Any) -> None:
    """Before: "TLS verification failed ... give --ca-bundle", which sends users astray."""
    https = sandbox.base_url.replace("http://", "https://")
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "m.yaml", expect=1, RECONCILE_BASE_URL=https, **QUICK_RETRIES)
    host = https.removeprefix("https://")
    assert f"Error: {host} answers plain HTTP, not HTTPS" in result.stderr
    assert f"use {sandbox.base_url}" in result.stderr
    assert "--ca-bundle" not in result.stderr


def test_an_expired_token_says_how_to_get_a_new_one(cli: Any, sandbox: Any) -> None:
    expired = sandbox.token(claims={"exp": int(time.time()) - 60})
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "m.yaml", expect=1, RECONCILE_TOKEN=expired)
    assert "the token expired at" in result.stderr
    assert "export RECONCILE_TOKEN=$(reconcile sandbox token)" in result.stderr
    assert sandbox.stats()["requests"] == 0


def test_whoami_with_an_expired_token_says_it_cannot_write(cli: Any, sandbox: Any) -> None:
    """Before: "can write: yes" next to "expires: ... (EXPIRED ...)"."""
    expired = sandbox.token(claims={"exp": int(time.time()) - 60})
    result = cli("whoami", expect=1, RECONCILE_TOKEN=expired)
    assert "can write:  no: it has expired" in result.stdout
    result = cli("whoami", "--format", "json", expect=1, RECONCILE_TOKEN=expired)
    assert '"can_write": false' in result.stdout
