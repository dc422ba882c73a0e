"""Serving: cheroot's WSGI server (HTTP/1.1 keep-alive, a thread pool), and ``Sandbox``.

cheroot keeps connections alive, reads or discards request bodies and answers
``Expect: 100-continue`` itself. The one extension is a gateway that hands the
application the connection's socket (``reconcile.sandbox.socket`` in the environ), so
the drop-after-commit fault can cut it.
"""

from __future__ import annotations

import logging
import select
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from io import DEFAULT_BUFFER_SIZE
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import MakeFile, StreamReader
from cheroot.ssl.builtin import BuiltinSSLAdapter

from reconcile.sandbox import demo
from reconcile.sandbox.app import SOCKET_KEY, SandboxApp
from reconcile.sandbox.auth import make_token
from reconcile.sandbox.clock import Clock, SystemClock
from reconcile.sandbox.faults import Faults
from reconcile.sandbox.options import DEFAULT_SCOPE, SandboxError, SandboxOptions
from reconcile.sandbox.seed import load_seed
from reconcile.sandbox.stats import Stats
from reconcile.sandbox.store import Store

log = logging.getLogger("reconcile.sandbox")
_IDLE_TIMEOUT = 120
"""Seconds a kept-alive connection may stay idle."""
_BACKLOG = 128
"""Connections waiting to be accepted (50 racing writers connect at once in the tests)."""
_THREADS = 64
"""Requests served at once; held requests (``hold_tickets`` faults) and requests sleeping
their injected latency each keep one: 16 clients at 20 ms take 16, not a queue."""
_NEXT_REQUEST_WAIT = 0.002
"""Seconds a request thread waits on its kept-alive connection for the next request."""


def _readable_within(sock: Any, seconds: float) -> bool:
    if hasattr(select, "poll"):  # any descriptor number (select() stops at 1024)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(seconds * 1000))
    return bool(select.select([sock], [], [], seconds)[0])


class _CoalescingWriter:
    """A connection's writer that can hold the status line and headers back, to send
    them with the first body chunk in one ``send``: one system call and one wake-up of
    the client less per answer."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._held = b""
        self.holding = False

    def write(self, data: bytes) -> int:
        if self.holding:
            self._held += bytes(data)
            return len(data)
        if self._held:
            data, self._held = self._held + bytes(data), b""
        return int(self._writer.write(data))

    def send_held(self) -> None:
        """Send what is held (the headers of an answer without a body)."""
        if self._held:
            data, self._held = self._held, b""
            self._writer.write(data)

    def __getattr__(self, name: str) -> Any:  # close, flush, bytes_written, ...
        return getattr(self._writer, name)


class _LineReader(StreamReader):
    """cheroot's socket reader, whose ``readline`` takes a line found in the buffer
    directly: the pure-Python ``readline`` it inherits peeks and reads through several
    calls per line, for every line of every request's head."""

    _read_buf: bytes  # _pyio.BufferedReader's buffer, and the position read up to
    _read_pos: int

    def readline(self, size: int | None = -1) -> bytes:
        buffer, start = self._read_buf, self._read_pos  # as cheroot's has_data reads them
        limit = len(buffer) if size is None or size < 0 else min(len(buffer), start + size)
        end = buffer.find(b"\n", start, limit) + 1 or (
            limit if size is not None and limit == start + size > start else 0
        )
        if not end:  # no whole line (or ``size`` bytes) buffered: read on
            return bytes(super().readline(size))
        self._read_pos = end
        self.bytes_read += end - start
        return bytes(buffer[start:end])


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request, its headers sent together with the body's first chunk."""

    def send_headers(self) -> None:
        writer = self.conn.wfile
        if not isinstance(writer, _CoalescingWriter):  # cheroot replaced it (TLS errors)
            super().send_headers()
            return
        writer.holding = True
        try:
            super().send_headers()
        finally:
            writer.holding = False

    def respond(self) -> None:
        try:
            super().respond()
        finally:
            if isinstance(self.conn.wfile, _CoalescingWriter):
                self.conn.wfile.send_held()


class _Connection(cheroot_server.HTTPConnection):
    """A connection whose request thread serves the next request at once if it comes
    within ``_NEXT_REQUEST_WAIT``, and sends each answer's headers with its body.

    cheroot hands a kept-alive connection back to its selector thread after every
    request, which hands it to a request thread again when the next one arrives: several
    thread switches (and GIL hand-overs) per request. A client that sends its next
    request straight after reading an answer (every client of the benchmarks) now skips
    them; an idle connection goes back to the selector as before."""

    RequestHandlerClass = _Request

    def __init__(self, server: Any, sock: Any, makefile: Any = MakeFile) -> None:
        def files(sock: Any, mode: str = "r", bufsize: int = DEFAULT_BUFFER_SIZE) -> Any:
            # plain and TLS sockets alike get cheroot's StreamReader: here, a faster one
            if "r" in mode:
                return _LineReader(sock, mode, bufsize)
            return makefile(sock, mode, bufsize)

        super().__init__(server, sock, files)
        self.wfile = _CoalescingWriter(self.wfile)

    def communicate(self) -> bool:
        keep_open: bool = super().communicate()
        while (
            keep_open
            and self.server.ready
            and (self.rfile.has_data() or _readable_within(self.socket, _NEXT_REQUEST_WAIT))
        ):
            keep_open = super().communicate()
        return keep_open


class _Gateway(wsgi.Gateway_10):
    """WSGI 1.0, plus the connection's socket for the drop-after-commit fault."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ: dict[str, Any] = super().get_environ()
        environ[SOCKET_KEY] = self.req.conn.socket
        return environ


class _Server(wsgi.Server):
    """cheroot's WSGI server, quiet unless verbose."""

    verbose = False
    keep_alive_conn_limit = None  # type: ignore[assignment]  # cheroot: None is no limit
    """Every idle keep-alive connection stays open: cheroot's default of 10 closed the
    rest, so a client with 16 requests in flight reconnected for about one in ten."""
    ConnectionClass = _Connection

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        if self.verbose:
            super().error_log(msg, level, traceback)


def _logged(app: SandboxApp) -> Callable[..., Iterable[bytes]]:
    """``app`` with one line per request on stderr (``--verbose``): cheroot keeps no access log."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            query = environ.get("QUERY_STRING")
            target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            sys.stderr.write(
                f'{environ.get("REMOTE_ADDR", "-")} "{environ.get("REQUEST_METHOD")} {target} '
                f'{environ.get("SERVER_PROTOCOL")}" {status.split(" ", 1)[0]}\n'
            )
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged


class Sandbox:
    """The ticketing API emulator, serving in a background thread.

    >>> with Sandbox(SandboxOptions(port=0, demo=True)).start() as sandbox:
    ...     sandbox.base_url  # doctest: +SKIP
    'http://127.0.0.1:54321'
    """

    def __init__(
        self, options: SandboxOptions | None = None, *, clock: Clock | None = None
    ) -> None:
        self.options = options or SandboxOptions()
        self.options.check()
        self.clock = clock or SystemClock()
        """Token times and expiry, latency and write delays (a ``ManualClock`` in tests)."""
        self.clients = self.options.parsed_clients()
        if self.options.demo:
            self.clients = [*demo.DEMO_CLIENTS, *self.clients]
        self.tenant_id = self.options.tenant_id
        self.realm = self.options.realm
        self.secret = self.options.secret
        self.base_url = ""
        self._stats = Stats()
        self._store: Store | None = None
        self._server: _Server | None = None
        self._app: SandboxApp | None = None
        self._thread: threading.Thread | None = None

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
            app = SandboxApp(
                store=store,
                tenant_id=opts.tenant_id,
                realm=opts.realm,
                secret=opts.secret,
                clients=self.clients,
                token_lifetime=opts.token_lifetime,
                faults=Faults.from_options(opts, clock=self.clock),
                retry_after=opts.retry_after,
                stats=self._stats,
                clock=self.clock,
            )
            server = self._listen(app)
        except BaseException:
            store.close()
            raise
        host, port = str(server.bind_addr[0]), int(server.bind_addr[1])
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"{'https' if server.ssl_adapter else 'http'}://{shown}:{port}"
        app.base_url = self.base_url
        app.write_delay = opts.write_delay_ms / 1000.0
        app.echo_token_form = opts.echo_token_form
        app.refuse_fields = frozenset(opts.refuse_fields)
        self._store, self._server, self._app = store, server, app
        self._thread = threading.Thread(
            target=server.serve, name=f"sandbox {self.base_url}", daemon=True
        )
        self._thread.start()
        return self

    def _listen(self, app: SandboxApp) -> _Server:
        opts = self.options
        server = _Server(
            (opts.host, opts.port),
            _logged(app) if opts.verbose else app,
            numthreads=_THREADS,
            timeout=_IDLE_TIMEOUT,
            request_queue_size=_BACKLOG,
        )
        server.gateway = _Gateway
        # How often the selector loop wakes (to expire idle connections, and to see a
        # stop): cheroot's 0.5 s default would make every stop take up to half a second.
        server.expiration_interval = 0.05
        server.verbose = opts.verbose
        try:
            if opts.tls_cert is not None:
                server.ssl_adapter = BuiltinSSLAdapter(str(opts.tls_cert), str(opts.tls_key))
        except (OSError, ssl.SSLError) as e:
            raise SandboxError(f"cannot start the sandbox: {e}") from None
        try:
            server.prepare()
        except OSError as e:
            server.stop()
            where = f"{opts.host}:{opts.port}"
            raise SandboxError(f"cannot listen on {where}: {e.strerror or e}") from None
        return server

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

    def stop(self) -> None:
        """Stop serving, close open connections and the database. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self.release_held()
        # Closes the listener and the kept-alive connections, and joins the request
        # threads, so none of them can touch the database once it is closed below.
        server.stop()
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
            now=self.clock.time(),
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
