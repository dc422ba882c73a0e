"""Requests go through the proxy the environment names (requests' rules: ``HTTP_PROXY``,
``NO_PROXY``), with its credentials as ``Proxy-Authorization``, which no output shows.

The proxy is a forwarding HTTP proxy on loopback (absolute-form request lines, as a
proxy gets them for ``http://`` origins), which records what it was sent."""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

PASSWORD = "pr0xy-s3cret"
MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 9\n"


class _Proxy(BaseHTTPRequestHandler):
    """Forward each request to the origin of its absolute URL; answer 407 when told to."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _forward(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Proxy-Authorization")))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.refuse:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = urlsplit(self.path)
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request(self.command, path, body or None, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_PATCH = do_POST = _forward

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Proxy)
        self.seen: list[tuple[str, str, str | None]] = []
        self.refuse = False

    @property
    def url(self) -> str:
        return f"http://user:{PASSWORD}@127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[_ProxyServer]:
    server = _ProxyServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _proxy_env(proxy: _ProxyServer, **names: str) -> dict[str, str | None]:
    """Only ``HTTP_PROXY`` (and ``names``) of the proxy variables, whatever the machine sets."""
    unset = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    env: dict[str, str | None] = {n: None for n in (*unset, *(n.lower() for n in unset))}
    return {**env, "HTTP_PROXY": proxy.url, **names}


def test_requests_go_through_the_proxy_with_its_credentials(
    cli: Callable[..., Any], proxy: _ProxyServer, sandbox: Any
) -> None:
    Path("m.yaml").write_text(MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve", **_proxy_env(proxy))
    assert "1 updated" in result.stdout, result.stdout
    credentials = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    methods = {method for method, _, _ in proxy.seen}
    assert {"GET", "PATCH"} <= methods
    assert all(url.startswith(sandbox.base_url + "/") for _, url, _ in proxy.seen)
    assert {auth for _, _, auth in proxy.seen} == {credentials}
    assert sandbox.stats()["writes"]["patches"] == 1


def test_no_proxy_sends_the_origin_around_the_proxy(
    cli: Callable[..., Any], proxy: _ProxyServer
) -> None:
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "m.yaml", **_proxy_env(proxy, NO_PROXY="127.0.0.0/8"))
    assert "Plan: 1 to update" in result.stdout
    assert proxy.seen == []


def test_a_proxy_that_refuses_is_one_line_without_its_password(
    cli: Callable[..., Any], proxy: _ProxyServer, sandbox: Any
) -> None:
    proxy.refuse = True
    Path("m.yaml").write_text(MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve", expect=1, **_proxy_env(proxy))
    [line] = result.stderr.strip().splitlines()
    assert line.endswith(
        "407: Proxy Authentication Required: the proxy refused the request; check the user "
        "and password in HTTPS_PROXY, HTTP_PROXY or ALL_PROXY"
    ), line
    assert PASSWORD not in result.stdout + result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0


def test_a_proxy_that_is_down_is_named_without_its_password(
    cli: Callable[..., Any], proxy: _ProxyServer, sandbox: Any
) -> None:
    """Before: "connection lost before the answer", as if the tenant had failed."""
    env = _proxy_env(proxy)
    proxy.shutdown()
    proxy.server_close()
    Path("m.yaml").write_text(MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve", expect=1, **env, RECONCILE_RETRIES="0")
    [line] = result.stderr.strip().splitlines()
    assert "the proxy (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY): could not connect" in line
    assert PASSWORD not in result.stdout + result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0
