"""TicketingClient against the real sandbox over loopback (and, for answers the sandbox
never gives, a tiny scripted stdlib HTTP server). Nothing here mocks requests."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from reconcile.auth import ClientCredentials, StaticToken
from reconcile.client import KINDS, TicketingClient, Transport, connect
from reconcile.config import Settings
from reconcile.errors import (
    ApiError,
    AuthError,
    ConfigError,
    EtagMismatch,
    ListUnsupported,
    OutcomeUnknown,
    TicketNotFound,
)
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN, DEMO_READER, DEMO_WRITER
from reconcile.sandbox.clock import ManualClock

from sandbox_api import token_url

OTHER_TENANT = "00000000-0000-4000-8000-000000000000"
DESCRIPTION = "459cf0c6-ae1c-4ba2-8116-3b8b38207528"


def settings_for(sandbox: Any, **overrides: Any) -> Settings:
    """Settings for a sandbox with small, fast retry waits."""
    base = Settings(
        base_url=sandbox.base_url,
        tenant_id=sandbox.tenant_id,
        realm=sandbox.realm,
        timeout=5.0,
        retries=4,
        retry_backoff=0.01,
        retry_wait_max=0.5,
    )
    return replace(base, **overrides)


def admin_token(sandbox: Any, **kwargs: Any) -> str:
    return sandbox.token(sub=DEMO_ADMIN.sub, roles=["ticket_admin"], teams=[], **kwargs)


def client_for(sandbox: Any, token: str | None = None, **overrides: Any) -> TicketingClient:
    return TicketingClient(
        settings_for(sandbox, **overrides), StaticToken(token or admin_token(sandbox))
    )


def api_requests(sandbox: Any) -> int:
    return sandbox.stats()["requests"]


# --------------------------------------------------------------------------- a scripted server

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class ScriptedServer:
    """A stdlib HTTP server on a free loopback port answering with ``handler``; records requests."""

    def __init__(self, handler: Handler):
        self.requests: list[dict[str, Any]] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, headers, payload = handler(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PATCH = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_answer(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def scripted() -> Iterator[Callable[[Handler], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(handler: Handler) -> ScriptedServer:
        servers.append(ScriptedServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def scripted_client(server: ScriptedServer, **overrides: Any) -> TicketingClient:
    settings = Settings(
        base_url=server.base_url, tenant_id="t-1", realm="demo", retries=1, retry_backoff=0.01,
        retry_wait_max=0.1, **overrides,
    )  # fmt: skip
    return TicketingClient(settings, StaticToken("opaque-test-token-0001"))


# --------------------------------------------------------------------------- reads and writes


def test_static_token_reads_schema_and_ticket(sandbox: Any) -> None:
    with client_for(sandbox) as client:
        schema = client.get_schema()
        ticket = client.get_ticket("REQ-0509")
        counts = client.request_counts()
    assert "REQ" in schema.prefixes
    assert ticket.object_id == "REQ-0509"
    assert ticket.team == "network"
    assert DESCRIPTION in ticket.data
    assert counts == {**dict.fromkeys(KINDS, 0), "ticket_type": 1, "get": 1}
    assert sandbox.stats()["by_route"] == {"ticket_type": 1, "get": 1}


def test_headers_sent_and_user_agent(scripted: Any) -> None:
    ticket = {"object_id": "REQ-0001", "etag": "e1", "data": {}}
    server = scripted(lambda h: json_answer(200, ticket))
    with scripted_client(server) as client:
        client.get_ticket("REQ-0001")
    headers = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert server.requests[0]["path"] == "/api/v2/ticketing/ticket/REQ-0001"
    assert headers["authorization"] == "Bearer opaque-test-token-0001"
    assert headers["accept"] == "application/json"
    assert headers["x-tenantid"] == "t-1"
    assert headers["realmname"] == "demo"
    assert headers["user-agent"].startswith("reconcile/")


def test_pool_is_sized_to_the_parallelism(sandbox: Any) -> None:
    with client_for(sandbox, parallelism=16) as client:
        pool = client.transport.pool_for(sandbox.base_url)
        assert pool.pool is not None and pool.pool.maxsize >= 16


def test_update_returns_new_etag_and_stale_etag_is_mismatch(sandbox: Any) -> None:
    with client_for(sandbox) as client:
        before = client.get_ticket("REQ-0509")
        new_etag = client.update_ticket("REQ-0509", before.etag, {DESCRIPTION: "<p>new</p>"})
        after = client.get_ticket("REQ-0509")
        with pytest.raises(EtagMismatch) as caught:
            client.update_ticket("REQ-0509", before.etag, {DESCRIPTION: "<p>again</p>"})
    assert new_etag == after.etag != before.etag
    assert after.data[DESCRIPTION] == "<p>new</p>"
    assert caught.value.code == "ETAG_MISMATCH"
    assert "Ticket might have been updated" in str(caught.value)
    assert sandbox.stats()["writes"]["committed"] == 1


def test_validation_failure_carries_reasons(sandbox: Any) -> None:
    with client_for(sandbox) as client:
        ticket = client.get_ticket("REQ-0509")
        with pytest.raises(ApiError) as caught:
            client.update_ticket("REQ-0509", ticket.etag, {"not-a-field": 1})
    assert caught.value.code == "INPUT_VALIDATION_FAILURE"
    assert caught.value.status == 400
    assert "not-a-field" in caught.value.reasons


def test_missing_ticket_is_ticket_not_found_with_server_message(sandbox: Any) -> None:
    with client_for(sandbox) as client, pytest.raises(TicketNotFound) as caught:
        client.get_ticket("REQ-9999")
    assert "Ticket not found (REQ-9999)" in str(caught.value)


def test_permission_failure_on_another_teams_ticket(sandbox: Any) -> None:
    writer = sandbox.token()  # demo writer: teams network, service-desk
    with client_for(sandbox) as admin:
        tickets = Manager(admin).read_all()
    foreign = next(t for t in tickets if t.team not in (None, *DEMO_WRITER.teams))
    with client_for(sandbox, writer) as client, pytest.raises(ApiError) as caught:
        client.update_ticket(foreign.object_id, foreign.etag, {DESCRIPTION: "x"})
    assert caught.value.code == "USER_PERMISSION_FAILURE"
    assert caught.value.status == 401
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_ticket_created_by_someone_else_reads_with_its_etag(sandbox: Any) -> None:
    with client_for(sandbox) as client:
        req = next(t for t in client.get_schema().types if t.prefix == "REQ")
        model = client.get_ticket("REQ-0509").data
        required = {f.id: model[f.id] for f in req.fields if f.required}
        response = requests.post(
            f"{sandbox.base_url}/api/v2/ticketing/ticket/create",
            params={"type": "template", "module": "ticketing"},
            headers=sandbox.headers(admin_token(sandbox)),
            json={"ticketTypeId": req.id, "team": None, "ticket": required},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        object_id, etag = response.json()["objectId"], response.json()["etag"]
        assert client.get_ticket(object_id).etag == etag
    assert object_id.startswith("REQ-")


def test_list_pages_cover_every_ticket(sandbox: Any) -> None:
    with client_for(sandbox) as client:
        first = client.list_page(1, 10)
        total = first.total
        assert total is not None
        pages = range(1, -(-total // 7) + 1)
        listed = [t for page in pages for t in client.list_page(page, 7).tickets]
    assert len(first.tickets) == first.items == 10
    assert len(listed) == total == len({t.object_id for t in listed})
    assert client.request_counts()["list"] == 1 + -(-total // 7)


@pytest.mark.parametrize(
    "answer",
    [
        json_answer(404, {"error": True, "message": "No such route"}),
        json_answer(200, {"items": []}),
        json_answer(200, [{"object_id": "REQ-0001", "etag": "e", "data": {}}]),
        (200, {"Content-Type": "text/html"}, b"<html>hi</html>"),
    ],
)
def test_list_endpoint_missing_or_odd_is_list_unsupported(scripted: Any, answer: Any) -> None:
    server = scripted(lambda h: answer)
    with scripted_client(server) as client, pytest.raises(ListUnsupported):
        client.list_page(1)


def test_tolerant_reads_unknown_keys_and_non_json_errors(scripted: Any) -> None:
    def handler(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if "REQ-0001" in h.path:
            return json_answer(
                200, {"object_id": "REQ-0001", "etag": "e", "data": {}, "extra": {"x": 1}}
            )
        return 502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>\n<p>more</p>"

    server = scripted(handler)
    with scripted_client(server) as client:
        assert client.get_ticket("REQ-0001").data == {}
        with pytest.raises(ApiError, match=r"ticket REQ-0002: 502: <html>Bad gateway</html>"):
            client.get_ticket("REQ-0002")


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"object_id": "REQ-0001", "etag": "e"}, "data is missing or null"),
        ({"object_id": "REQ-0001", "etag": "e", "data": None}, "data is missing or null"),
        ({"object_id": "REQ-0001", "etag": "e", "data": ["x"]}, "data is a list"),
        ({"object_id": "REQ-0001", "etag": "", "data": {}}, "etag is empty"),
        ({"object_id": "REQ-0001", "etag": 7, "data": {}}, "etag is a number"),
        ({"object_id": "REQ-0001", "data": {}}, "etag is missing or null"),
        ({"object_id": 1, "etag": "e", "data": {}}, "object_id is a number"),
    ],
)
def test_a_ticket_in_an_untrusted_shape_is_never_returned(
    scripted: Any, item: dict[str, Any], why: str
) -> None:
    """GET answers it with an error naming the ticket and key; a list page leaves it out
    and names the ticket to read again with a GET (when it has a display ID)."""
    good = {"object_id": "REQ-0002", "etag": "e2", "data": {}}

    def handler(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if h.path.startswith("/api/v2/ticketing/ticket?"):
            return json_answer(200, {"data": [item, good], "page": 1, "size": 500, "total": 2})
        return json_answer(200, item)

    server = scripted(handler)
    with scripted_client(server) as client:
        with pytest.raises(ApiError, match=f"unexpected ticket .* in answer: {why}"):
            client.get_ticket("REQ-0001")
        page = client.list_page(1)
    assert [t.object_id for t in page.tickets] == ["REQ-0002"]
    assert (page.items, page.rejected) == (2, 1)
    assert page.reread == (() if item["object_id"] == 1 else ("REQ-0001",))


def test_a_get_answering_another_ticket_is_an_error(scripted: Any) -> None:
    server = scripted(
        lambda h: json_answer(200, {"object_id": "REQ-0002", "etag": "e", "data": {}})
    )
    with scripted_client(server) as client, pytest.raises(ApiError, match="is ticket REQ-0002"):
        client.get_ticket("REQ-0001")


@pytest.mark.parametrize(
    ("etag", "update"), [("", {DESCRIPTION: "x"}), (" ", {DESCRIPTION: "x"}), ("e", {})]
)
def test_a_patch_without_etag_or_fields_is_never_sent(
    sandbox: Any, etag: str, update: dict[str, Any]
) -> None:
    with client_for(sandbox) as client, pytest.raises(ApiError, match="not sent"):
        client.update_ticket("REQ-0509", etag, update)
    assert api_requests(sandbox) == 0


# --------------------------------------------------------------------------- identity


def test_token_file(sandbox: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(admin_token(sandbox) + "\n")
    settings = settings_for(sandbox, token_file=token_file)
    with connect(settings, write=True, env={}) as client:
        assert client.get_ticket("REQ-0509").object_id == "REQ-0509"
    assert client.token_source.description == f"token file {token_file}"


def test_client_credentials_survive_token_expiry_with_few_token_requests(
    sandbox_factory: Any,
) -> None:
    """Tokens that live 2 s, a run of about 2.9 s: the source renews them before they
    expire, with a handful of token requests. The sandbox and the token source share a
    ``ManualClock`` that each request's 6 ms latency moves on: no test time is slept."""
    clock = ManualClock()
    sandbox = sandbox_factory(clock=clock, demo=True, token_lifetime=2, latency_ms=6)
    settings = settings_for(sandbox, parallelism=8)
    with client_for(sandbox) as admin:
        ids = [t.object_id for t in Manager(admin).read_all()]
    sandbox.reset_stats()
    started = clock.time()
    transport = Transport(settings)
    source = ClientCredentials(
        token_url(sandbox),
        DEMO_ADMIN.client_id,
        DEMO_ADMIN.secret,
        transport.post_token,
        clock=clock.time,
        wall_clock=clock.time,
    )
    with TicketingClient(settings, source, transport=transport) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            work = (ids * 20)[:480]
            tickets = list(pool.map(client.get_ticket, work))
        counts = client.request_counts()
    elapsed = clock.time() - started
    stats = sandbox.stats()
    assert elapsed > 2.5, "the run must outlive the 2 s tokens"
    assert [t.object_id for t in tickets] == work
    assert stats["by_method_status"]["GET"] == {"200": 480}  # renewed before expiry: no 401
    assert 2 <= stats["by_route"]["token"] <= 6  # a handful, not hundreds
    assert counts["token"] == stats["by_route"]["token"] == source.fetches


def test_401_refreshes_client_credentials_once(sandbox_factory: Any) -> None:
    clock = ManualClock()
    sandbox = sandbox_factory(clock=clock, demo=True, token_lifetime=3)
    settings = settings_for(sandbox)
    transport = Transport(settings)
    frozen = ClientCredentials(
        token_url(sandbox),
        DEMO_ADMIN.client_id,
        DEMO_ADMIN.secret,
        transport.post_token,
        clock=lambda: 0.0,  # never refreshes by itself: only the 401 can make it
    )
    with TicketingClient(settings, frozen, transport=transport) as client:
        client.get_ticket("REQ-0509")
        clock.advance(4.1)  # past the cached token's exp (whole seconds): the server rejects it
        assert client.get_ticket("REQ-0509").object_id == "REQ-0509"
    stats = sandbox.stats()
    assert stats["by_method_status"]["GET"] == {"200": 2, "401": 1}
    assert stats["by_route"]["token"] == frozen.fetches == 2


def test_static_token_rejected_is_auth_error_after_one_request(sandbox: Any) -> None:
    token = admin_token(sandbox, claims={"exp": int(time.time()) - 5})
    with client_for(sandbox, token) as client, pytest.raises(AuthError) as caught:
        client.get_schema()
    assert "refused the token from RECONCILE_TOKEN (401 UNAUTHORIZED" in str(caught.value)
    assert "Token has expired); get a new token" in str(caught.value)
    assert api_requests(sandbox) == 1  # the same token is not sent twice


def test_expired_token_refused_before_any_request(sandbox: Any) -> None:
    env = {"RECONCILE_TOKEN": admin_token(sandbox, expires_in=-30)}
    with pytest.raises(AuthError, match="the token expired at"):
        connect(settings_for(sandbox), write=False, env=env)
    assert api_requests(sandbox) == 0


def test_tenant_mismatch_refused_before_any_request(sandbox: Any) -> None:
    env = {"RECONCILE_TOKEN": admin_token(sandbox, tenant_id=OTHER_TENANT)}
    with pytest.raises(AuthError, match=f"token is for tenant {OTHER_TENANT}"):
        connect(settings_for(sandbox), write=False, env=env)
    assert api_requests(sandbox) == 0


def test_server_tenant_not_found_is_explained(sandbox: Any) -> None:
    token = admin_token(sandbox, tenant_id=OTHER_TENANT)
    with client_for(sandbox, token, tenant_id=OTHER_TENANT) as client:
        with pytest.raises(AuthError, match=r"Tenant not found: the tenant id .* does not match"):
            client.get_ticket("REQ-0509")
        with pytest.raises(AuthError, match="Tenant not found"):
            client.list_page(1)


@pytest.mark.parametrize(
    ("token_kwargs", "expected"),
    [
        ({"scope": "openid tickets:read"}, "lacks scope tickets:write"),
        ({"roles": ["viewer"]}, "none of the write roles"),
    ],
)
def test_missing_write_scope_or_role_caught_before_any_patch(
    sandbox: Any, token_kwargs: dict[str, Any], expected: str
) -> None:
    env = {"RECONCILE_TOKEN": sandbox.token(**token_kwargs)}
    with connect(settings_for(sandbox), write=False, env=env) as reader:
        reader.get_ticket("REQ-0509")  # reading is fine
    with pytest.raises(AuthError, match=expected):
        connect(settings_for(sandbox), write=True, env=env)
    assert "PATCH" not in sandbox.stats()["by_method"]


def test_reader_client_credentials_refused_for_write_before_any_patch(sandbox: Any) -> None:
    env = {"RECONCILE_CLIENT_SECRET": DEMO_READER.secret}
    settings = settings_for(sandbox, client_id=DEMO_READER.client_id)
    with pytest.raises(AuthError, match="lacks scope tickets:write"):
        connect(settings, write=True, env=env)
    assert sandbox.stats()["by_route"] == {"token": 1}


def test_bad_client_secret_is_auth_error(sandbox: Any) -> None:
    env = {"RECONCILE_CLIENT_SECRET": "definitely-wrong-secret"}
    settings = settings_for(sandbox, client_id=DEMO_ADMIN.client_id)
    with pytest.raises(AuthError) as caught:
        connect(settings, write=False, env=env)
    message = str(caught.value)
    assert "refused the client credentials: 401 unauthorized_client" in message
    assert "definitely-wrong-secret" not in message


# --------------------------------------------------------------------------- transport


@pytest.mark.parametrize(
    "url",
    [
        "http://example.invalid",
        "http://10.1.2.3:8080",
        "http://sub.example.invalid/x",
        # Names that merely look local go to the resolver, which may answer anything:
        "http://x.localhost:8080",
        "http://localhost.localdomain:8080",
        "http://ip6-localhost:8080",
        "http://localhost.:8080",
        "http://127.0.0.1.nip.io:8080",
    ],
)
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(url: str) -> None:
    settings = Settings(base_url=url, tenant_id="t", realm="r")
    with pytest.raises(ConfigError, match=r"refusing plain http:// .* --allow-insecure-http"):
        TicketingClient(settings, StaticToken("x" * 20))
    with pytest.raises(ConfigError, match="refusing plain http://"):
        connect(settings, write=False, env={"RECONCILE_TOKEN": "x" * 20})
    TicketingClient(replace(settings, allow_insecure_http=True), StaticToken("x" * 20)).close()


def test_plain_http_token_endpoint_is_refused_too() -> None:
    settings = Settings(
        base_url="https://api.example.invalid", auth_url="http://sso.example.invalid",
        tenant_id="t", realm="r",
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"sso\.example\.invalid"):
        Transport(settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:1",
        "http://LOCALHOST:1",
        "http://127.0.0.2:1",
        "http://[::1]:1",
        "https://example.invalid",
    ],
)
def test_loopback_and_https_are_allowed(url: str) -> None:
    TicketingClient(Settings(base_url=url, tenant_id="t", realm="r"), StaticToken("x" * 20)).close()


def test_reads_retry_429_and_5xx(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(
        demo=True, fail_rate=0.2, rate_limit_rate=0.15, retry_after=0, fault_seed=7
    )
    with client_for(sandbox) as admin:
        ids = [t.object_id for t in Manager(admin).read_all()][:10] * 4
    sandbox.reset_stats()
    with client_for(sandbox, retries=8) as client:
        read = [client.get_ticket(i).object_id for i in ids]
        counts = client.request_counts()
    stats = sandbox.stats()
    faults = sum(stats["faults"].values())
    assert read == ids
    assert stats["faults"].get("fail", 0) > 0 and stats["faults"].get("rate_limit", 0) > 0
    assert counts["retries"] == faults
    assert stats["by_method"]["GET"] == len(ids) + faults


def test_reads_honour_retry_after_then_give_up(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, rate_limit_rate=1.0, retry_after=1)
    clock = ManualClock()  # the client waits on it: nothing is slept
    started = clock.time()
    settings = settings_for(sandbox, retries=1, retry_wait_max=5)
    transport = Transport(settings, clock=clock.time, sleep=clock.sleep)
    client = TicketingClient(settings, StaticToken(admin_token(sandbox)), transport=transport)
    with client, pytest.raises(ApiError, match=r"429 TOO_MANY_REQUESTS.*after 1 retries") as caught:
        client.get_ticket("REQ-0509")
    assert clock.time() - started >= 1.0
    assert clock.slept == [1.0]  # the Retry-After, once
    assert caught.value.status == 429
    assert sandbox.stats()["by_method_status"]["GET"] == {"429": 2}


def test_patch_is_retried_after_429_only(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, rate_limit_rate=0.4, retry_after=0, fault_seed=3)
    with client_for(sandbox, retries=10) as client:
        for n in range(5):
            ticket = client.get_ticket("REQ-0509")
            client.update_ticket("REQ-0509", ticket.etag, {DESCRIPTION: f"<p>{n}</p>"})
    stats = sandbox.stats()
    assert stats["by_method_status"]["PATCH"]["429"] > 0
    assert stats["by_method_status"]["PATCH"]["200"] == 5
    assert stats["writes"]["committed"] == 5


def test_patch_dropped_after_commit_is_outcome_unknown_never_resent(
    sandbox_factory: Any,
) -> None:
    sandbox = sandbox_factory(demo=True, drop_after_commit_rate=1.0, fault_seed=11)
    with client_for(sandbox) as client:
        for n in range(6):
            ticket = client.get_ticket("REQ-0509")
            with pytest.raises(OutcomeUnknown):
                client.update_ticket("REQ-0509", ticket.etag, {DESCRIPTION: f"<p>{n}</p>"})
        assert client.get_ticket("REQ-0509").data[DESCRIPTION] == "<p>5</p>"  # it landed
    stats = sandbox.stats()
    assert stats["faults"].get("drop", 0) > 0 and stats["faults"].get("error_after_commit", 0) > 0
    assert stats["writes"]["patches"] == stats["writes"]["committed"] == 6


def test_patch_500_is_outcome_unknown(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, fail_rate=1.0)
    with client_for(sandbox) as client, pytest.raises(OutcomeUnknown, match="may or may not"):
        client.update_ticket("REQ-0509", "etag", {DESCRIPTION: "x"})
    assert sandbox.stats()["by_method"]["PATCH"] == 1


def test_patch_read_timeout_is_outcome_unknown(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, latency_ms=600)
    etag = sandbox.store.get("REQ-0509")["etag"]  # not through the API: no latency to wait
    with client_for(sandbox, timeout=0.2, retries=1) as client:
        with pytest.raises(OutcomeUnknown, match="no answer before the timeout"):
            client.update_ticket("REQ-0509", etag, {DESCRIPTION: "<p>late</p>"})
        with pytest.raises(ApiError, match="no answer before the timeout") as caught:
            client.get_ticket("REQ-0509")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert client.request_counts()["retries"] == 1  # the GET, not the PATCH


def test_patch_that_cannot_connect_is_not_outcome_unknown(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True)
    client = client_for(sandbox, retries=1)
    sandbox.stop()
    with client, pytest.raises(ApiError, match="could not connect") as caught:
        client.update_ticket("REQ-0509", "etag", {DESCRIPTION: "x"})
    assert not isinstance(caught.value, OutcomeUnknown)


def test_rate_limit_paces_requests_across_threads(sandbox: Any) -> None:
    """Twelve reads at 20/s from four threads: the last starts at least 11/20 s after the
    first. The pacer waits on a ``ManualClock`` (each wait moves it on): nothing is slept."""
    clock = ManualClock()
    settings = settings_for(sandbox, rate_limit=20.0)
    transport = Transport(settings, clock=clock.time, sleep=clock.sleep)
    token = StaticToken(admin_token(sandbox))
    with TicketingClient(settings, token, transport=transport) as client:
        started = clock.time()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(client.get_ticket, ["REQ-0509"] * 12))
        elapsed = clock.time() - started
    assert elapsed >= 11 / 20 - 0.02


def test_verbose_log_lines_have_method_path_status_and_no_token(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = admin_token(sandbox)
    with caplog.at_level(logging.INFO, logger="reconcile.http"), client_for(sandbox, token) as c:
        c.get_ticket("REQ-0509")
    lines = [r.getMessage() for r in caplog.records if r.name == "reconcile.http"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /api/v2/ticketing/ticket/REQ-0509 200 (")
    assert token not in caplog.text


# --------------------------------------------------------------------------- TLS


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ext = directory / "ext.cnf"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        ["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=reconcile test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", str(ext)],
    ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, cwd=directory, capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"openssl failed: {done.stderr.decode(errors='replace')[:200]}")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def test_tls_with_a_private_ca_bundle(sandbox_factory: Any, tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path)
    sandbox = sandbox_factory(demo=True, tls_cert=cert, tls_key=key)
    assert sandbox.base_url.startswith("https://")
    with client_for(sandbox, ca_bundle=ca) as client:
        assert client.get_ticket("REQ-0509").object_id == "REQ-0509"
    with client_for(sandbox) as client, pytest.raises(ConfigError, match="--ca-bundle"):
        client.get_ticket("REQ-0509")
