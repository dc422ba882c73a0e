"""``reconcile sandbox serve`` and ``reconcile sandbox token`` as a user runs them."""

from __future__ import annotations

import base64
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconcile.cli.sandbox import serve as serve_command
from reconcile.sandbox import options

from cli_runner import run_cli

QUERY = "?type=template&module=ticketing"


def reconcile(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconcile", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url


def read_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"no output within {timeout}s; stderr: {stderr}")
    return process.stdout.readline()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> Served:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconcile", "sandbox", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        return Served(process, read_line(process).strip())

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_one_url_line_serves_and_exits_0(serve: Any, signum: int) -> None:
    """Issue 2: "prints one line with the base URL once it accepts connections, then serves
    until interrupted"; the token from `sandbox token` is accepted."""
    served = serve("--demo")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url)
    token = reconcile("sandbox", "token").stdout.strip()
    headers = {
        "Authorization": f"Bearer {token}",
        "accept": "application/json",
        "x-tenantid": options.DEFAULT_TENANT_ID,
        "realmname": options.DEFAULT_REALM,
    }
    ticket = requests.get(
        f"{served.url}/api/v2/ticketing/ticket/REQ-0509", headers=headers, timeout=10
    )
    assert ticket.status_code == 200
    update = requests.patch(
        f"{served.url}/api/v2/ticketing/ticket/REQ-0509/update{QUERY}",
        json={"etag": ticket.json()["etag"], "ticketUpdate": {}},
        headers=headers,
        timeout=10,
    )
    assert update.status_code == 200
    served.process.send_signal(signum)
    stdout, stderr = served.process.communicate(timeout=15)
    assert served.process.returncode == 0, stderr
    assert stdout == "" and stderr == ""  # exactly one line in all, nothing noisy


def test_serve_with_db_and_clients(serve: Any, tmp_path: Path) -> None:
    """--db FILE, --client ID:SECRET:ROLE:TEAMS and --token-lifetime through the CLI."""
    served = serve(
        "--demo",
        "--db",
        str(tmp_path / "s.db"),
        "--client",
        "ops:pw:ticket_writer:finance",
        "--token-lifetime",
        "42",
    )
    answer = requests.post(
        f"{served.url}/realms/demo/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": "ops", "client_secret": "pw"},
        timeout=10,
    ).json()
    assert answer["expires_in"] == 42
    assert claims(answer["access_token"])["teams"] == ["finance"]
    assert (tmp_path / "s.db").exists()


def test_token_command_options() -> None:
    """`sandbox token` prints a JWT with the asked identity."""
    result = reconcile(
        "sandbox",
        "token",
        "--sub",
        "sa-tenant-x",
        "--role",
        "ticket_admin",
        "--team",
        "a",
        "--team",
        "b",
        "--scope",
        "openid tickets:read",
        "--expires-in",
        "60",
        "--tenant-id",
        "t-1",
        "--realm",
        "r1",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    payload = claims(lines[0])
    assert payload["sub"] == "sa-tenant-x" and payload["preferred_username"] == "sa-tenant-x"
    assert payload["realm_access"] == {"roles": ["ticket_admin"]}
    assert payload["teams"] == ["a", "b"] and payload["tenant_id"] == "t-1"
    assert payload["scope"] == "openid tickets:read"
    assert payload["exp"] - payload["iat"] == 60
    assert payload["iss"].endswith("/realms/r1")
    default = claims(reconcile("sandbox", "token").stdout.strip())
    assert default["exp"] - default["iat"] == 3600  # an hour: the quick start fits in it
    assert default["realm_access"]["roles"] == ["ticket_writer"]
    assert default["teams"] == ["network", "service-desk"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--demo", "--seed", "{seed}"], "--demo and --seed cannot be used together"),
        (["--client", "nosecret"], "expected ID:SECRET"),
        (["--tls-cert", "{seed}"], "--tls-cert and --tls-key go together"),
        (["--fail-rate", "2"], "--fail-rate"),
        (["--port", "x"], "--port"),
        (["--seed", "{bad}"], "no ticket type has the prefix"),
        (["--list-item-set", "etag"], "--list-item-set"),
        (["--get-set", "data=[1"], "--get-set"),
        (["--slow-route", "nowhere"], "--slow-route"),
    ],
)
def test_bad_flags_exit_1_with_an_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad flags: an error line on stderr, exit status 1, nothing on stdout."""
    seed = tmp_path / "seed.json"
    seed.write_text('{"ticket_types": []}')
    bad = tmp_path / "bad.json"
    bad.write_text('{"ticket_types": [], "tickets": [{"object_id": "ZZZ-0001"}]}')
    args = [a.format(seed=seed, bad=bad) for a in args]
    # In-process: no interpreter start-up each. Should a flag stop being refused, the
    # command would serve until SIGTERM (its own way out, exit 0): the guard sends it.
    guard = threading.Timer(30, os.kill, (os.getpid(), signal.SIGTERM))
    guard.start()
    try:
        result = run_cli(["sandbox", "serve", "--port", "0", *args], env={"NO_COLOR": "1"})
    finally:
        guard.cancel()
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr


def test_port_in_use_is_an_error(serve: Any) -> None:
    """A port already taken: one error line and exit 1, no traceback."""
    served = serve()
    port = served.url.rsplit(":", 1)[1]
    result = reconcile("sandbox", "serve", "--port", port)
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_verbose_logs_requests(serve: Any) -> None:
    """--verbose: one log line per request on stderr."""
    served = serve("--verbose")
    requests.get(f"{served.url}/_sandbox/health", timeout=10)
    served.process.send_signal(signal.SIGTERM)
    _, stderr = served.process.communicate(timeout=15)
    assert "GET /_sandbox/health" in stderr


def test_serve_without_flags_uses_documented_defaults() -> None:
    """Defaults so that a demo needs no flags: ``serve --demo`` listens on 127.0.0.1:8080.

    Checked on the address the command hands the server, without listening on it: port
    8080 need not be free where the tests run. That ``serve`` prints the URL it listens
    on is tested above, on a free port.
    """
    params = serve_command.make_context("serve", ["--demo"]).params
    assert (params["host"], params["port"]) == ("127.0.0.1", 8080)
    assert (options.SandboxOptions().host, options.SandboxOptions().port) == ("127.0.0.1", 8080)
