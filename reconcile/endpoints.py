"""The HTTP endpoints of ``reconcile watch``: ``/metrics``, ``/healthz``, ``/readyz``, ``/status``,
and ``/``, the last cycle's drift report as the HTML page ``--format html`` writes.

A small WSGI application served by the standard library's ``wsgiref`` on a thread per
request, the way ``prometheus_client.start_http_server`` serves its own; ``/metrics``
is ``prometheus_client``'s own WSGI app over the watcher's registry (it negotiates
OpenMetrics and gzip). Everything served is built from masked, scrubbed reports: no
token, secret or sensitive value can appear.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from reconcile.render.html import render_html
from reconcile.watch import Watcher

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

INDEX = b"""reconcile watch
/         the last cycle's drift report (HTML), once a cycle has planned
/metrics  Prometheus metrics
/healthz  200 while the loop is alive
/readyz   200 once the first cycle has completed
/status   the last cycle as JSON
"""


def make_app(watcher: Watcher) -> WSGIApp:
    """The WSGI application serving ``watcher``'s endpoints."""
    metrics = make_wsgi_app(watcher.metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"GET only\n", allow="GET")
        if path == "/metrics":
            served: Iterable[bytes] = metrics(environ, start_response)
            return served
        if path == "/healthz":
            if watcher.alive:
                return _reply(start_response, "200 OK", b"ok\n")
            return _reply(start_response, "503 Service Unavailable", b"the loop is not running\n")
        if path == "/readyz":
            if watcher.ready:
                return _reply(start_response, "200 OK", b"ready\n")
            return _reply(
                start_response, "503 Service Unavailable", b"no cycle has completed yet\n"
            )
        if path == "/status":
            body = json.dumps(watcher.status(), indent=2, sort_keys=True, ensure_ascii=False)
            return _reply(start_response, "200 OK", body.encode() + b"\n", "application/json")
        if path == "/":
            report = watcher.drift_report()
            if report is None:
                return _reply(start_response, "200 OK", INDEX)
            page = io.StringIO()
            render_html(report[0], page, drift=True, created_at=report[1])
            html = page.getvalue().encode()
            return _reply(start_response, "200 OK", html, "text/html; charset=utf-8")
        return _reply(start_response, "404 Not Found", b"not found\n")

    return app


def _reply(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    allow: str | None = None,
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers += [("Cache-Control", "no-store")]
    if allow:
        headers.append(("Allow", allow))
    start_response(status, headers)
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _IPv6ThreadingServer(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the watcher's own logs are the ones that matter there."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


_POLL_INTERVAL = 0.1
"""How often the serving loop looks for a stop: ``stop()`` (and so the watch's exit on
SIGTERM) waits up to this long; socketserver's default, 0.5 s, is felt at every exit."""


class EndpointServer:
    """Serves :func:`make_app` on ``host:port`` from a daemon thread; ``port`` 0 picks one."""

    def __init__(self, watcher: Watcher, host: str, port: int):
        server_class = _IPv6ThreadingServer if ":" in host else _ThreadingServer
        self._server = make_server(
            host, port, make_app(watcher), server_class=server_class, handler_class=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="reconcile-endpoints",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EndpointServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
