"""Bad input never gives a traceback or a 500: every answer is a JSON 4xx."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

QUERY = "?type=template&module=ticketing"


def envelope(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] is True and body["status"] == status and body["code"] and body["message"]
    return body


def raw_patch(api: Any, body: bytes, **headers: str) -> requests.Response:
    return api.session.patch(
        f"{api.base}/ticket/REQ-0509/update{QUERY}",
        data=body,
        headers={**api.headers(), **headers},
        timeout=10,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b"null",
        b"[]",
        b'"etag"',
        b'{"etag": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b"{'a': 1}",
    ],
)
def test_malformed_json_is_400(api: Any, body: bytes) -> None:
    """Bad input: malformed JSON (or JSON that is not an object) is a JSON 400."""
    envelope(raw_patch(api, body, **{"content-type": "application/json"}), 400)


def test_wrong_content_type_is_415(api: Any) -> None:
    """Bad input: a body that is not application/json is a JSON 415."""
    body = envelope(
        raw_patch(api, b"etag=x", **{"content-type": "application/x-www-form-urlencoded"}), 415
    )
    assert body["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_oversized_body_is_413_and_connection_survives(api: Any) -> None:
    """Bad input: a body over 1 MiB is a JSON 413; the keep-alive connection stays usable."""
    big = json.dumps({"etag": "x", "ticketUpdate": {"k": "x" * (1024 * 1024)}}).encode()
    body = envelope(raw_patch(api, big, **{"content-type": "application/json"}), 413)
    assert body["code"] == "PAYLOAD_TOO_LARGE"
    assert api.get("/ticket/REQ-0509").status_code == 200


def test_unknown_route_is_404_and_wrong_method_is_405(api: Any, sandbox: Any) -> None:
    """Bad input: an unknown route is a JSON 404, a wrong method a JSON 405 with Allow."""
    for path in (
        "/api/v2/ticketing/nothing",
        "/",
        "/api/v2/ticketing/ticket/REQ-0509/update/x",
        "/api//v2",
    ):
        assert envelope(
            api.session.get(sandbox.base_url + path, headers=api.headers(), timeout=10), 404
        )
    wrong = api.session.delete(f"{api.base}/ticket/REQ-0509", headers=api.headers(), timeout=10)
    assert envelope(wrong, 405)["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in wrong.headers["Allow"]
    put = api.session.put(
        f"{api.base}/ticket/REQ-0509/update{QUERY}", json={}, headers=api.headers(), timeout=10
    )
    assert envelope(put, 405)


def test_chunked_body_is_read(api: Any) -> None:
    """A chunked request body (no Content-Length) is read like any other."""
    etag = api.ticket("REQ-0509")["etag"]
    chunks = iter([b'{"etag": "', etag.encode(), b'", "ticketUpdate": {}}'])
    response = api.session.patch(
        f"{api.base}/ticket/REQ-0509/update{QUERY}",
        data=chunks,
        headers={**api.headers(), "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_keep_alive_survives_unread_bodies(sandbox: Any) -> None:
    """HTTP/1.1 keep-alive: a request rejected before its body is read does not poison the
    next request on the same connection."""
    host, port = sandbox.base_url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {**sandbox.headers(), "content-type": "application/json"}
        connection.request(
            "PATCH",
            f"/api/v2/ticketing/ticket/REQ-0509/update{QUERY}",
            body=b"{}" * 5000,
            headers={**headers, "Authorization": "Bearer nope"},
        )
        first = connection.getresponse()
        first.read()
        local = connection.sock.getsockname()
        connection.request("GET", "/api/v2/ticketing/ticket/REQ-0509", headers=headers)
        second = connection.getresponse()
        assert (first.status, second.status) == (401, 200)
        second.read()
        assert connection.sock.getsockname() == local  # the same TCP connection
    finally:
        connection.close()


def test_garbage_on_the_socket_does_not_break_the_server(sandbox: Any, api: Any) -> None:
    """A client speaking nonsense gets an error or a closed socket; the server goes on."""
    host, port = sandbox.base_url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        sock.recv(1024)
    assert api.get("/ticket/REQ-0509").status_code == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=40), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    field=st.sampled_from(["459cf0c6-ae1c-4ba2-8116-3b8b38207528", "etag", "ticketUpdate", "x"]),
)
def test_fuzzed_patch_bodies_never_give_500(api: Any, caplog: Any, body: Any, field: str) -> None:
    """Bad input never yields a 500 or a logged traceback, whatever the JSON body."""
    caplog.set_level(logging.ERROR, logger="reconcile.sandbox")
    for candidate in (body, {"etag": body, "ticketUpdate": {field: body}}, {"ticketUpdate": body}):
        response = raw_patch(
            api, json.dumps(candidate).encode(), **{"content-type": "application/json"}
        )
        assert response.status_code < 500, response.text
        response.json()
    assert not caplog.records
