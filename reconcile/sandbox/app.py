"""The WSGI application: routes, the checks in their documented order, the answers.

Order of checks on the API routes (``/api/v2/ticketing/...``); the first that fails answers:

1. route and method (404 / 405);
2. injected faults: latency, then 429 ``Retry-After``, then 500, then 401 (revoked);
3. ``Authorization: Bearer <JWT>``: missing, malformed, expired, badly signed, issued by
   another realm: 401 ``UNAUTHORIZED``;
4. ``realmname``: missing 400 ``INPUT_VALIDATION_FAILURE``; another realm 401 ``UNAUTHORIZED``;
5. ``x-tenantid``: missing, not the token's ``tenant_id`` or not this tenant:
   404 ``Tenant not found``;
6. ``accept``: missing 400; not admitting ``application/json`` 406;
   ``issupportrequest``, if sent, not ``true``/``false``: 400;
7. scope and role: reads need ``tickets:read`` or ``tickets:write``; create and update
   need ``tickets:write`` and realm role ``ticket_writer`` or ``ticket_admin``:
   401 ``USER_PERMISSION_FAILURE``;
8. query: update and create need ``type`` in template/agent/user and ``module=ticketing``;
   list takes ``page`` >= 1, ``size`` 1..500, ``module`` if sent ``ticketing``: 400;
9. body (update, create): ``content-type`` not ``application/json`` 415; over 1 MiB 413;
   not JSON or not an object 400; update without ``etag`` (reason key ``etag``) or
   without a ``ticketUpdate`` object, create without a known ``ticketTypeId``: 400;
10. the ticket (get, update): unknown display ID, or an internal UUID: 404
    ``Ticket not found (<id>)``;
11. team (update, create): ``ticket_writer`` only for team null or one of the token's
    ``teams``: 401 ``USER_PERMISSION_FAILURE``;
12. field values (update, create): 400 ``INPUT_VALIDATION_FAILURE`` with
    ``validationResult.reason`` ``{field-uuid: message}``, nothing written;
13. etag (update): not the current one: 400 ``ETAG_MISMATCH``, nothing written;
14. write (new etag, ``lastUpdatedBy``, ``lastUpdatedAt``), then the drop-after-commit fault.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import socket
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any

import yaml
from werkzeug.datastructures import ImmutableMultiDict, MIMEAccept
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES, parse_accept_header
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request

from reconcile.sandbox import faults as fault_kinds
from reconcile.sandbox.auth import Identity, TokenError, Verifier, make_token
from reconcile.sandbox.clock import Clock, SystemClock
from reconcile.sandbox.faults import Faults
from reconcile.sandbox.fields import check_value, is_empty, same_value
from reconcile.sandbox.options import MAX_BODY_BYTES, Client
from reconcile.sandbox.stats import Stats
from reconcile.sandbox.store import DISPLAY_ID, Store, dumps

log = logging.getLogger("reconcile.sandbox")

API = "/api/v2/ticketing"
PERMISSION_MESSAGE = "You do not have the permission to update the ticket"
ETAG_MESSAGE = "Ticket might have been updated. Please check changes and resubmit"
CATALOG_TYPES = ("template", "agent", "user")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
SOCKET_KEY = "reconcile.sandbox.socket"
"""The environ key under which the server hands over the connection's socket."""
_SANDBOX_ROUTES = frozenset({"stats", "reset_stats", "health", "openapi"})

URL_MAP = Map(
    [
        Rule(f"{API}/ticket-type", endpoint="ticket_type", methods=["GET"]),
        Rule(f"{API}/ticket", endpoint="list", methods=["GET"]),
        Rule(f"{API}/ticket/create", endpoint="create", methods=["POST"]),
        Rule(f"{API}/ticket/<object_id>", endpoint="get", methods=["GET"]),
        Rule(f"{API}/ticket/<object_id>/update", endpoint="update", methods=["PATCH"]),
        Rule("/realms/<realm>/protocol/openid-connect/token", endpoint="token", methods=["POST"]),
        Rule("/_sandbox/health", endpoint="health", methods=["GET"]),
        Rule("/_sandbox/stats", endpoint="stats", methods=["GET"]),
        Rule("/_sandbox/reset-stats", endpoint="reset_stats", methods=["POST"]),
        Rule("/_sandbox/openapi.json", endpoint="openapi", methods=["GET"]),
    ],
    merge_slashes=False,
)
_ROUTES = URL_MAP.bind("sandbox")
"""Routing needs only the path and the method (no host or subdomain rules): bound once."""


class SandboxRequest(Request):
    """Werkzeug's request; the hot checks read headers from ``environ`` directly, and the
    query and content type are parsed once per distinct text (a client sends the same
    ones again and again)."""

    max_content_length = MAX_BODY_BYTES
    max_form_memory_size = MAX_BODY_BYTES

    @property
    def args(self) -> ImmutableMultiDict[str, str]:  # type: ignore[override]
        return _query_args(self.environ.get("QUERY_STRING", ""))

    @property
    def mimetype(self) -> str:  # type: ignore[override]
        return _mimetype(self.environ.get("CONTENT_TYPE", ""))


@functools.lru_cache(maxsize=256)
def _query_args(query_string: str) -> ImmutableMultiDict[str, str]:
    """Werkzeug's ``request.args`` for this query string (immutable, so shared)."""
    return Request({"QUERY_STRING": query_string}).args  # type: ignore[return-value]


@functools.lru_cache(maxsize=256)
def _mimetype(content_type: str) -> str:
    """Werkzeug's ``request.mimetype`` for this ``Content-Type``."""
    return Request({"CONTENT_TYPE": content_type}).mimetype


@functools.lru_cache(maxsize=256)
def _status_line(status: int) -> str:
    """``404 NOT FOUND``: the status line Werkzeug's responses send."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}"


@functools.lru_cache(maxsize=256)
def _admits_json(accept: str) -> bool:
    """Whether an ``Accept`` header admits ``application/json`` (Werkzeug's matching).

    Cached by the header's text: a client sends the same one on every request."""
    return parse_accept_header(accept, MIMEAccept).best_match(["application/json"]) is not None


class Reply:
    """A JSON answer: status, body and extra headers, sent as one WSGI response.

    Lighter than a Werkzeug ``Response`` (whose header machinery cost more CPU than the
    work of a GET), with the same status line and headers: the extra ones, then
    ``Content-Type`` and ``Content-Length``."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(
        self, body: bytes, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.body = body
        self.status_code = status
        self.headers = list(headers)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(
            _status_line(self.status_code),
            [
                *self.headers,
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(self.body))),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


class Answer(Exception):
    """Stops the checks and answers with ``response``."""

    def __init__(self, response: Reply) -> None:
        super().__init__(response.status_code)
        self.response = response


def respond(body: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    text = dumps(body)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (say from get_set): JSON's \ud800 escape
        data = json.dumps(body, separators=(",", ":")).encode()
    return Reply(data, status, headers)


def error(
    status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = (), **extra: Any
) -> Answer:
    return Answer(
        respond(
            {"error": True, "code": code, "message": message, "status": status, **extra},
            status,
            headers,
        )
    )


def invalid(reason: dict[str, str], message: str = "Input validation failed") -> Answer:
    return error(400, "INPUT_VALIDATION_FAILURE", message, validationResult={"reason": reason})


def unauthorized(message: str) -> Answer:
    return error(401, "UNAUTHORIZED", message)


def forbidden(message: str = PERMISSION_MESSAGE) -> Answer:
    return error(401, "USER_PERMISSION_FAILURE", message)


def ticket_not_found(object_id: str) -> Answer:
    return Answer(respond({"error": True, "message": f"Ticket not found ({object_id})"}, 404))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class SandboxApp:
    """The sandbox's WSGI callable. ``tenant_id``, ``realm`` and the clients are fixed at start."""

    def __init__(
        self,
        *,
        store: Store,
        tenant_id: str,
        realm: str,
        secret: str,
        clients: Iterable[Client],
        token_lifetime: int,
        faults: Faults,
        retry_after: int | str,
        stats: Stats,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.store = store
        self.tenant_id = tenant_id
        self.realm = realm
        self.secret = secret
        self.clients = {c.client_id: c for c in clients}
        self.token_lifetime = token_lifetime
        self.faults = faults
        self.retry_after = retry_after
        self.stats = stats
        self.verifier = Verifier(secret, realm, self.clock)
        self.base_url = ""
        self.write_delay = 0.0
        self.echo_token_form = False
        self.refuse_fields: frozenset[str] = frozenset()
        self._handlers: dict[str, Callable[..., Reply]] = {
            "ticket_type": self.get_ticket_types,
            "list": self.list_tickets,
            "get": self.get_ticket,
            "create": self.create_ticket,
            "update": self.update_ticket,
            "token": self.issue_token,
            "health": self.health,
            "stats": self.get_stats,
            "reset_stats": self.reset_stats,
            "openapi": self.get_openapi,
        }

    # ------------------------------------------------------------------ dispatch

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = SandboxRequest(environ)
        route = "unknown"
        try:
            try:
                route, args = _ROUTES.match(request.path, request.method)
            except MethodNotAllowed as e:
                allowed = ", ".join(sorted(e.valid_methods or ()))
                raise error(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"Method {request.method} is not allowed here (allowed: {allowed})",
                    headers=[("Allow", allowed)],
                ) from None
            except (NotFound, RequestRedirect):
                raise error(404, "NOT_FOUND", f"No such route: {request.path}") from None
            response = self._handlers[route](request, **args)
        except Answer as answer:
            response = answer.response
        except HTTPException as e:  # raised by werkzeug while reading the request
            status = e.code or 400
            code = (e.name or "Bad Request").upper().replace(" ", "_")
            response = error(status, code, e.description or e.name).response
        except Exception:
            log.exception("sandbox bug on %s %s", request.method, request.path)
            response = error(
                500, "INTERNAL_SERVER_ERROR", "Unexpected error in the sandbox"
            ).response
        dropped = environ.get("reconcile.dropped", False)
        if route not in _SANDBOX_ROUTES:
            self.stats.request(
                request.method, route, "dropped" if dropped else response.status_code
            )
        if dropped:
            # Only now, with the counters up to date: a client that sees the drop and
            # reads /_sandbox/stats at once must find it counted.
            sock = environ.get(SOCKET_KEY)
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
        return self.faults.slowed(route, response(environ, start_response))

    # ------------------------------------------------------------------ common checks

    def _before(self, request: SandboxRequest, write: str | None = None) -> Identity:
        """Steps 2 to 7 of the module's order; ``write`` names the action for step 7."""
        fault = self.faults.before()
        if fault == fault_kinds.RATE_LIMIT:
            self.stats.fault(fault)
            raise error(
                429,
                "TOO_MANY_REQUESTS",
                "Too many requests, retry later",
                headers=[("Retry-After", str(self.retry_after))],
            )
        if fault == fault_kinds.FAIL:
            self.stats.fault(fault)
            raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        if fault == fault_kinds.UNAUTHORIZED:
            self.stats.fault(fault)
            raise unauthorized("Token is not active (revoked)")

        environ = request.environ  # headers by their WSGI keys: Werkzeug's EnvironHeaders reads
        header = environ.get("HTTP_AUTHORIZATION", "")  # the same strings, at more cost
        scheme, _, token = header.partition(" ")
        if not header:
            raise unauthorized("Missing Authorization header")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization header is not 'Bearer <token>'")
        try:
            identity = self.verifier.verify(token.strip())
        except TokenError as e:
            raise unauthorized(str(e)) from None

        realm = environ.get("HTTP_REALMNAME")
        if realm is None:
            raise invalid({"realmname": "header is required"}, "Missing required header realmname")
        if realm != self.realm:
            raise unauthorized(f"Realm '{realm}' does not exist")

        # [contract] x-tenantid "must equal the JWT's tenant_id claim, else 404": a missing
        # header equals nothing, so it is a 404 too (not a 400 validation failure).
        tenant = environ.get("HTTP_X_TENANTID")
        if tenant is None or tenant != identity.tenant_id or tenant != self.tenant_id:
            raise Answer(respond({"error": True, "message": "Tenant not found"}, 404))

        accept = environ.get("HTTP_ACCEPT")
        if accept is None:
            raise invalid({"accept": "header is required"}, "Missing required header accept")
        if not _admits_json(accept):
            raise error(406, "NOT_ACCEPTABLE", "This API answers application/json only")
        support = environ.get("HTTP_ISSUPPORTREQUEST")
        if support is not None and support.strip().lower() not in ("true", "false"):
            raise invalid({"issupportrequest": "must be true or false"})

        if write is None:
            if not identity.can_read:
                raise forbidden("You do not have the permission to read tickets")
        elif not identity.can_write:
            raise forbidden(write)
        return identity

    @staticmethod
    def _catalog_query(request: SandboxRequest) -> None:
        reason = {}
        if request.args.get("type") not in CATALOG_TYPES:
            reason["type"] = f"is required, one of: {', '.join(CATALOG_TYPES)}"
        if request.args.get("module") != "ticketing":
            reason["module"] = "is required and must be 'ticketing'"
        if reason:
            raise invalid(reason, "Invalid query parameters")

    @staticmethod
    def _json_body(request: SandboxRequest) -> dict[str, Any]:
        if request.mimetype != "application/json":
            raise error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"content-type must be application/json, got {request.mimetype or 'none'}",
            )
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise error(
                413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {MAX_BODY_BYTES} bytes"
            )
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as e:
            raise invalid({"body": f"is not valid JSON: {e}"}, "Malformed JSON body") from None
        if not isinstance(body, dict):
            raise invalid({"body": "must be a JSON object"}, "Malformed JSON body")
        return body

    def _ticket(self, object_id: str) -> dict[str, Any]:
        ticket = self.store.get(object_id) if DISPLAY_ID.match(object_id) else None
        if ticket is None:
            raise ticket_not_found(object_id)
        return ticket

    def _check_fields(
        self, ticket_type_id: str, values: dict[str, Any], reason: dict[str, str]
    ) -> None:
        fields = self.store.fields_by_type.get(ticket_type_id, {})
        for key, value in values.items():
            field = fields.get(key)
            if field is None:
                reason[key] = "is not a field of this ticket type"
                continue
            problem = check_value(field, value)
            if problem:
                reason[key] = problem

    # ------------------------------------------------------------------ API routes

    def get_ticket_types(self, request: SandboxRequest) -> Reply:
        self._before(request)
        answer = self.faults.ticket_types_answer
        return respond({"data": self.store.types if answer is None else answer})

    def get_ticket(self, request: SandboxRequest, object_id: str) -> Reply:
        self._before(request)
        if self.faults.reshapes("get"):
            return respond(self.faults.reshape("get", self._ticket(object_id)))
        text = self.store.get_json(object_id) if DISPLAY_ID.match(object_id) else None
        if text is None:
            raise ticket_not_found(object_id)
        return Reply(text.encode())

    def list_tickets(self, request: SandboxRequest) -> Reply:
        self._before(request)
        if self.faults.no_list:
            raise error(404, "NOT_FOUND", f"No such route: {request.path}")
        reason = {}
        module = request.args.get("module")
        if module is not None and module != "ticketing":
            reason["module"] = "must be 'ticketing'"
        numbers = {}
        for name, default, top in (("page", 1, None), ("size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)):
            text = request.args.get(name)
            try:
                numbers[name] = default if text is None else int(text)
            except ValueError:
                reason[name] = "must be an integer"
                continue
            if numbers[name] < 1 or (top is not None and numbers[name] > top):
                reason[name] = f"must be between 1 and {top}" if top else "must be 1 or more"
        if reason:
            raise invalid(reason, "Invalid query parameters")
        page, size = numbers["page"], numbers["size"]
        if page in self.faults.list_fail_pages:
            self.stats.fault(fault_kinds.FAIL)
            raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        read = 1 if self.faults.list_ignore_page else page
        total_claimed = self.faults.list_total
        if self.faults.reshapes("list"):
            tickets, total = self.store.page(read, size)
            items = [self.faults.reshape("list", ticket) for ticket in tickets]
            total = total if total_claimed is None else total_claimed
            return respond({"data": items, "page": page, "size": size, "total": total})
        body, total = self.store.page_json(read, size)
        total = total if total_claimed is None else total_claimed
        # {"data": [...], "page", "size", "total"} as respond() writes it, the items as text
        body[:0] = b'{"data":'
        body += dumps({"page": page, "size": size, "total": total}).replace("{", ",", 1).encode()
        return Reply(bytes(body))  # WSGI servers take bytes only

    def create_ticket(self, request: SandboxRequest) -> Reply:
        identity = self._before(
            request, write="You do not have the permission to create the ticket"
        )
        self._catalog_query(request)
        body = self._json_body(request)
        if self.faults.fails_create():
            self.stats.fault(fault_kinds.FAIL)
            raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        reason: dict[str, str] = {}
        type_id = body.get("ticketTypeId")
        ticket_type = self.store.types_by_id.get(type_id) if isinstance(type_id, str) else None
        if ticket_type is None:
            reason["ticketTypeId"] = "is required: the id of one of the tenant's ticket types"
        team = body.get("team")
        if team is not None and not isinstance(team, str):
            reason["team"] = "must be a string or null"
        values = body.get("ticket", {})
        if not isinstance(values, dict):
            reason["ticket"] = "must be an object of field UUID to value"
        if reason:
            raise invalid(reason)
        assert ticket_type is not None
        if not identity.may_write_team(team):
            raise forbidden("You do not have the permission to create the ticket")
        self._check_fields(ticket_type["id"], values, reason)
        for field in ticket_type.get("fields", []):
            if field.get("required") and is_empty(values.get(field["id"])):
                reason.setdefault(field["id"], "is required")
        if reason:
            raise invalid(reason)
        self._refuse(values)
        object_id, etag = self.store.create(ticket_type, team, values, identity.name)
        self.stats.create(
            {
                "action": "create",
                "object_id": object_id,
                "etag_after": etag,
                "fields": sorted(values),
                "by": identity.name,
            }
        )
        self._after_commit(request)
        return respond(
            {
                "success": True,
                "message": "ticket created successfully",
                "status": 200,
                "objectId": object_id,
                "etag": etag,
            }
        )

    def update_ticket(self, request: SandboxRequest, object_id: str) -> Reply:
        identity = self._before(request, write=PERMISSION_MESSAGE)
        self._catalog_query(request)
        body = self._json_body(request)
        etag, update = body.get("etag"), body.get("ticketUpdate")
        self.stats.patch(object_id, has_etag=etag is not None)
        if self.faults.fails_write():
            self.stats.fault(fault_kinds.FAIL)
            raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        if self.faults.holds_before_write(object_id):
            self.stats.fault(fault_kinds.HELD_BEFORE_WRITE)
            self.faults.wait_released()
            raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        reason = {}
        if etag is None:
            reason["etag"] = "is required: the ticket's current etag"
        elif not isinstance(etag, str):
            reason["etag"] = "must be a string"
        if not isinstance(update, dict):
            reason["ticketUpdate"] = "is required: an object of field UUID to new value"
        if reason:
            raise invalid(reason)
        assert isinstance(etag, str) and isinstance(update, dict)

        ticket = self._ticket(object_id)
        if not identity.may_write_team(ticket["team"]):
            raise forbidden()
        self._check_fields(ticket["ticket_type_id"], update, reason)
        if reason:
            raise invalid(reason)
        self._refuse(update)
        if ticket["etag"] != etag:
            self.stats.mismatch()
            raise error(400, "ETAG_MISMATCH", ETAG_MESSAGE)

        data = ticket["data"]
        fields = self.store.fields_by_type.get(ticket["ticket_type_id"], {})
        noop = all(same_value(fields[k]["type"], v, data.get(k)) for k, v in update.items())
        if self.write_delay:
            self.clock.sleep(self.write_delay)
        new_etag = self.store.compare_and_swap(object_id, etag, {**data, **update}, identity.name)
        if new_etag is None:
            self.stats.mismatch()
            raise error(400, "ETAG_MISMATCH", ETAG_MESSAGE)
        self.stats.write(
            {
                "action": "update",
                "object_id": object_id,
                "etag_before": etag,
                "etag_after": new_etag,
                "fields": sorted(update),
                "noop": noop,
                "by": identity.name,
            }
        )
        self._after_commit(request)
        return respond(
            {
                "success": True,
                "message": "ticket updated successfully",
                "status": 200,
                "etag": new_etag,
            }
        )

    def _refuse(self, values: dict[str, Any]) -> None:
        """A tenant's own validation rule, invisible in the schema: ``refuse_fields``."""
        refused = sorted(set(values) & self.refuse_fields)
        if refused:
            quoted = ", ".join(json.dumps(values[k], ensure_ascii=False) for k in refused)
            reason = {k: f"value {json.dumps(values[k])} is refused by a rule" for k in refused}
            raise invalid(reason, f"Input validation failed: refused value {quoted}")

    def _after_commit(self, request: SandboxRequest) -> None:
        if self.faults.holds_after_commit():
            self.stats.fault(fault_kinds.HELD_AFTER_COMMIT)
            self.faults.wait_released()
        fault = self.faults.after_commit()
        if fault is None:
            return
        self.stats.fault(fault)
        if fault == fault_kinds.DROP and request.environ.get(SOCKET_KEY) is not None:
            request.environ["reconcile.dropped"] = True  # __call__ drops the connection
            raise Answer(Reply(b"", 500))
        raise error(500, "INTERNAL_SERVER_ERROR", "Internal server error")

    # ------------------------------------------------------------------ token endpoint

    def issue_token(self, request: SandboxRequest, realm: str) -> Reply:
        """Keycloak-style ``client_credentials`` grant; OAuth 2 error bodies (RFC 6749 5.2)."""
        no_store = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]

        def oauth_error(status: int, code: str, description: str) -> Answer:
            return Answer(
                respond({"error": code, "error_description": description}, status, no_store)
            )

        if realm != self.realm:
            raise Answer(respond({"error": "Realm does not exist"}, 404))
        if request.mimetype != "application/x-www-form-urlencoded":
            raise oauth_error(
                400, "invalid_request", "content-type must be application/x-www-form-urlencoded"
            )
        body = request.get_data(cache=True, as_text=True)  # kept: the form parser reuses it
        form = request.form
        if form.get("grant_type") != "client_credentials":
            raise oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username
            secret = request.authorization.password
        client = self.clients.get(client_id or "")
        if client is None or secret != client.secret:
            description = "Invalid client or Invalid client credentials"
            if self.echo_token_form:  # the fault of an identity provider that says too much
                description += f" (request: {body})"
            raise oauth_error(401, "unauthorized_client", description)
        allowed = client.scope.split()
        asked = form.get("scope")
        scopes = allowed
        if asked:
            wanted = asked.split()
            if not set(wanted) <= set(allowed):
                raise oauth_error(400, "invalid_scope", "Invalid scopes: " + asked)
            scopes = [s for s in allowed if s in wanted or s == "openid"]
        token = make_token(
            secret=self.secret,
            tenant_id=self.tenant_id,
            realm=self.realm,
            sub=client.sub,
            roles=client.roles,
            teams=client.teams,
            scope=" ".join(scopes),
            expires_in=self.token_lifetime,
            issuer_base=self.base_url or "http://sandbox",
            claims={"azp": client.client_id},
            now=self.clock.time(),
        )
        grant = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_expires_in": 0,
            "not-before-policy": 0,
            "scope": " ".join(scopes),
        }
        return respond(self.faults.reshape("token", grant), headers=no_store)

    # ------------------------------------------------------------------ /_sandbox

    def health(self, request: SandboxRequest) -> Reply:
        return respond(
            {
                "status": "ok",
                "tenant_id": self.tenant_id,
                "realm": self.realm,
                "tickets": self.store.count(),
                "ticket_types": len(self.store.types),
            }
        )

    def get_stats(self, request: SandboxRequest) -> Reply:
        return respond(self.stats.snapshot())

    def reset_stats(self, request: SandboxRequest) -> Reply:
        self.stats.reset()
        return respond({"reset": True})

    def get_openapi(self, request: SandboxRequest) -> Reply:
        return Reply(openapi_json())


@functools.cache
def openapi_json() -> bytes:
    """The OpenAPI 3 document of the API (``openapi.yaml`` beside this module), as JSON."""
    document = yaml.safe_load(
        files("reconcile.sandbox").joinpath("openapi.yaml").read_text("utf-8")
    )
    return json.dumps(document, indent=2).encode()
