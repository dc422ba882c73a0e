"""The one module that talks HTTP: session, headers, TLS, retries, rate limit, logging.

:class:`Transport` owns the connection pools of a run (urllib3's, sized to the
parallelism), the retry policy, the request pacer and the counters; the token
endpoint is reached through it too (:meth:`Transport.post_token`). It sends through
urllib3 directly: a ``requests.Session`` call prepares, merges environment settings,
runs hooks and builds a Response each time, which cost as much CPU as the request
itself. requests still supplies what it does better: the proxy variables' rules
(``NO_PROXY`` with CIDRs) and its CA bundle.
:class:`TicketingClient` speaks the ticketing API over a transport and maps every
answer to a value or to an exception of :mod:`reconcile.errors`.

Retries (urllib3's ``Retry``: exponential backoff with jitter, ``Retry-After``
honoured up to ``retry_wait_max``):

- GET: connection errors, timeouts, 429 and 5xx, up to ``retries`` times.
- PATCH and POST: only what cannot have reached the server, a failed connect or a 429
  (the request was not processed). A read timeout, a reset after sending or a 5xx
  raise :class:`~reconcile.errors.OutcomeUnknown`: the write may have landed, so the
  caller re-reads and re-diffs instead of resending blindly.
- 401 ``UNAUTHORIZED``: the token source is invalidated and the request sent once
  more with a fresh token (if there is one).

Logging: ``reconcile.http`` logs method, path, status and duration at INFO, never a
header or a body. :class:`reconcile.redact.RedactingFilter` scrubs every known secret
from each record anyway, as a second line of defence.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit
from urllib.request import getproxies

import certifi
from urllib3 import BaseHTTPResponse, PoolManager, Timeout, make_headers, proxy_from_url
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url
from urllib3.util.retry import Retry

from reconcile import __version__
from reconcile.auth import NEW_TOKEN_HINT, Claims, TokenSource, preflight, token_source_from
from reconcile.config import Settings
from reconcile.errors import (
    ApiError,
    AuthError,
    ConfigError,
    EtagMismatch,
    ListUnsupported,
    OutcomeUnknown,
    ReconcileError,
    TicketNotFound,
)
from reconcile.redact import SECRETS, RedactingFilter
from reconcile.schema import Schema
from reconcile.ticket import DISPLAY_ID, LiveTicket, may_hold_surrogate, update_body

log = logging.getLogger("reconcile.http")
notices = logging.getLogger("reconcile.notice")
"""What a user waiting on a run should hear about at once (the CLI always shows it)."""

API_PREFIX = "/api/v2/ticketing"
USER_AGENT = f"reconcile/{__version__}"
KINDS = ("ticket_type", "get", "list", "update", "create", "token", "retries")
"""The keys of :meth:`TicketingClient.request_counts`."""

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_WRITES = frozenset({"PATCH", "POST", "PUT", "DELETE"})
_LIST_MISSING = frozenset({404, 405, 501})
_RETRY_CAUSES = {
    "ReadTimeoutError": "a read timeout",
    "ConnectTimeoutError": "a connect timeout",
    "NewConnectionError": "a failed connect",
    "NameResolutionError": "a failed name lookup",
    "ProtocolError": "a lost connection",
}


log.addFilter(RedactingFilter())


@dataclass(frozen=True)
class ListPage:
    """One page of the list endpoint, as far as it can be trusted."""

    tickets: list[LiveTicket]
    """The items that are valid live tickets."""
    items: int
    """How many items the page held, valid or not (a short page ends the listing)."""
    rejected: int
    """Items that were not valid live tickets: never compared with anything."""
    reread: tuple[str, ...]
    """Display IDs of rejected items that named one: to read with a GET."""
    total: int | None
    """The server's ``total``, a hint for progress and planning only."""
    passed: tuple[str, ...] = ()
    """Display IDs of the items not wanted (see :func:`list_page_of`): nothing else of
    them was looked at, they are only counted as seen."""


class _Retry(Retry):
    """urllib3's Retry, with writes retried only on 429 and a hook on every retry."""

    def __init__(
        self,
        *args: Any,
        on_retry: Any = None,
        wait: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry
        self.wait = wait

    def new(self, **kwargs: Any) -> _Retry:
        fresh = super().new(**kwargs)
        fresh.on_retry = self.on_retry
        fresh.wait = self.wait
        return fresh

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """urllib3's wait before the next try (the answer's Retry-After, else the
        backoff), spent in ``wait``: the transport's sleep, which tests inject."""
        retry_after = None
        if self.respect_retry_after_header and response is not None:
            retry_after = self.get_retry_after(response)
        seconds = retry_after or self.get_backoff_time()
        if seconds > 0:
            self.wait(seconds)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() in _WRITES:
            # A 429 was not processed: resending is safe. Any other status is final.
            return status_code == 429 and bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds to wait; 0 (the normal backoff) for a malformed value such as ``soon``,
        ``-5``, ``1e3`` or an empty header, which urllib3 would raise on."""
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            log.info("ignoring a malformed Retry-After header: %.40r", retry_after)
            return 0.0

    def increment(self, *args: Any, **kwargs: Any) -> _Retry:
        fresh = super().increment(*args, **kwargs)  # raises when exhausted
        if self.on_retry is not None and fresh.history:
            pool = kwargs.get("_pool")
            origin = f"{pool.scheme}://{pool.host}:{pool.port}" if pool is not None else "?"
            self.on_retry(fresh.history[-1], origin)
        return fresh


class Interrupted(ReconcileError):
    """A request cut off by :meth:`Transport.abort` (SIGINT/SIGTERM), or refused after it.

    ``sent`` says whether the request may have reached the server.
    """

    def __init__(self, message: str, *, sent: bool):
        super().__init__(message)
        self.sent = sent


class _Aborted(Exception):
    """Raised inside urllib3 when a request would start after an abort (passes through it)."""


TIMED_OUT = "timed out"
INTERRUPTED = "interrupted"


class _Watchdog:
    """Bounds every request attempt as a whole, and ends them all on :meth:`abort`.

    A socket timeout bounds each read, so a server that sends one byte a second could
    hold a request forever. Each connection is armed when an attempt starts to use it
    (connect or send) and disarmed when it goes back to the pool; one thread shuts the
    socket of an attempt still armed ``timeout`` seconds later, which makes the blocked
    read fail at once. The thread that was cut off learns why from :meth:`cause`.
    A connection cut off while it is still connecting has no socket to shut yet: it is
    remembered and shut by :meth:`connected` as soon as its socket exists.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.aborted = False
        self._armed: dict[int, tuple[float, Any, int]] = {}
        self._causes: dict[int, str] = {}
        self._cut_while_connecting: set[int] = set()
        self._lock = threading.Lock()
        """Held for every change; ``with self._lock`` is C code, a Condition's is not."""
        self._cond = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wakes_at = float("inf")
        """When the watching thread wakes next (it sleeps until the earliest deadline)."""

    def arm(self, connection: Any) -> None:
        ident = threading.get_ident()
        with self._lock:
            if self.aborted:
                raise _Aborted()
            if id(connection) in self._armed:
                return  # already armed by this attempt's connect
            self._causes.pop(ident, None)
            deadline = time.monotonic() + self.timeout
            self._armed[id(connection)] = (deadline, connection, ident)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="reconcile request deadlines", daemon=True
                )
                self._thread.start()
            elif deadline < self._wakes_at:
                # Only when nothing was armed: every deadline is ``timeout`` away, so a
                # new one is never earlier than those armed before it (no wake-up per request).
                self._cond.notify()

    def connected(self, connection: Any) -> None:
        """Shut a socket that was cut off (deadline or abort) before the connect finished."""
        with self._lock:
            if id(connection) in self._cut_while_connecting:
                self._cut_while_connecting.discard(id(connection))
                _shut(connection)

    def disarm(self, connection: Any) -> None:
        key = id(connection)
        with self._lock:
            self._armed.pop(key, None)
            if self._cut_while_connecting:
                self._cut_while_connecting.discard(key)

    def cause(self) -> str | None:
        """Why this thread's last attempt was cut off (:data:`TIMED_OUT`, :data:`INTERRUPTED`)."""
        with self._lock:
            return self._causes.pop(threading.get_ident(), None)

    def abort(self) -> None:
        """Cut off every attempt in flight and refuse new ones."""
        with self._lock:
            self.aborted = True
            for _, connection, ident in self._armed.values():
                self._causes[ident] = INTERRUPTED
                self._cut(connection)
            self._armed.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cond.notify()

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                for key, (deadline, connection, ident) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[key]
                        self._causes[ident] = TIMED_OUT
                        self._cut(connection)
                self._wakes_at = min((d for d, _, _ in self._armed.values()), default=float("inf"))
                self._cond.wait(max(0.0, self._wakes_at - now) if self._armed else None)

    def _cut(self, connection: Any) -> None:
        if not _shut(connection):
            self._cut_while_connecting.add(id(connection))


def _shut(connection: Any) -> bool:
    """Shut a connection's socket down under the thread reading it (TLS layer bypassed).

    False when the connection has no socket yet (it is still connecting).
    """
    sock = getattr(connection, "sock", None)
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return True


def _watched_pools(watchdog: _Watchdog, bases: Mapping[str, type[Any]]) -> dict[str, type[Any]]:
    """Subclasses of these pool classes (direct, proxied or SOCKS) whose connections arm
    ``watchdog`` when used and disarm it when returned to the pool."""

    def connection_class(base: type[Any]) -> type[Any]:
        class Watched(base):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                watchdog.arm(self)
                super().connect()
                watchdog.connected(self)

            def request(self, *args: Any, **kwargs: Any) -> None:
                watchdog.arm(self)
                super().request(*args, **kwargs)

        return Watched

    def pool_class(base: type[Any]) -> type[Any]:
        class WatchedPool(base):  # type: ignore[valid-type,misc]
            ConnectionCls = connection_class(base.ConnectionCls)

            def _put_conn(self, used: Any) -> None:
                if used is not None:
                    watchdog.disarm(used)
                super()._put_conn(used)

        return WatchedPool

    return {scheme: pool_class(base) for scheme, base in bases.items()}


class _Route:
    """Where the requests to one origin go: its pool, or the proxy's pools."""

    def __init__(self, origin: str, manager: PoolManager, *, proxied: bool):
        self.origin = origin
        self.manager = manager
        self.proxied = proxied
        parts = parse_url(origin)
        self._host = parts.host or ""
        self._port = parts.port
        self._scheme = parts.scheme or "http"
        self._pool: HTTPConnectionPool | None = None

    def urlopen(self, method: str, target: str, **options: Any) -> BaseHTTPResponse:
        """Send to ``target`` (a path and query) on this origin; urllib3's errors pass."""
        if self.proxied:  # the proxy manager sets the absolute form and proxy headers
            return self.manager.urlopen(method, self.origin + target, **options)
        # The pool straight away, kept: PoolManager.urlopen would parse the URL once more,
        # and connection_from_host builds and hashes a 30-field pool key on every call.
        pool = self._pool or self._fetch_pool()
        try:
            return pool.urlopen(method, target, assert_same_host=False, **options)
        except ClosedPoolError:
            # The manager closed it (cleared, or evicted for a newer origin) before a
            # connection was taken from it: nothing was sent. The manager's pool for the
            # origin now, as connection_from_host gave on every request before.
            return self._fetch_pool().urlopen(method, target, assert_same_host=False, **options)

    def _fetch_pool(self) -> HTTPConnectionPool:
        pool = self.manager.connection_from_host(self._host, self._port, self._scheme)
        self._pool = pool
        return pool


def _proxy_for(origin: str) -> str | None:
    """The proxy URL for ``origin`` by requests' rules (``NO_PROXY`` with CIDRs too), or
    None. requests (a tenth of a second to import) is only imported when the environment
    or the system names a proxy at all."""
    if not getproxies():
        return None
    import requests.utils

    return requests.utils.select_proxy(origin, requests.utils.get_environ_proxies(origin))


def _split_origin(url: str) -> tuple[str, str]:
    """``scheme://host:port`` and the rest (path and query, ``/`` at least) of a URL."""
    start = url.find("//") + 2
    slash, query = url.find("/", start), url.find("?", start)
    end = slash if query < 0 or 0 <= slash < query else query
    if end < 0:
        return url, "/"
    return (url[:end], url[end:]) if end == slash else (url[:end], "/" + url[end:])


class _Pacer:
    """Spaces requests ``1 / rate`` seconds apart across all threads (``--rate-limit``)."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class Transport:
    """The HTTP session of one run: pooling, TLS, retries, pacing, counters, logging."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``clock`` and ``sleep`` pace requests (``rate_limit``) and wait between retries;
        tests pass a ``ManualClock``'s, so that no test waits them out."""
        for url in (settings.base_url, settings.auth_url):
            if url:
                refuse_plain_http(url, settings.allow_insecure_http)
        self.settings = settings
        self.timeout = (settings.timeout, settings.timeout)
        self.verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pacer = _Pacer(settings.rate_limit, clock, sleep) if settings.rate_limit else None
        self._unreachable: set[str] = set()
        retry = _Retry(
            total=settings.retries,
            connect=settings.retries,
            read=settings.retries,
            status=settings.retries,
            other=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=_RETRY_STATUSES,
            backoff_factor=settings.retry_backoff,
            backoff_jitter=settings.retry_backoff,
            backoff_max=settings.retry_wait_max,
            retry_after_max=int(settings.retry_wait_max),
            raise_on_status=False,
            on_retry=self._on_retry,
            wait=sleep,
        )
        self._retry = retry
        self._watchdog = _Watchdog(settings.timeout)
        self._timeout = Timeout(connect=settings.timeout, read=settings.timeout)
        self._headers = {
            "User-Agent": USER_AGENT,
            "accept": "application/json",
            **make_headers(accept_encoding=True),
        }
        # urllib3's pools directly: requests' Session would prepare, merge settings and
        # hooks and build a Response on every call, twice the CPU of the request itself.
        # No environment is read per request (~/.netrc never): the proxy variables are
        # read once per origin by requests' own rules (_route_for), TLS trust comes
        # from ca_bundle or, as with requests, certifi's bundle.
        self._pool_options: dict[str, Any] = {
            "num_pools": 2,
            "maxsize": settings.parallelism + 2,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": str(settings.ca_bundle) if settings.ca_bundle else certifi.where(),
        }
        self._direct = self._watched(PoolManager(**self._pool_options))
        self._via_proxy: dict[str, PoolManager] = {}
        self._routes: dict[str, _Route] = {}
        self._routes_lock = threading.Lock()
        self.observers: list[Callable[[str, str], None]] = []
        """Called with (method, status) after every request; status is ``error`` when no
        answer came. ``reconcile watch`` counts requests for its metrics with it."""

    def _watched(self, manager: PoolManager) -> PoolManager:
        manager.pool_classes_by_scheme = _watched_pools(
            self._watchdog, manager.pool_classes_by_scheme
        )
        return manager

    def close(self) -> None:
        self._watchdog.close()
        self._direct.clear()
        for manager in self._via_proxy.values():
            manager.clear()

    def abort(self) -> None:
        """End every request in flight at once and refuse new ones (SIGINT/SIGTERM).

        A request cut off so raises :class:`Interrupted` with ``sent=True``: a write's
        outcome is then unknown. Requests that would start later raise it with ``sent=False``.
        """
        self._watchdog.abort()

    @property
    def aborted(self) -> bool:
        return self._watchdog.aborted

    def _observe(self, method: str, status: str) -> None:
        for observe in self.observers:
            observe(method, status)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: self._counts.get(kind, 0) for kind in KINDS}

    def send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> BaseHTTPResponse:
        """Send one request (urllib3 retries inside it) and log it; urllib3's errors pass.

        The answer is read whole (its connection back in the pool) before it returns.
        """
        if self._pacer is not None:
            self._pacer.wait()
        with self._lock:
            self._counts[kind] += 1
        started = time.perf_counter()
        origin, path = _split_origin(url)
        sent_headers = {**self._headers, **headers} if headers else self._headers.copy()
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        body: bytes | None = None
        if json_body is not None:
            body = _encode_json(json_body).encode()
            sent_headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        target = f"{path}?{urlencode(params)}" if params else path
        try:
            response = self._route_for(origin).urlopen(
                method,
                target,
                body=body,
                headers=sent_headers,
                retries=self._retry,
                redirect=False,
                timeout=self._timeout,
            )
        except _Aborted:
            shown = path.partition("?")[0]  # what is logged: never a query
            log.info("%s %s not sent: the run was interrupted", method, shown)
            self._observe(method, "error")
            message = f"{method} {shown}: not sent: the run was interrupted"
            raise Interrupted(message, sent=False) from None
        except HTTPError as error:
            shown = path.partition("?")[0]
            self._observe(method, "error")
            cause = self._watchdog.cause()
            if cause == INTERRUPTED:
                log.info("%s %s cut off: the run was interrupted", method, shown)
                raise Interrupted(
                    f"{method} {shown}: cut off before its answer: the run was interrupted",
                    sent=True,
                ) from None
            failed = _cut_off(shown, self.settings.timeout) if cause == TIMED_OUT else error
            log.info("%s %s failed: %s (%.0f ms)", method, shown, describe(failed), _ms(started))
            raise failed from None
        if log.isEnabledFor(logging.INFO):
            shown = path.partition("?")[0]
            log.info("%s %s %s (%.0f ms)", method, shown, response.status, _ms(started))
        if self.observers:
            self._observe(method, str(response.status))
        return response

    def _route_for(self, origin: str) -> _Route:
        """How requests to ``origin`` go: direct, or through the proxy that ``HTTPS_PROXY``/
        ``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for it (requests' rules, read once)."""
        route = self._routes.get(origin)
        if route is None:
            with self._routes_lock:
                proxy = _proxy_for(origin)
                manager = self._direct if not proxy else self._proxy_manager(proxy)
                route = self._routes[origin] = _Route(origin, manager, proxied=bool(proxy))
        return route

    def pool_for(self, url: str) -> HTTPConnectionPool:
        """The pool of kept-alive connections that requests to ``url`` go through."""
        return self._route_for(_split_origin(url)[0]).manager.connection_from_url(url)

    def _proxy_manager(self, proxy: str) -> PoolManager:
        manager = self._via_proxy.get(proxy)
        if manager is not None:
            return manager
        parts = urlsplit(proxy)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if parts.scheme.lower().startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise ConfigError(
                    f"the proxy {parts.scheme}://{parts.hostname}:{parts.port} is a SOCKS "
                    "proxy, which needs PySocks "
                    "(pip install 'urllib3[socks]')"
                ) from None
            manager = SOCKSProxyManager(
                proxy, username=user or None, password=password or None, **self._pool_options
            )
        else:
            auth = make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
            manager = proxy_from_url(proxy, proxy_headers=auth, **self._pool_options)
        self._via_proxy[proxy] = self._watched(manager)
        return manager

    def post_token(self, url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        """POST the client-credentials form to the token endpoint (the auth module's TokenPost)."""
        try:
            response = self.send("token", "POST", url, form=form)
        except HTTPError as error:
            if _is_tls(error):
                raise ConfigError(tls_problem(url, error)) from None
            hint = unreachable_hint(url, error, self.settings.retries)
            reason = describe(error)
            raise AuthError(f"cannot reach the token endpoint {url}: {reason}{hint}") from None
        body = _json(response)
        if response.status != 200 or not isinstance(body, dict):
            detail = _token_error(response, body)
            # The client id is not repeated: a refused id may be the secret, given in its place.
            raise AuthError(
                f"the token endpoint {url} refused the client credentials: "
                f"{response.status} {detail} (check RECONCILE_CLIENT_ID and "
                "RECONCILE_CLIENT_SECRET)"
            )
        return body

    def _on_retry(self, history: Any, origin: str) -> None:
        with self._lock:
            self._counts["retries"] += 1
            first_failed_connect = (
                isinstance(history.error, NewConnectionError | ConnectTimeoutError)
                and origin not in self._unreachable
            )
            if first_failed_connect:
                self._unreachable.add(origin)
        why = history.status or _RETRY_CAUSES.get(type(history.error).__name__, "an error")
        path = urlsplit(history.url or "").path
        log.info("retrying %s %s after %s", history.method, path, why)
        if first_failed_connect:
            # Said once per origin and whatever the verbosity: the backoff takes seconds.
            notices.warning(
                "cannot connect to %s (%s); retrying up to %d times",
                origin,
                why,
                self.settings.retries,
            )
        if self._pacer is not None:
            self._pacer.wait()


class TicketingClient:
    """The ticketing API, one method per endpoint; a context manager that closes the session."""

    def __init__(
        self,
        settings: Settings,
        token_source: TokenSource,
        *,
        transport: Transport | None = None,
    ):
        settings.require("base_url", "tenant_id", "realm")
        self.settings = settings
        self.token_source = token_source
        self.transport = transport or Transport(settings)
        self._api = f"{settings.base_url}{API_PREFIX}"
        self.claims: Claims | None = None
        """What the token said when :func:`connect` checked it (None when not checked)."""
        self._headers = {
            "x-tenantid": str(settings.tenant_id),
            "realmname": str(settings.realm),
        }
        self._write_query = "?" + urlencode({"type": settings.catalog_type, "module": "ticketing"})
        """The query of every PATCH and POST (the settings are frozen: encoded once)."""

    def __enter__(self) -> TicketingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        """End every request in flight at once and start no new one (see Transport.abort)."""
        self.transport.abort()

    @property
    def interrupted(self) -> bool:
        """True once :meth:`abort` was called."""
        return self.transport.aborted

    def request_counts(self) -> dict[str, int]:
        """Requests sent so far by kind (``token`` included), and urllib3's ``retries``."""
        return self.transport.counts()

    def get_schema(self) -> Schema:
        """GET ticket-type: every ticket type and its fields."""
        what = "GET ticket-type"
        response = self._call("ticket_type", "GET", "/ticket-type", what=what)
        self._raise_for(response, what, write=False)
        return Schema.from_api(_json_required(response, what))

    def get_ticket(self, object_id: str) -> LiveTicket:
        """GET one ticket by display ID; :class:`TicketNotFound` on 404."""
        what = f"ticket {object_id}"
        response = self._call("get", "GET", f"/ticket/{_segment(object_id)}", what=what)
        self._raise_for(response, what, write=False)
        payload = _json_required(response, what)
        if isinstance(payload, dict) and "object_id" not in payload:
            inner = payload.get("data")
            payload = inner if isinstance(inner, dict) and "object_id" in inner else payload
        checked = not may_hold_surrogate(response.data)
        ticket = LiveTicket.from_api(payload, text_checked=checked)
        if ticket.object_id != object_id:
            raise ApiError(f"{what}: the answer is ticket {ticket.object_id}")
        return ticket

    def list_page(self, page: int, size: int = 500) -> ListPage:
        """One page of the list endpoint (pages start at 1), each item validated.

        :class:`ListUnsupported` when the endpoint is missing or the answer is not an
        object with a ``data`` list. An item that is not a valid live ticket is never
        returned: it is counted in :attr:`ListPage.rejected` and, if it names a display
        ID, listed in :attr:`ListPage.reread` so that the caller reads it with a GET.
        ``total`` is a hint (None when absent or not a count), never a loop bound.
        """
        return list_page_of(self.fetch_list_page(page, size), page)

    def fetch_list_page(self, page: int, size: int = 500) -> bytes:
        """The body of one page of the list endpoint, its status checked, not yet decoded
        (:func:`list_page_of` does that): pages read ahead wait as bytes, which take a
        third of the memory of their tickets decoded."""
        what = f"list page {page}"
        params = {"module": "ticketing", "page": page, "size": size}
        response = self._call("list", "GET", "/ticket", what=what, params=params)
        if response.status in _LIST_MISSING and not _tenant_unknown(response):
            raise ListUnsupported(
                f"the list endpoint answered {response.status}", status=response.status
            )
        self._raise_for(response, what, write=False)
        return response.data

    def update_ticket(self, object_id: str, etag: str, ticket_update: dict[str, Any]) -> str:
        """PATCH the fields of ``ticket_update`` guarded by ``etag``; return the new etag."""
        what = f"update of {object_id}"
        if not etag.strip():
            raise ApiError(f"{what}: no etag to guard it with (an empty etag is none); not sent")
        if not ticket_update:
            raise ApiError(f"{what}: no field to change; not sent (a PATCH is a write)")
        response = self._call(
            "update",
            "PATCH",
            f"/ticket/{_segment(object_id)}/update{self._write_query}",
            what=what,
            body=update_body(etag, ticket_update),
        )
        self._raise_for(response, what, write=True)
        new_etag = _field(_json(response), "etag")
        if new_etag is None:
            raise OutcomeUnknown(f"{what}: answered {response.status} without an etag")
        return new_etag

    def create_ticket(self, body: dict[str, Any]) -> tuple[str, str]:
        """POST create with ``body`` (``ticketTypeId``, ``team``, ``ticket``); the new
        ticket's display ID and etag.

        :class:`OutcomeUnknown` when the ticket may or may not have been created (a
        reset, a timeout or a 5xx after sending, or a 200 without both values).
        """
        what = "create"
        response = self._call(
            "create",
            "POST",
            "/ticket/create" + self._write_query,
            what=what,
            body=body,
        )
        self._raise_for(response, what, write=True)
        answer = _json(response)
        object_id, etag = _field(answer, "objectId"), _field(answer, "etag")
        if object_id is None or etag is None or not DISPLAY_ID.fullmatch(object_id):
            raise OutcomeUnknown(
                f"{what}: answered {response.status} without a display ID and an etag"
            )
        return object_id, etag

    def _call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> BaseHTTPResponse:
        """Send with the current token; after a 401 UNAUTHORIZED, once more with a fresh one."""
        for attempt in (1, 2):
            token = self.token_source.token()
            try:
                response = self.transport.send(
                    kind,
                    method,
                    self._api + path,
                    headers=self._headers,
                    params=params,
                    json_body=body,
                    token=token,
                )
            except HTTPError as error:
                raise self._transport_error(error, method, what) from None
            except Interrupted as cut:
                if method in _WRITES and cut.sent:
                    raise OutcomeUnknown(
                        f"{what}: the run was interrupted before the answer came: the write "
                        "may or may not have landed"
                    ) from None
                raise ApiError(f"{what}: not done: the run was interrupted") from None
            if response.status != 401 or _code(response) == "USER_PERMISSION_FAILURE":
                return response
            # Whatever the request (the first one too): a source that can get a new token
            # gets one and the request goes once more, even if the new token looks the same.
            if attempt == 2 or not self.token_source.invalidate(token):
                break
        code = _code(response) or "UNAUTHORIZED"
        message = _message(response)
        raise AuthError(
            f"{what}: the API refused the token from {self.token_source.description} "
            f"(401 {code}: {message})" + (f"; {NEW_TOKEN_HINT}" if _expired(message) else "")
        )

    def _transport_error(self, error: HTTPError, method: str, what: str) -> Exception:
        reason = describe(error)
        host = urlsplit(self._api).netloc
        if _is_tls(error):
            return ConfigError(tls_problem(self.settings.base_url or "", error))
        if method in _WRITES and not _never_sent(error):
            return OutcomeUnknown(f"{what}: {reason}: the write may or may not have landed")
        hint = unreachable_hint(self.settings.base_url or "", error, self.settings.retries)
        return ApiError(f"{what}: {reason} (host {host}){hint}")

    def _raise_for(self, response: BaseHTTPResponse, what: str, *, write: bool) -> None:
        """Map an error answer to the exception of :mod:`reconcile.errors`; 2xx passes."""
        status = response.status
        if 200 <= status < 300:
            return
        body = _json(response)
        code = _code(response)
        message = _message(response)
        if status == 404 and _tenant_unknown(response):
            raise AuthError(
                f"{what}: {message}: the tenant id {self.settings.tenant_id} does not match "
                "the token's tenant"
            )
        text = f"{what}: {status}{' ' + code if code else ''}: {message}"
        if status == 400 and code == "ETAG_MISMATCH":
            raise EtagMismatch(text, status=status, code=code)
        if status == 400 and code == "INPUT_VALIDATION_FAILURE":
            raise ApiError(text, status=status, code=code, reasons=_reasons(body))
        if status == 404:
            raise TicketNotFound(text, status=status, code=code)
        if status == 407:  # from a proxy between: the tenant never saw the request
            raise ApiError(
                f"{text}: the proxy refused the request; check the user and password in "
                "HTTPS_PROXY, HTTP_PROXY or ALL_PROXY",
                status=status,
                code=code,
            )
        if write and status >= 500:
            raise OutcomeUnknown(
                f"{text}: the write may or may not have landed", status=status, code=code
            )
        if status == 429 or status >= 500:
            text += f" (after {self.settings.retries} retries)"
        raise ApiError(text, status=status, code=code)


def list_page_of(body: bytes, page: int, wanted: Container[str] | None = None) -> ListPage:
    """A page of the list endpoint from its body (see :meth:`TicketingClient.list_page`).

    With ``wanted``, an item naming another display ID is not validated further: only
    its ID is kept (:attr:`ListPage.passed`), since nothing else of it is used.
    """
    what = f"list page {page}"
    decoded = _decoded(body)
    items = decoded.get("data") if isinstance(decoded, dict) else None
    if not isinstance(items, list):
        raise ListUnsupported("the list endpoint answered in an unexpected shape")
    total = decoded.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        total = None
    tickets: list[LiveTicket] = []
    reread: list[str] = []
    passed: list[str] = []
    checked = not may_hold_surrogate(body)
    for item in items:
        named = item.get("object_id") if isinstance(item, dict) else None
        if (
            wanted is not None
            and isinstance(named, str)
            and named not in wanted
            and DISPLAY_ID.fullmatch(named)
        ):
            passed.append(named)
            continue
        try:
            tickets.append(LiveTicket.from_api(item, text_checked=checked))
        except ApiError as error:
            log.info("%s: %s; read with GET instead", what, error)
            if isinstance(named, str) and DISPLAY_ID.fullmatch(named):
                reread.append(named)
    rejected = len(items) - len(tickets) - len(passed)
    return ListPage(tickets, len(items), rejected, tuple(reread), total, tuple(passed))


def connect(
    settings: Settings, *, write: bool, env: Mapping[str, str] | None = None
) -> TicketingClient:
    """A ready client: token source chosen, token obtained, claims preflighted.

    Refuses before any API request a token that is for another tenant, expired, or (for
    ``write``) without the scope or a role to update tickets.
    """
    settings.require("base_url", "tenant_id", "realm")
    transport = Transport(settings)
    try:
        source = token_source_from(
            settings, os.environ if env is None else env, transport.post_token
        )
        claims = Claims.from_token(source.token(), source.description)
        preflight(claims, settings, write=write)
    except BaseException:
        transport.close()
        raise
    client = TicketingClient(settings, source, transport=transport)
    client.claims = claims
    return client


def token_claims(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[Claims, str]:
    """The claims of the token ``settings`` name, and where it came from (``whoami``).

    A client-credentials token is fetched; nothing is refused here (:func:`connect` and
    :func:`~reconcile.auth.preflight` do that).
    """
    transport = Transport(settings)
    try:
        source = token_source_from(
            settings, os.environ if env is None else env, transport.post_token
        )
        return Claims.from_token(source.token(), source.description), source.description
    finally:
        transport.close()


def refuse_plain_http(url: str, allowed: bool) -> None:
    """:class:`ConfigError` for ``http://`` to a host that is not loopback, unless allowed."""
    parts = urlsplit(url)
    if parts.scheme != "http" or allowed or _is_loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"refusing plain http:// to {parts.hostname}: tokens would cross the network "
        "unencrypted; use https:// or give --allow-insecure-http"
    )


def describe(error: BaseException) -> str:
    """A short, secret-free reason for a transport error (urllib3's, or requests' around one)."""
    cause = _reason(error)
    if _is_tls(error):
        return "TLS handshake or certificate verification failed"
    if isinstance(cause, ProxyError):  # the tenant's host was never reached
        inner = describe(cause.original_error)
        return f"the proxy (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY): {inner}"
    if isinstance(cause, ConnectTimeoutError) and not isinstance(cause, NewConnectionError):
        return "connect timed out"
    if isinstance(cause, ReadTimeoutError):
        return "no answer before the timeout"
    if isinstance(cause, NewConnectionError):
        return "could not connect"
    if isinstance(cause, HTTPError):
        return "connection lost before the answer"
    return error.__class__.__name__


def _is_loopback(host: str) -> bool:
    """A literal loopback address, or exactly ``localhost``.

    Any other name goes to the resolver (``x.localhost``, ``localhost.localdomain``,
    ``localhost.``), which may answer with a remote address: it is treated as remote.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def unreachable_hint(url: str, error: BaseException, retries: int) -> str:
    """What to check when nothing answered at ``url`` (empty for other errors)."""
    if not _never_sent(error):
        return ""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if isinstance(_reason(error), NameResolutionError):
        return f" after {retries} retries: is {parts.hostname} the right host name?"
    return f" after {retries} retries: is a server running at {origin}?"


def tls_problem(url: str, error: BaseException) -> str:
    """The message for a failed TLS handshake: plain http where https was asked, or trust."""
    parts = urlsplit(url)
    host = parts.netloc
    if _speaks_plain_http(parts.hostname or "", parts.port or 443, str(_reason(error))):
        plain = url.replace("https://", "http://", 1)
        return (
            f"{host} answers plain HTTP, not HTTPS: the TLS handshake got an HTTP answer; "
            f"use {plain} if that server is really meant (http:// is allowed to loopback "
            "only, or with --allow-insecure-http)"
        )
    return (
        f"TLS verification of {host} failed ({describe(error)}); for a private CA give "
        "--ca-bundle FILE or REQUESTS_CA_BUNDLE"
    )


_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")
"""OpenSSL's reasons for a first answer that is no TLS record (a plain-HTTP server's)."""


def _speaks_plain_http(host: str, port: int, reason: str) -> bool:
    """True when the server's first bytes were not TLS and it answers a plain HTTP request.

    Only asked after a failed handshake whose OpenSSL reason says the answer was not a
    TLS record, so a certificate problem never costs a probe.
    """
    if not any(code in reason for code in _NOT_TLS) or not host:
        return False
    try:
        with socket.create_connection((host, port), timeout=5) as probe:
            probe.sendall(b"HEAD / HTTP/1.0\r\nHost: " + host.encode("idna") + b"\r\n\r\n")
            return probe.recv(5) == b"HTTP/"
    except (OSError, UnicodeError):
        return False


def _expired(message: str) -> bool:
    return "expired" in message.lower()


def _never_sent(error: BaseException) -> bool:
    """True when the request cannot have reached the server (the connection never opened)."""
    return isinstance(_reason(error), ConnectTimeoutError)  # NewConnectionError is one too


def _is_tls(error: BaseException) -> bool:
    return isinstance(_reason(error), SSLError)


def _reason(error: BaseException) -> BaseException:
    """The urllib3 exception that says what happened: under a requests one (``notify``),
    and under urllib3's MaxRetryError (retries exhausted)."""
    if not isinstance(error, HTTPError) and error.args and isinstance(error.args[0], HTTPError):
        error = error.args[0]  # a requests exception around the urllib3 one it caught
    if isinstance(error, MaxRetryError) and error.reason is not None:
        return error.reason
    return error


def _cut_off(path: str, timeout: float) -> ReadTimeoutError:
    """The error of an attempt that the watchdog ended at its deadline (no pool to name)."""
    message = f"no complete answer within {timeout:g} s"
    return ReadTimeoutError(None, path, message)  # type: ignore[arg-type]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
"""Characters a path segment holds as they are (RFC 3986's unreserved: never quoted)."""


def _segment(value: str) -> str:
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


_encode_json = json.JSONEncoder(allow_nan=False).encode
"""``json.dumps(value, allow_nan=False)``, without building an encoder on every call."""


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _json(response: BaseHTTPResponse) -> Any:
    return _decoded(response.data)


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # not JSON, or not UTF-8/16/32 text
        return None


def _json_required(response: BaseHTTPResponse, what: str) -> Any:
    body = _json(response)
    if body is None:
        raise ApiError(f"{what}: answered {response.status} without a JSON body")
    return body


def _field(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _code(response: BaseHTTPResponse) -> str | None:
    return _field(_json(response), "code")


def _message(response: BaseHTTPResponse) -> str:
    """The server's message, scrubbed of secrets, on one line and at most 300 characters."""
    message = _field(_json(response), "message")
    if message is None:
        text = response.data.decode("utf-8", "replace").strip()
        message = text.splitlines()[0] if text else (response.reason or "no message")
    message = " ".join(SECRETS.scrub(message).split())
    return message if len(message) <= 300 else message[:297] + "..."


def _tenant_unknown(response: BaseHTTPResponse) -> bool:
    return response.status == 404 and "tenant not found" in _message(response).lower()


def _reasons(body: Any) -> dict[str, str]:
    result = body.get("validationResult") if isinstance(body, dict) else None
    reasons = result.get("reason") if isinstance(result, dict) else None
    if not isinstance(reasons, dict):
        return {}
    return {str(k): SECRETS.scrub(str(v)) for k, v in reasons.items()}


def _token_error(response: BaseHTTPResponse, body: Any) -> str:
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("error_description") or body.get("message")]
        text = ": ".join(str(p) for p in parts if isinstance(p, str) and p)
        if text:
            return " ".join(SECRETS.scrub(text).split())[:300]
    return _message(response)
