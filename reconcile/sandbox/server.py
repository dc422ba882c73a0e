"""Serving: Werkzeug's threaded server with HTTP/1.1 keep-alive, and the ``Sandbox`` object.

Werkzeug's own handler answers every request with ``Connection: close``, because
``http.server`` cannot tell where an unread request body ends. This handler wraps the
body in a length-limited stream and drains what the application left unread, so the
connection can carry the next request; a body it cannot drain cheaply closes it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from reconcile.sandbox import demo
from reconcile.sandbox.app import SandboxApp
from reconcile.sandbox.auth import make_token
from reconcile.sandbox.faults import Faults
from reconcile.sandbox.options import DEFAULT_SCOPE, MAX_BODY_BYTES, SandboxError, SandboxOptions
from reconcile.sandbox.seed import load_seed
from reconcile.sandbox.stats import Stats
from reconcile.sandbox.store import Store

log = logging.getLogger("reconcile.sandbox")
_IDLE_TIMEOUT = 120.0
_DRAIN_LIMIT = 16 * MAX_BODY_BYTES
"""An unread body up to this size is read and dropped (a client sees its 413); a larger one
closes the connection."""
_connection_errors = (ConnectionError, TimeoutError, ssl.SSLError)


class _Handler(WSGIRequestHandler):
    """Keep-alive request handler; quiet unless the server is verbose."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    server: _Server  # type: ignore[assignment]

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.track(self.connection, add=False)

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = environ.get("CONTENT_LENGTH", "")
        if not environ.get("wsgi.input_terminated"):
            try:
                size = max(0, int(length)) if length else 0
            except ValueError:
                size = 0
                self.close_connection = True
            environ["wsgi.input"] = LimitedStream(self.rfile, size)  # type: ignore[arg-type]
        return environ

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        sent: list[bool] = [False]
        pending: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info and sent[0]:
                raise exc_info[1].with_traceback(exc_info[2])
            pending["status"], pending["headers"] = status, headers
            return write

        def write(data: bytes) -> None:
            if not sent[0]:
                code, _, reason = pending["status"].partition(" ")
                self.send_response(int(code), reason)
                for key, value in pending["headers"]:
                    self.send_header(key, value)
                if not any(k.lower() == "content-length" for k, _ in pending["headers"]):
                    self.close_connection = True
                    self.send_header("Connection", "close")
                # Head and body in one write: two small segments would meet Nagle's
                # algorithm and the peer's delayed ACK (40 ms per request).
                buffered: list[bytes] = getattr(self, "_headers_buffer", [])
                head = b"".join(buffered) + b"\r\n"
                self._headers_buffer: list[bytes] = []
                sent[0] = True
                data = head + data
            if data:
                self.wfile.write(data)

        try:
            result = self.server.app(environ, start_response)
            try:
                for chunk in result:
                    write(chunk)
                if not sent[0]:
                    write(b"")
                self.wfile.flush()
            finally:
                if hasattr(result, "close"):
                    result.close()
            self._drain(environ)
        except _connection_errors as e:
            self.close_connection = True
            self.connection_dropped(e, environ)
        except OSError:  # the application shut the socket (drop-after-commit)
            self.close_connection = True

    def _drain(self, environ: dict[str, Any]) -> None:
        """Read what the application left of the body, so the next request can follow."""
        stream = environ["wsgi.input"]
        if isinstance(stream, LimitedStream):
            if stream.limit - stream._pos > _DRAIN_LIMIT:
                self.close_connection = True
            else:
                stream.exhaust()
        elif environ.get("wsgi.input_terminated"):
            drained = 0
            while chunk := stream.read(65536):
                drained += len(chunk)
                if drained > _DRAIN_LIMIT:
                    self.close_connection = True
                    return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.verbose:
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_error(format, *args)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server:
    """Attributes that ``Sandbox.start`` sets on Werkzeug's server (for type checking)."""

    app: Any
    verbose: bool

    def track(self, connection: socket.socket, add: bool) -> None: ...


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise SandboxError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


class Sandbox:
    """The ticketing API emulator, serving in a background thread.

    >>> with Sandbox(SandboxOptions(port=0, demo=True)).start() as sandbox:
    ...     sandbox.base_url  # doctest: +SKIP
    'http://127.0.0.1:54321'
    """

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.options.check()
        self.clients = self.options.parsed_clients()
        if self.options.demo:
            self.clients = [*demo.DEMO_CLIENTS, *self.clients]
        self.tenant_id = self.options.tenant_id
        self.realm = self.options.realm
        self.secret = self.options.secret
        self.base_url = ""
        self._stats = Stats()
        self._store: Store | None = None
        self._server: BaseWSGIServer | None = None
        self._app: SandboxApp | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        """Open the database, seed it if it is empty, listen, and serve in a thread."""
        if self._server is not None:
            raise SandboxError("sandbox already started")
        opts = self.options
        seed = load_seed(opts.seed) if opts.seed is not None else None
        store = Store(opts.db)
        try:
            if store.empty:
                self._populate(store, seed)
            listener = _bind(opts.host, opts.port)
        except BaseException:
            store.close()
            raise
        try:
            ssl_context = None
            if opts.tls_cert is not None:
                ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ssl_context.load_cert_chain(str(opts.tls_cert), str(opts.tls_key))
            app = SandboxApp(
                store=store,
                tenant_id=opts.tenant_id,
                realm=opts.realm,
                secret=opts.secret,
                clients=self.clients,
                token_lifetime=opts.token_lifetime,
                faults=Faults.from_options(opts),
                retry_after=opts.retry_after,
                stats=self._stats,
            )
            server = make_server(
                opts.host,
                0,
                app,
                threaded=True,
                request_handler=_Handler,
                ssl_context=ssl_context,
                fd=listener.fileno(),
            )
        except (OSError, ssl.SSLError) as e:
            store.close()
            raise SandboxError(f"cannot start the sandbox: {e}") from None
        finally:
            listener.close()
        server.verbose = opts.verbose  # type: ignore[attr-defined]
        server.track = self._track  # type: ignore[attr-defined]
        host, port = str(server.server_address[0]), int(server.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"{'https' if ssl_context else 'http'}://{shown}:{port}"
        app.base_url = self.base_url
        app.write_delay = opts.write_delay_ms / 1000.0
        app.echo_token_form = opts.echo_token_form
        app.refuse_fields = frozenset(opts.refuse_fields)
        self._store, self._server, self._app = store, server, app
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox {self.base_url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _populate(self, store: Store, seed: dict[str, Any] | None) -> None:
        if self.options.demo:
            types = demo.demo_ticket_types()
            store.add_types(types)
            store.add_tickets(demo.demo_tickets(types))
        elif seed is not None:
            store.add_types(seed["ticket_types"])
            store.add_tickets(seed["tickets"])
        if self.options.tickets:
            numbers = store.next_numbers()
            store.add_tickets(demo.generate_tickets(store.types, self.options.tickets, numbers))

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def stop(self) -> None:
        """Stop serving, close open connections and the database. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self.release_held()
        server.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        # Joins the request threads (their connections are shut), so none of them can
        # touch the database once it is closed below.
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Sandbox:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests

    @property
    def store(self) -> Store:
        if self._store is None:
            raise SandboxError("sandbox not started")
        return self._store

    def token(
        self,
        sub: str = demo.DEMO_WRITER.sub,
        roles: Iterable[str] = demo.DEMO_WRITER.roles,
        teams: Iterable[str] = demo.DEMO_WRITER.teams,
        scope: str = DEFAULT_SCOPE,
        expires_in: int = 300,
        tenant_id: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A JWT this sandbox accepts; by default the demo writer's identity."""
        return make_token(
            secret=self.secret,
            tenant_id=tenant_id or self.tenant_id,
            realm=self.realm,
            sub=sub,
            roles=roles,
            teams=teams,
            scope=scope,
            expires_in=expires_in,
            issuer_base=self.base_url or "http://sandbox",
            claims=claims,
        )

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """The headers an API request needs (bearer token, accept, x-tenantid, realmname)."""
        return {
            "Authorization": f"Bearer {token or self.token()}",
            "accept": "application/json",
            "x-tenantid": self.tenant_id,
            "realmname": self.realm,
            **extra,
        }

    def stats(self) -> dict[str, Any]:
        return self._stats.snapshot()

    def release_held(self) -> None:
        """Let the requests held by ``hold_tickets``/``hold_after_commits`` go on; hold no more."""
        if self._app is not None:
            self._app.faults.release()

    def reset_stats(self) -> None:
        self._stats.reset()
