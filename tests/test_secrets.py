"""No secret leaks: every command, verbose, through the failure paths.

Each scenario runs the CLI in-process (``reconcile.cli.main``) with ``-v`` against a
real sandbox and collects stdout, stderr, every log record and every file the run
wrote; none may hold the token, the client secret, or anything shaped like a JWT.
A scripted server that echoes credentials back checks that server messages are
scrubbed too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from reconcile.auth import ClientCredentials, StaticToken
from reconcile.cli import main
from reconcile.client import TicketingClient, connect
from reconcile.config import Settings
from reconcile.errors import ReconcileError
from reconcile.redact import scrub
from reconcile.sandbox import Client, make_token

CLIENT_ID = "ci-bot"
CLIENT_SECRET = "S3cr3t-Client-Value-7c1d"
BOT = Client(CLIENT_ID, CLIENT_SECRET, roles=("ticket_admin",))
MANIFEST = """\
tickets:
  - id: REQ-0509
    fields:
      description: "<p>changed by the secrets test</p>"
    sensitive: [description]
"""


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    logs: str
    files: dict[str, str]

    def everything(self) -> str:
        return "\n".join([self.stdout, self.stderr, self.logs, *self.files.values()])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repo as the current directory, with no reconcile variable set."""
    for name in list(os.environ):
        if name.startswith("RECONCILE_") or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name)
    (tmp_path / ".git").mkdir()
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(MANIFEST)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    caplog.clear()
    before = {p for p in workdir.rglob("*") if p.is_file()}
    with caplog.at_level(logging.DEBUG):
        try:
            main(args)
            status = 0
        except SystemExit as done:
            status = int(done.code or 0)
    out, err = capsys.readouterr()
    written = {
        str(p): p.read_text(errors="replace")
        for p in workdir.rglob("*")
        if p.is_file() and (p not in before or p.name == "step-summary.md")
    }
    for key in env:
        monkeypatch.delenv(key)
    return Run(status, out, err, caplog.text, written)


def assert_no_secret(result: Run, *secrets: str) -> None:
    text = result.everything()
    for secret in (CLIENT_SECRET, *secrets):
        assert secret not in text, f"a secret leaked:\n{text}"
    assert "eyJ" not in text, f"something shaped like a JWT leaked:\n{text}"
    assert "Traceback" not in text


def secrets_of(env: dict[str, str]) -> list[str]:
    return [v for k, v in env.items() if k in ("RECONCILE_TOKEN", "RECONCILE_CLIENT_SECRET")]


@pytest.fixture
def bot_sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(demo=True, clients=[BOT])


def connection(sandbox: Any, tenant: str | None = None) -> list[str]:
    return [
        "--base-url", sandbox.base_url, "--tenant-id", tenant or sandbox.tenant_id,
        "--realm", sandbox.realm,
    ]  # fmt: skip


def bot_token(sandbox: Any, **kwargs: Any) -> str:
    return sandbox.token(sub=BOT.sub, roles=["ticket_admin"], teams=[], **kwargs)


# --------------------------------------------------------------------------- whoami


def test_whoami_with_token_shows_identity_not_token(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    token = bot_token(bot_sandbox)
    result = run(
        ["whoami", "-v", *connection(bot_sandbox)],
        {"RECONCILE_TOKEN": token},
        workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert f"identity:   {BOT.sub}" in result.stdout
    assert "(matches the configured tenant)" in result.stdout
    assert "roles:      ticket_admin" in result.stdout
    assert "can write:  yes" in result.stdout
    assert "source:     RECONCILE_TOKEN" in result.stdout
    assert_no_secret(result, token)


def test_whoami_token_file_and_json(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    token = bot_token(bot_sandbox, scope="openid tickets:read")
    (workdir / "tok").write_text(token + "\n")
    result = run(
        ["whoami", "-v", "--token-file", "tok", "--format", "json", *connection(bot_sandbox)],
        {}, workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["source"] == f"token file {Path('tok')}"
    assert info["can_write"] is False
    assert info["tenant_id"] == bot_sandbox.tenant_id
    result.files.pop(str(workdir / "tok"), None)
    assert_no_secret(result, token)


def test_whoami_with_client_credentials(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    result = run(
        ["whoami", "-v", *connection(bot_sandbox)],
        {"RECONCILE_CLIENT_ID": CLIENT_ID, "RECONCILE_CLIENT_SECRET": CLIENT_SECRET},
        workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert f"source:     client credentials (client_id {CLIENT_ID})" in result.stdout
    assert "POST /realms/demo/protocol/openid-connect/token 200" in result.stderr
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad-secret", "refused the client credentials: 401 unauthorized_client"),
        ("not-a-jwt", "RECONCILE_TOKEN is not a valid JWT"),
        ("expired", "the token expired at"),
        ("other-tenant", "the token is for tenant"),
    ],
)
def test_whoami_failures(
    bot_sandbox: Any,
    workdir: Path,
    capsys: Any,
    caplog: Any,
    monkeypatch: Any,
    case: str,
    expected: str,
) -> None:
    opaque = "opaque-not-a-jwt-token-value-5150"
    env = {
        "bad-secret": {"RECONCILE_CLIENT_ID": CLIENT_ID, "RECONCILE_CLIENT_SECRET": "wrong-secret"},
        "not-a-jwt": {"RECONCILE_TOKEN": opaque},
        "expired": {"RECONCILE_TOKEN": bot_token(bot_sandbox, expires_in=-60)},
        "other-tenant": {"RECONCILE_TOKEN": bot_token(bot_sandbox, tenant_id="tenant-b")},
    }[case]  # fmt: skip
    result = run(
        ["whoami", "-v", *connection(bot_sandbox)], env, workdir, capsys, caplog, monkeypatch
    )
    assert result.status == 1
    assert expected in result.stderr
    assert_no_secret(result, opaque, *secrets_of(env))


# --------------------------------------------------------------------------- plan, drift, apply


def test_plan_drift_apply_succeed_without_leaking(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    env = {"RECONCILE_CLIENT_ID": CLIENT_ID, "RECONCILE_CLIENT_SECRET": CLIENT_SECRET}
    common = [*connection(bot_sandbox), "-v"]
    planned = run(
        ["plan", "--out", "plan.json", *common], env, workdir, capsys, caplog, monkeypatch
    )
    assert planned.status == 0, planned.stderr
    assert str(workdir / "plan.json") in planned.files
    assert "GET /api/v2/ticketing/ticket-type 200" in planned.stderr
    applied = run(
        ["apply", "--auto-approve", "--journal", "journal.jsonl", *common],
        env, workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert applied.status == 0, applied.stderr
    drifted = run(["drift", *common], env, workdir, capsys, caplog, monkeypatch)
    assert drifted.status == 0, drifted.stderr
    others = {  # the manifest declares a sensitive field: undo reports it, exit 1
        ("undo", "--journal", "journal.jsonl", "--auto-approve", *common): 1,
        ("import", "REQ-0509", "-o", "imported.yaml", *common): 0,
        ("schema", "pull", "-o", "lock.yaml", *common): 0,
        ("adopt", "manifests", *common): 0,
        ("validate", "manifests", "--schema", "lock.yaml"): 0,
    }
    results = [run(list(args), env, workdir, capsys, caplog, monkeypatch) for args in others]
    for (args, status), result in zip(others.items(), results, strict=True):
        assert result.status == status, f"{args[0]}: {result.stdout}{result.stderr}"
    for result in (planned, applied, drifted, *results):
        assert_no_secret(result)


@pytest.mark.parametrize(
    ("case", "options", "expected"),
    [
        ("401 bad signature", {}, "401 UNAUTHORIZED"),
        ("404 tenant", {}, "Tenant not found"),
        ("500", {"fail_rate": 1.0}, "500"),
        ("timeout", {"latency_ms": 400}, "no answer before the timeout"),
        ("bad client secret", {}, "unauthorized_client"),
        ("drop after commit", {"drop_after_commit_rate": 1.0, "fault_seed": 5}, ""),
    ],
)
def test_commands_through_failure_paths_leak_nothing(
    sandbox_factory: Any,
    workdir: Path,
    capsys: Any,
    caplog: Any,
    monkeypatch: Any,
    case: str,
    options: dict[str, Any],
    expected: str,
) -> None:
    sandbox = sandbox_factory(demo=True, clients=[BOT], retry_after=0, **options)
    good = bot_token(sandbox)
    tenant = None
    env = {"RECONCILE_TOKEN": good, "RECONCILE_RETRIES": "1", "RECONCILE_RETRY_BACKOFF": "0"}
    extra: list[str] = []
    if case == "401 bad signature":
        env["RECONCILE_TOKEN"] = make_token(
            secret="not-the-sandbox-key-0123456789abcdef", tenant_id=sandbox.tenant_id,
            realm=sandbox.realm, sub=BOT.sub, roles=["ticket_admin"],
        )  # fmt: skip
    elif case == "404 tenant":
        tenant = "tenant-b"
        env["RECONCILE_TOKEN"] = bot_token(sandbox, tenant_id=tenant)
    elif case == "timeout":
        extra = ["--timeout", "0.1"]
    elif case == "bad client secret":
        del env["RECONCILE_TOKEN"]
        env.update(RECONCILE_CLIENT_ID=CLIENT_ID, RECONCILE_CLIENT_SECRET=CLIENT_SECRET + "-x")
    common = ["-v", *connection(sandbox, tenant), *extra]
    commands = [
        ["plan", "--out", "plan.json", *common],
        ["drift", "--format", "json", *common],
        ["apply", "--auto-approve", "--journal", "journal.jsonl", *common],
        ["import", "REQ-0509", "-o", "imported.yaml", *common],
        ["schema", "pull", "-o", "lock.yaml", *common],
        ["adopt", "manifests", *common],
    ]
    for args in commands:
        result = run(args, env, workdir, capsys, caplog, monkeypatch)
        if expected:
            assert result.status == 1, f"{args[0]}: {result.stdout}{result.stderr}"
            assert expected in result.everything()
        assert_no_secret(result, *secrets_of(env))


# --------------------------------------------------------------------------- a server that echoes


class EchoServer:
    """Answers every request with an error that echoes its credentials back."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                if "token" in self.path:
                    status, payload = 401, {"error": "invalid_client", "error_description": body}
                else:
                    auth = self.headers.get("Authorization", "")
                    status, payload = 500, {"message": f"cannot handle {auth!r}"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.stop()


def test_server_echoing_credentials_is_scrubbed(
    echo: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = "opaque-echoed-token-value-4242"
    settings = Settings(
        base_url=echo.base_url, tenant_id="t", realm="demo", retries=0, client_id=CLIENT_ID
    )
    messages = []
    with caplog.at_level(logging.DEBUG):
        with TicketingClient(settings, StaticToken(token)) as client:
            for call in (client.get_schema, lambda: client.update_ticket("REQ-1000", "e", {})):
                with pytest.raises(ReconcileError) as caught:
                    call()
                messages.append(str(caught.value))
        with pytest.raises(ReconcileError) as caught:
            connect(settings, write=False, env={"RECONCILE_CLIENT_SECRET": CLIENT_SECRET})
        messages.append(str(caught.value))
    text = "\n".join([*messages, caplog.text])
    assert "cannot handle 'Bearer [redacted]'" in messages[0]
    assert "client_secret=[redacted]" in messages[2]
    assert token not in text
    assert CLIENT_SECRET not in text


def test_log_filter_scrubs_secrets_in_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "opaque-logged-token-value-3131"
    StaticToken(token)  # registers it
    log = logging.getLogger("reconcile.http")
    with caplog.at_level(logging.INFO, logger="reconcile.http"):
        log.info("header was %s", f"Bearer {token}")
        try:
            raise RuntimeError(f"boom {token}")
        except RuntimeError:
            log.exception("failed at %s", time.time())
    assert token not in caplog.text
    assert caplog.text.count("[redacted]") >= 2


# --------------------------------------------------------------------------- secrets in odd places


def test_token_given_as_token_file_path_is_masked(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    token = bot_token(bot_sandbox)
    result = run(
        ["whoami", "-v", "--token-file", token, *connection(bot_sandbox)],
        {}, workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 1
    assert "Error: cannot read token file [redacted]" in result.stderr
    assert_no_secret(result, token)


@pytest.mark.parametrize("command", ["whoami", "plan"])
def test_token_given_as_tenant_id_is_masked(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any, command: str
) -> None:
    token = bot_token(bot_sandbox)
    env = {
        "RECONCILE_TOKEN": token,
        "RECONCILE_TENANT_ID": token,
        "RECONCILE_BASE_URL": bot_sandbox.base_url,
        "RECONCILE_REALM": bot_sandbox.realm,
    }
    result = run([command, "-v"], env, workdir, capsys, caplog, monkeypatch)
    assert result.status == 1
    assert "the configured tenant is [redacted] (RECONCILE_TENANT_ID)" in result.stderr
    assert_no_secret(result, token)


def test_client_id_and_secret_swapped_shows_neither(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    env = {"RECONCILE_CLIENT_ID": CLIENT_SECRET, "RECONCILE_CLIENT_SECRET": CLIENT_ID}
    result = run(
        ["plan", "-v", *connection(bot_sandbox)], env, workdir, capsys, caplog, monkeypatch
    )
    assert result.status == 1
    assert "refused the client credentials: 401 unauthorized_client" in result.stderr
    assert "check RECONCILE_CLIENT_ID and RECONCILE_CLIENT_SECRET" in result.stderr
    assert_no_secret(result, CLIENT_ID)


def test_token_endpoint_echoing_the_form_leaks_no_encoded_secret(
    sandbox_factory: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    """The secret travels URL-encoded in the form body; a leaky IdP quotes that body."""
    secret = "p@ss w/rd+=&%-9c1e"
    sandbox = sandbox_factory(demo=True, clients=[BOT], echo_token_form=True)
    env = {"RECONCILE_CLIENT_ID": CLIENT_ID, "RECONCILE_CLIENT_SECRET": secret}
    result = run(["plan", "-v", *connection(sandbox)], env, workdir, capsys, caplog, monkeypatch)
    assert result.status == 1
    assert "(request: grant_type=client_credentials" in result.stderr  # the body is echoed
    assert "client_secret=[redacted]" in result.stderr
    text = result.everything()
    for form in (quote(secret, safe=""), quote_plus(secret), secret):
        assert form not in text, f"{form} leaked:\n{text}"
    assert_no_secret(result)


def test_base64_form_of_a_secret_is_masked() -> None:
    secret = "base64-me-secret-value-77"
    StaticToken(secret)  # registers it
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    plain = base64.b64encode(secret.encode()).decode()
    urlsafe = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    text = scrub(f"as is {secret}, b64 {plain}, url-safe {urlsafe}")
    assert text == "as is [redacted], b64 [redacted], url-safe [redacted]"
    ClientCredentials("http://127.0.0.1:1/token", CLIENT_ID, secret, lambda url, form: {})
    assert scrub(f"Authorization: Basic {basic}") == "Authorization: Basic [redacted]"


# --------------------------------------------------------------------------- sensitive values


def test_sensitive_value_quoted_by_a_server_message_is_masked(
    sandbox_factory: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    """A tenant rule refuses the description and quotes it; the manifest marks it sensitive."""
    description = "459cf0c6-ae1c-4ba2-8116-3b8b38207528"
    sandbox = sandbox_factory(demo=True, clients=[BOT], refuse_fields=(description,))
    env = {"RECONCILE_TOKEN": bot_token(sandbox)}
    result = run(
        ["apply", "--auto-approve", "--journal", "journal.jsonl", "-v", *connection(sandbox)],
        env, workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 1
    assert "INPUT_VALIDATION_FAILURE" in result.stdout + result.stderr
    assert 'refused value "[redacted]"' in result.stderr
    assert "changed by the secrets test" not in result.everything()
    assert str(workdir / "journal.jsonl") in result.files
    assert_no_secret(result, *secrets_of(env))


def test_a_bug_traceback_goes_through_the_scrubber(
    bot_sandbox: Any, workdir: Path, capsys: Any, caplog: Any, monkeypatch: Any
) -> None:
    """An unexpected exception that quotes the token: exit 1, its traceback scrubbed."""
    token = bot_token(bot_sandbox)

    def buggy(cls: Any, token: str, source: str = "") -> None:
        raise RuntimeError(f"bug while holding {token}")

    monkeypatch.setattr("reconcile.auth.Claims.from_token", classmethod(buggy))
    result = run(
        ["whoami", *connection(bot_sandbox)], {"RECONCILE_TOKEN": token},
        workdir, capsys, caplog, monkeypatch,
    )  # fmt: skip
    assert result.status == 1
    assert "Error: unexpected error (a bug in reconcile); traceback:" in result.stderr
    assert "RuntimeError: bug while holding [redacted]" in result.stderr
    assert token not in result.everything()
