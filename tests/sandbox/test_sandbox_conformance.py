"""Conformance of the sandbox to update-ticket.md and CONTRACT.md, over real HTTP.

Each test's docstring quotes the statement it checks: [doc] from update-ticket.md,
[contract] from CONTRACT.md.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import jwt
import pytest
import requests

from reconcile.sandbox import DEMO_ADMIN, DEMO_READER, DEMO_WRITER
from reconcile.sandbox.clock import ManualClock
from reconcile.sandbox.demo import DESCRIPTION_FIELD_ID, DUE_DATE_FIELD_ID

from sandbox_api import grant

DESCRIPTION = DESCRIPTION_FIELD_ID
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PERMISSION = {
    "error": True,
    "code": "USER_PERMISSION_FAILURE",
    "message": "You do not have the permission to update the ticket",
    "status": 401,
}
MISMATCH = {
    "error": True,
    "code": "ETAG_MISMATCH",
    "message": "Ticket might have been updated. Please check changes and resubmit",
    "status": 400,
}


def assert_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] is True and body["code"] == "UNAUTHORIZED" and body["status"] == 401
    assert isinstance(body["message"], str) and body["message"]


def assert_invalid(response: requests.Response, *keys: str) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] is True and body["code"] == "INPUT_VALIDATION_FAILURE"
    assert body["status"] == 400
    reason = body["validationResult"]["reason"]
    assert set(keys) <= set(reason), reason
    return reason


# ---------------------------------------------------------------------------- the happy path


def test_patch_success_body_and_follow_up_get(api: Any) -> None:
    """[doc] "Success Response Example ... {"success": true, "message": "ticket updated
    successfully", "status": 200, "etag": ...}" and "follow up with GET ... The returned
    etag will match the value above and data.<field-uuid> will reflect the new value." """
    before = api.ticket("REQ-0509")
    response = api.patch(
        "REQ-0509",
        {"etag": before["etag"], "ticketUpdate": {DESCRIPTION: "<p>Updated description text.</p>"}},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "message", "status", "etag"}
    assert body["success"] is True
    assert body["message"] == "ticket updated successfully"
    assert body["status"] == 200
    assert UUID_RE.match(body["etag"]) and body["etag"] != before["etag"]
    after = api.ticket("REQ-0509")
    assert after["etag"] == body["etag"]
    assert after["data"][DESCRIPTION] == "<p>Updated description text.</p>"


def test_etag_changes_on_every_write_and_old_one_is_stale(api: Any) -> None:
    """[doc] Note 2 "Etag changes on every write. A successful PATCH returns a new etag.
    Subsequent updates must use the returned value, not the one originally read." """
    first = api.ticket("REQ-0509")["etag"]
    second = api.patch("REQ-0509", {"etag": first, "ticketUpdate": {DESCRIPTION: "a"}}).json()[
        "etag"
    ]
    third = api.patch("REQ-0509", {"etag": second, "ticketUpdate": {DESCRIPTION: "b"}}).json()[
        "etag"
    ]
    assert len({first, second, third}) == 3
    stale = api.patch("REQ-0509", {"etag": first, "ticketUpdate": {DESCRIPTION: "c"}})
    assert stale.status_code == 400 and stale.json() == MISMATCH


def test_get_returns_etag_at_top_level_and_contract_shape(api: Any) -> None:
    """[doc] Note 1 "Fetching the ticket via GET ... returns the current value at the top
    level." [contract] GET /ticket/{objectId} shape: id, object_id, ticket_type_id, team,
    etag, data, createdAt, lastUpdatedAt, lastUpdatedBy."""
    ticket = api.ticket("REQ-0509")
    assert set(ticket) == {
        "id",
        "object_id",
        "ticket_type_id",
        "team",
        "etag",
        "data",
        "createdAt",
        "lastUpdatedAt",
        "lastUpdatedBy",
    }
    assert ticket["object_id"] == "REQ-0509"
    assert UUID_RE.match(ticket["etag"]) and UUID_RE.match(ticket["id"])
    assert ticket["team"] == "network"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ticket["lastUpdatedAt"])
    assert isinstance(ticket["data"], dict) and DESCRIPTION in ticket["data"]


def test_shallow_merge_only_sent_keys_are_written(api: Any) -> None:
    """[doc] "Only the keys present here are updated; omitted keys are left unchanged" and
    "This endpoint applies a shallow merge over the ticket's data object." [contract] "A
    key absent from data means the field was never set." """
    fields = api.fields("REQ")
    before = api.ticket("REQ-0509")
    tags = fields["tags"]["id"]
    assert tags not in before["data"]
    response = api.patch("REQ-0509", {"etag": before["etag"], "ticketUpdate": {tags: ["q4"]}})
    assert response.status_code == 200
    after = api.ticket("REQ-0509")
    assert after["data"] == {**before["data"], tags: ["q4"]}


def test_clearing_with_the_empty_form_of_each_type(api: Any) -> None:
    """[doc] "To clear a value, send the empty form for that field type ("" for text, null
    for nullable references, [] for arrays)." [contract] type table, empty form column."""
    fields = api.fields("REQ")
    values = {
        fields["description"]["id"]: "",
        fields["location"]["id"]: "",
        fields["related_change"]["id"]: None,
        fields["watchers"]["id"]: [],
        fields["tags"]["id"]: [],
        fields["estimated_hours"]["id"]: None,
        fields["approved"]["id"]: None,
        fields["due_date"]["id"]: None,
        fields["requested_at"]["id"]: None,
        fields["category"]["id"]: None,
    }
    response = api.update("REQ-0506", values)
    assert response.status_code == 200, response.text
    data = api.ticket("REQ-0506")["data"]
    for key, value in values.items():
        assert data[key] == value


def test_every_field_type_accepts_its_value_form(api: Any) -> None:
    """[contract] type table: text/richtext string, number JSON number, boolean, date
    "YYYY-MM-DD", datetime ISO 8601 with offset, select one of options, multiselect array of
    distinct options, reference UUID string, array of strings (order significant)."""
    fields = api.fields("REQ")
    values = {
        fields["summary"]["id"]: 'Ünïcödé — "quoted"\nsecond line',
        fields["description"]["id"]: "<p>rich</p>",
        fields["estimated_hours"]["id"]: 2.5,
        fields["quantity"]["id"]: 3,
        fields["approved"]["id"]: False,
        fields["due_date"]["id"]: "2026-12-24",
        fields["requested_at"]["id"]: "2026-11-20T16:01:09+01:00",
        fields["first_response_at"]["id"]: "2026-11-20T16:01:09Z",
        fields["priority"]["id"]: "Critical",
        fields["tags"]["id"]: ["q4", "freeze"],
        fields["assignee"]["id"]: str(uuid.uuid4()),
        fields["watchers"]["id"]: ["b@example.com", "a@example.com"],
    }
    assert api.update("REQ-0509", values).status_code == 200
    data = api.ticket("REQ-0509")["data"]
    for key, value in values.items():
        assert data[key] == value
    assert data[fields["watchers"]["id"]] == ["b@example.com", "a@example.com"]


def test_patch_is_a_write_even_when_values_are_unchanged(api: Any, sandbox: Any) -> None:
    """[contract] "A PATCH is a write even when every value equals the current one: the etag
    changes and lastUpdatedBy moves." """
    before = api.ticket("REQ-0509")
    token = sandbox.token(sub="someone-else")
    same = {DESCRIPTION: before["data"][DESCRIPTION]}
    response = api.patch("REQ-0509", {"etag": before["etag"], "ticketUpdate": same}, token)
    assert response.status_code == 200
    after = api.ticket("REQ-0509")
    assert after["etag"] == response.json()["etag"] != before["etag"]
    assert after["lastUpdatedBy"] == "someone-else" != before["lastUpdatedBy"]
    assert after["lastUpdatedAt"] >= before["lastUpdatedAt"]
    assert after["data"] == before["data"]
    assert sandbox.stats()["writes"]["noop_patches"] == 1


def test_last_updated_by_is_the_service_account_subject(api: Any, sandbox: Any) -> None:
    """[doc] Note 6 "Updates are recorded in the ticket's lastUpdatedBy. Service-account
    writes appear under the SA subject (e.g. sa-tenant-…)." """
    token = sandbox.token(sub="sa-tenant-3f2c9b")
    assert api.update("REQ-0509", {DESCRIPTION: "x"}, token).status_code == 200
    assert api.ticket("REQ-0509")["lastUpdatedBy"] == "sa-tenant-3f2c9b"
    granted = grant(sandbox, DEMO_WRITER.client_id, DEMO_WRITER.secret).json()["access_token"]
    assert api.update("REQ-0509", {DESCRIPTION: "y"}, granted).status_code == 200
    assert api.ticket("REQ-0509")["lastUpdatedBy"] == DEMO_WRITER.sub


def test_issupportrequest_is_optional(api: Any) -> None:
    """[doc] Headers: "issupportrequest  Boolean flag indicating if this is a support-related
    request  No" (not required; true/false accepted)."""
    for value in ("false", "true"):
        etag = api.ticket("REQ-0509")["etag"]
        headers = api.headers(issupportrequest=value)
        response = api.patch("REQ-0509", {"etag": etag, "ticketUpdate": {}}, headers=headers)
        assert response.status_code == 200
    response = api.update("REQ-0509", {})
    assert response.status_code == 200
    bad = api.patch(
        "REQ-0509", {"etag": "x", "ticketUpdate": {}}, headers=api.headers(issupportrequest="maybe")
    )
    assert_invalid(bad, "issupportrequest")


@pytest.mark.parametrize("catalog", ["template", "agent", "user"])
def test_type_query_accepts_each_catalog_type(api: Any, catalog: str) -> None:
    """[doc] Query Parameters: "type  Catalog type. Accepted values: template, agent, user"."""
    etag = api.ticket("REQ-0509")["etag"]
    response = api.patch(
        "REQ-0509", {"etag": etag, "ticketUpdate": {}}, query=f"?type={catalog}&module=ticketing"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("", ("type", "module")),
        ("?module=ticketing", ("type",)),
        ("?type=template", ("module",)),
        ("?type=catalog&module=ticketing", ("type",)),
        ("?type=template&module=billing", ("module",)),
    ],
)
def test_type_and_module_are_required_on_patch(api: Any, query: str, keys: tuple[str, ...]) -> None:
    """[contract] "query type, module: required on PATCH update (type in template, agent,
    user; module=ticketing); missing or other value: 400 INPUT_VALIDATION_FAILURE"."""
    before = api.ticket("REQ-0509")
    response = api.patch(
        "REQ-0509", {"etag": before["etag"], "ticketUpdate": {DESCRIPTION: "z"}}, query=query
    )
    assert_invalid(response, *keys)
    assert api.ticket("REQ-0509")["etag"] == before["etag"]


# ---------------------------------------------------------------------------- etag


def test_missing_etag_is_input_validation_failure(api: Any, sandbox: Any) -> None:
    """[doc] Note 1 "Etag is required. The endpoint will not accept an update without etag."
    [contract] "Missing etag: 400 INPUT_VALIDATION_FAILURE, reason key etag"."""
    before = api.ticket("REQ-0509")
    response = api.patch("REQ-0509", {"ticketUpdate": {DESCRIPTION: "no etag"}})
    assert_invalid(response, "etag")
    assert api.ticket("REQ-0509") == before
    assert sandbox.stats()["writes"]["patches_without_etag"] == 1


def test_stale_etag_is_etag_mismatch_and_nothing_is_written(api: Any) -> None:
    """[doc] "ETAG_MISMATCH The ticket has been modified since the caller fetched it" and
    "if the ticket has been modified since the caller last read it, the update is rejected
    without modification"; Example — Etag Mismatch body."""
    before = api.ticket("REQ-0509")
    response = api.patch(
        "REQ-0509", {"etag": str(uuid.uuid4()), "ticketUpdate": {DESCRIPTION: "lost"}}
    )
    assert response.status_code == 400
    assert response.json() == MISMATCH
    assert api.ticket("REQ-0509") == before


# ---------------------------------------------------------------------------- not found


def test_unknown_display_id_is_ticket_not_found(api: Any) -> None:
    """[doc] Example — Ticket Not Found: {"error": true, "message": "Ticket not found
    (REQ-9999)"}; "404 Not Found (JSON) objectId does not exist for this tenant"."""
    expected = {"error": True, "message": "Ticket not found (REQ-9999)"}
    assert api.get("/ticket/REQ-9999").status_code == 404
    assert api.get("/ticket/REQ-9999").json() == expected
    response = api.patch("REQ-9999", {"etag": str(uuid.uuid4()), "ticketUpdate": {}})
    assert response.status_code == 404 and response.json() == expected


def test_internal_uuid_is_not_found(api: Any) -> None:
    """[doc] Note 5 "Path uses display ID, not UUID ... A GET against the internal UUID
    returns 404 Ticket not found." """
    ticket = api.ticket("REQ-0509")
    response = api.get(f"/ticket/{ticket['id']}")
    assert response.status_code == 404
    assert response.json() == {"error": True, "message": f"Ticket not found ({ticket['id']})"}
    patch = api.patch(ticket["id"], {"etag": ticket["etag"], "ticketUpdate": {}})
    assert patch.status_code == 404


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("summary", 12),
        ("summary", None),
        ("description", ["<p>x</p>"]),
        ("estimated_hours", "2.5"),
        ("estimated_hours", True),
        ("approved", "yes"),
        ("due_date", "24.12.2026"),
        ("due_date", "2026-02-30"),
        ("requested_at", "2026-11-20T16:01:09"),
        ("requested_at", "tomorrow"),
        ("priority", "Urgent"),
        ("priority", ["High"]),
        ("tags", ["q4", "nope"]),
        ("tags", ["q4", "q4"]),
        ("tags", "q4"),
        ("requester", "jdoe"),
        ("watchers", "a@example.com"),
        ("watchers", [1, 2]),
        ("watchers", None),
    ],
)
def test_wrong_value_is_input_validation_failure(api: Any, name: str, value: Any) -> None:
    """[contract] "a value of the wrong type, a select value outside options ... gives 400
    INPUT_VALIDATION_FAILURE with "validationResult": {"reason": {"<field-uuid>":
    "<message>"}}; nothing is written." """
    field = api.fields("REQ")[name]
    before = api.ticket("REQ-0509")
    response = api.patch("REQ-0509", {"etag": before["etag"], "ticketUpdate": {field["id"]: value}})
    reason = assert_invalid(response, field["id"])
    assert list(reason) == [field["id"]] and reason[field["id"]]
    assert api.ticket("REQ-0509") == before


def test_unknown_field_and_required_clear_are_reported_together(api: Any) -> None:
    """[contract] "a key that is not a field of the ticket's type ... or clearing a required
    field gives 400 INPUT_VALIDATION_FAILURE"; [doc] "The validationResult.reason map names
    the offending field UUIDs and validation messages"; nothing is written."""
    fields = api.fields("REQ")
    unknown = str(uuid.uuid4())
    ctc_field = api.fields("CTC")["risk"]["id"]
    before = api.ticket("REQ-0509")
    update = {
        unknown: "x",
        ctc_field: "Low",
        fields["summary"]["id"]: "",
        fields["priority"]["id"]: None,
        DESCRIPTION: "valid on its own",
    }
    response = api.patch("REQ-0509", {"etag": before["etag"], "ticketUpdate": update})
    reason = assert_invalid(
        response, unknown, ctc_field, fields["summary"]["id"], fields["priority"]["id"]
    )
    assert DESCRIPTION not in reason
    assert api.ticket("REQ-0509") == before


def test_ticket_update_must_be_an_object(api: Any) -> None:
    """[doc] Request Body Schema: "ticketUpdate  object  Map of field UUID → new value ...
    Yes" (required)."""
    etag = api.ticket("REQ-0509")["etag"]
    assert_invalid(api.patch("REQ-0509", {"etag": etag}), "ticketUpdate")
    assert_invalid(api.patch("REQ-0509", {"etag": etag, "ticketUpdate": [1]}), "ticketUpdate")
    assert_invalid(api.patch("REQ-0509", {"etag": 5, "ticketUpdate": {}}), "etag")


# ---------------------------------------------------------------------------- authentication


def test_missing_or_bad_authorization_is_unauthorized(api: Any, sandbox: Any) -> None:
    """[contract] "Missing, malformed, expired or badly signed token: 401 {"error": true,
    "code": "UNAUTHORIZED", "message": "...", "status": 401}"."""
    assert_unauthorized(api.get("/ticket/REQ-0509", headers=api.headers(drop=("Authorization",))))
    assert_unauthorized(api.get("/ticket/REQ-0509", headers=api.headers(Authorization="Basic abc")))
    assert_unauthorized(api.get("/ticket/REQ-0509", token="not.a.jwt"))
    assert_unauthorized(api.get("/ticket/REQ-0509", token="garbage"))
    expired = sandbox.token(expires_in=-5)
    assert_unauthorized(api.get("/ticket/REQ-0509", token=expired))
    header, payload, signature = sandbox.token().split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    assert_unauthorized(api.get("/ticket/REQ-0509", token=forged))
    from reconcile.sandbox import make_token

    other_secret = make_token(
        secret="another-secret", tenant_id=sandbox.tenant_id, realm=sandbox.realm, sub="x"
    )
    response = api.get("/ticket/REQ-0509", token=other_secret)
    assert_unauthorized(response)
    assert "signature" in response.json()["message"].lower()
    no_exp = sandbox.token(claims={"exp": None})
    assert_unauthorized(api.get("/ticket/REQ-0509", token=no_exp))
    other_realm = make_token(
        secret=sandbox.secret, tenant_id=sandbox.tenant_id, realm="other", sub="x"
    )
    assert_unauthorized(api.get("/ticket/REQ-0509", token=other_realm))


def test_token_expires(sandbox_factory: Any, api_for: Any) -> None:
    """[contract] "expired ... token: 401" — a token valid now stops working at its exp."""
    clock = ManualClock()
    sandbox = sandbox_factory(clock=clock, demo=True)
    api = api_for(sandbox)
    token = sandbox.token(expires_in=3)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert api.get("/ticket/REQ-0509", token=token).status_code == 200
    clock.advance(exp - clock.time() - 0.5)  # half a second before exp: still valid
    assert api.get("/ticket/REQ-0509", token=token).status_code == 200
    clock.advance(0.5)  # at exp
    assert_unauthorized(api.get("/ticket/REQ-0509", token=token))


@pytest.mark.parametrize("header", ["accept", "realmname"])
def test_required_headers(api: Any, header: str) -> None:
    """[doc] Headers table: accept, realmname "Required: Yes" (x-tenantid: see below)."""
    response = api.get("/ticket/REQ-0509", headers=api.headers(drop=(header,)))
    assert_invalid(response, header)


def test_content_type_is_required_on_bodies(api: Any) -> None:
    """[doc] Headers: "content-type  Request body media type (application/json)  Yes"."""
    etag = api.ticket("REQ-0509")["etag"]
    url = f"{api.base}/ticket/REQ-0509/update?type=template&module=ticketing"
    body = f'{{"etag": "{etag}", "ticketUpdate": {{}}}}'
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = api.headers()
        if content_type:
            headers["content-type"] = content_type
        response = api.session.patch(url, data=body.encode(), headers=headers, timeout=10)
        assert response.status_code == 415, response.text
        assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    headers = {**api.headers(), "content-type": "application/json; charset=utf-8"}
    assert (
        api.session.patch(url, data=body.encode(), headers=headers, timeout=10).status_code == 200
    )


def test_accept_must_admit_json(api: Any) -> None:
    """[doc] Headers: "accept  Specifies acceptable response formats (application/json)"."""
    assert api.get("/ticket/REQ-0509", headers=api.headers(accept="text/html")).status_code == 406
    for accept in ("*/*", "application/*", "application/json;q=0.9, text/html"):
        assert api.get("/ticket/REQ-0509", headers=api.headers(accept=accept)).status_code == 200


def test_realmname_must_be_the_realm(api: Any) -> None:
    """[doc] Headers: "realmname  The authentication realm name" (a token of this realm is not
    valid for another)."""
    assert_unauthorized(api.get("/ticket/REQ-0509", headers=api.headers(realmname="other")))


def test_tenant_header_must_match_token_claim(api: Any, sandbox: Any) -> None:
    """[doc] Note 7 "The x-tenantid header and the tenant_id claim inside the JWT must agree.
    Mismatches return 404 Tenant not found." [contract] 404 {"error": true, "message":
    "Tenant not found"}."""
    expected = {"error": True, "message": "Tenant not found"}
    other = str(uuid.uuid4())
    mismatched = api.get("/ticket/REQ-0509", headers=api.headers(**{"x-tenantid": other}))
    assert mismatched.status_code == 404 and mismatched.json() == expected
    # A missing header equals no claim: the same 404, on reads and writes.
    for response in (
        api.get("/ticket/REQ-0509", headers=api.headers(drop=("x-tenantid",))),
        api.get("/ticket", headers=api.headers(drop=("x-tenantid",))),
        api.session.patch(
            f"{api.base}/ticket/REQ-0509/update?type=template&module=ticketing",
            json={"etag": "x", "ticketUpdate": {}},
            headers=api.headers(drop=("x-tenantid",)),
            timeout=10,
        ),
    ):
        assert response.status_code == 404 and response.json() == expected
    token = sandbox.token(tenant_id=other)
    for response in (
        api.get("/ticket/REQ-0509", token=token),
        api.get("/ticket/REQ-0509", headers=api.headers(token, **{"x-tenantid": other})),
        api.patch("REQ-0509", {"etag": "x", "ticketUpdate": {}}, token),
    ):
        assert response.status_code == 404 and response.json() == expected


# ---------------------------------------------------------------------------- authorization


def test_reads_need_read_or_write_scope(api: Any, sandbox: Any) -> None:
    """[contract] "Reads need scope tickets:read or tickets:write"."""
    for scope in ("openid tickets:read", "openid tickets:write", "tickets:read"):
        token = sandbox.token(scope=scope, roles=())
        for path in ("/ticket/REQ-0509", "/ticket-type", "/ticket"):
            assert api.get(path, token=token).status_code == 200, (scope, path)
    token = sandbox.token(scope="openid profile")
    response = api.get("/ticket/REQ-0509", token=token)
    assert response.status_code == 401
    assert response.json()["code"] == "USER_PERMISSION_FAILURE"


@pytest.mark.parametrize(
    ("scope", "roles"),
    [
        ("openid tickets:read", ["ticket_writer"]),
        ("openid tickets:read", ["ticket_admin"]),
        ("openid tickets:read tickets:write", []),
        ("openid tickets:read tickets:write", ["ticket_reader", "offline_access"]),
    ],
)
def test_patch_needs_write_scope_and_role(
    api: Any, sandbox: Any, scope: str, roles: list[str]
) -> None:
    """[doc] "The update-ticket handler enforces both the OAuth scope tickets:write and realm
    role membership. Tokens that carry the scope but lack a write-permitted role will be
    rejected with 401 USER_PERMISSION_FAILURE." Example — Permission Failure body."""
    before = api.ticket("REQ-0509")
    token = sandbox.token(scope=scope, roles=roles)
    response = api.patch(
        "REQ-0509", {"etag": before["etag"], "ticketUpdate": {DESCRIPTION: "no"}}, token
    )
    assert response.status_code == 401
    assert response.json() == PERMISSION
    assert api.ticket("REQ-0509") == before


def test_writer_may_update_only_own_teams_or_no_team(api: Any, sandbox: Any) -> None:
    """[contract] "ticket_admin may update any ticket; ticket_writer only tickets whose team is
    null or in the token's teams; otherwise 401 USER_PERMISSION_FAILURE with the message of
    the doc"; [doc] "The caller authenticated successfully but is not permitted to update
    this ticket"."""
    writer = sandbox.token()
    summary = api.fields("REQ")["summary"]["id"]
    assert api.ticket("REQ-0509")["team"] == "network"
    assert api.ticket("REQ-0506")["team"] is None
    assert api.ticket("REQ-0503")["team"] == "finance"
    assert api.update("REQ-0509", {summary: "ok"}, writer).status_code == 200
    assert api.update("REQ-0506", {summary: "ok"}, writer).status_code == 200
    before = api.ticket("REQ-0503")
    denied = api.update("REQ-0503", {summary: "no"}, writer)
    assert denied.status_code == 401 and denied.json() == PERMISSION
    assert api.ticket("REQ-0503") == before
    admin = sandbox.token(sub=DEMO_ADMIN.sub, roles=["ticket_admin"], teams=[])
    assert api.update("REQ-0503", {summary: "admin"}, admin).status_code == 200


def test_reader_client_cannot_patch(api: Any, sandbox: Any) -> None:
    """[contract] read-only scope: reads allowed, PATCH 401 USER_PERMISSION_FAILURE."""
    token = grant(sandbox, DEMO_READER.client_id, DEMO_READER.secret).json()["access_token"]
    assert api.get("/ticket/REQ-0509", token=token).status_code == 200
    assert api.update("REQ-0509", {DESCRIPTION: "x"}, token).json() == PERMISSION


# ---------------------------------------------------------------------------- ticket types


def test_ticket_type_shape_and_field_types(api: Any) -> None:
    """[contract] GET /ticket-type: {"data": [{"id", "name", "prefix", "fields": [{"id",
    "name", "label", "type", "required", "options" for selects}]}]}; "Field type is one of"
    the ten types; [doc] Note 3 field UUIDs via fields[].id."""
    response = api.get("/ticket-type")
    assert response.status_code == 200
    types = response.json()["data"]
    assert {t["prefix"] for t in types} >= {"REQ", "CTC", "PMT"}
    seen = set()
    for ticket_type in types:
        assert {"id", "name", "prefix", "fields"} <= set(ticket_type)
        for field in ticket_type["fields"]:
            assert {"id", "name", "label", "type", "required"} <= set(field)
            assert UUID_RE.match(field["id"]) or field["id"] == DUE_DATE_FIELD_ID
            if field["type"] in ("select", "multiselect"):
                assert field["options"]
            seen.add(field["type"])
    assert seen == {
        "text",
        "richtext",
        "number",
        "boolean",
        "date",
        "datetime",
        "select",
        "multiselect",
        "reference",
        "array",
    }
    req = next(t for t in types if t["prefix"] == "REQ")
    assert len(req["fields"]) >= 20
    description = next(f for f in req["fields"] if f["id"] == DESCRIPTION)
    assert description["name"] == "description" and description["type"] == "richtext"


def test_ticket_type_follows_the_prefix(api: Any) -> None:
    """[contract] "A ticket's type is the one whose prefix starts its display ID (REQ-0509 is
    a REQ ticket); its ticket_type_id says the same." """
    types = {t["id"]: t["prefix"] for t in api.get("/ticket-type").json()["data"]}
    for object_id in ("REQ-0509", "CTC-0054", "PMT-0047"):
        ticket = api.ticket(object_id)
        assert types[ticket["ticket_type_id"]] == object_id.split("-")[0]


# ---------------------------------------------------------------------------- list


def test_list_pages_from_one_sorted_numerically(
    sandbox_factory: Any, api_for: Any, tmp_path: Any
) -> None:
    """[contract] GET /ticket?module=ticketing&page=1&size=100: {"data", "page", "size",
    "total"}; "pages start at 1; size at most 500"; sorted by display ID numerically."""
    seed = tmp_path / "seed.json"
    seed.write_text(
        f'{{"ticket_types": [{{"id": "{uuid.uuid4()}", "name": "Request", "prefix": "REQ",'
        ' "fields": []}], "tickets": [{"object_id": "REQ-10000"}, {"object_id": "REQ-0002"},'
        ' {"object_id": "REQ-9999"}, {"object_id": "REQ-0010"}]}'
    )
    api = api_for(sandbox_factory(seed=seed))
    first = api.get("/ticket?module=ticketing&page=1&size=3").json()
    assert (first["page"], first["size"], first["total"]) == (1, 3, 4)
    assert [t["object_id"] for t in first["data"]] == ["REQ-0002", "REQ-0010", "REQ-9999"]
    second = api.get("/ticket?module=ticketing&page=2&size=3").json()
    assert [t["object_id"] for t in second["data"]] == ["REQ-10000"]
    assert api.get("/ticket?page=3&size=3").json()["data"] == []
    huge = api.get(f"/ticket?page={10**30}&size=500")
    assert huge.status_code == 200 and huge.json()["data"] == []
    assert api.get("/ticket?size=500").status_code == 200
    for query in ("size=501", "size=0", "page=0", "page=x", "module=billing"):
        assert_invalid(api.get(f"/ticket?{query}"), query.split("=")[0])


def test_list_ticket_shape_matches_get(api: Any) -> None:
    """[contract] list: "data": [<ticket as above>...]."""
    listed = api.get("/ticket?module=ticketing&page=1&size=500").json()
    assert listed["total"] == len(listed["data"]) >= 30
    by_id = {t["object_id"]: t for t in listed["data"]}
    assert by_id["REQ-0509"] == api.ticket("REQ-0509")


# ---------------------------------------------------------------------------- create


def test_create_returns_object_id_and_etag(api: Any) -> None:
    """[contract] POST /ticket/create: answer 200 {"success": true, "message": "ticket created
    successfully", "status": 200, "objectId": "REQ-0510", "etag": "<uuid>"}; [doc] objectId
    "Returned as objectId from create"."""
    types = {t["prefix"]: t for t in api.get("/ticket-type").json()["data"]}
    fields = api.fields("REQ")
    ticket = {
        fields["summary"]["id"]: "New laptop",
        fields["priority"]["id"]: "Low",
        fields["status"]["id"]: "New",
        fields["requester"]["id"]: str(uuid.uuid4()),
    }
    body = {"ticketTypeId": types["REQ"]["id"], "team": "network", "ticket": ticket}
    response = api.session.post(
        f"{api.base}/ticket/create?type=template&module=ticketing",
        json=body,
        headers=api.headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"success", "message", "status", "objectId", "etag"}
    assert created["message"] == "ticket created successfully" and created["status"] == 200
    assert created["objectId"] == "REQ-0517"
    got = api.ticket("REQ-0517")
    assert got["etag"] == created["etag"] and got["data"] == ticket and got["team"] == "network"
    missing = api.session.post(
        f"{api.base}/ticket/create?type=template&module=ticketing",
        json={**body, "ticket": {}},
        headers=api.headers(),
        timeout=10,
    )
    assert_invalid(missing, fields["summary"]["id"], fields["priority"]["id"])


@pytest.mark.parametrize("type_id", [["a"], {"id": "x"}, 7, None, True, ""])
def test_create_with_a_ticket_type_id_that_is_not_a_known_string_is_400(
    api: Any, type_id: Any
) -> None:
    """[contract] create takes ``"ticketTypeId": "<type uuid>"``: any other value is an input
    validation failure, never a 500 (a list or an object used to crash the lookup)."""
    response = api.session.post(
        f"{api.base}/ticket/create?type=template&module=ticketing",
        json={"ticketTypeId": type_id, "ticket": {}},
        headers=api.headers(),
        timeout=10,
    )
    assert_invalid(response, "ticketTypeId")


def test_display_ids_pad_to_four_digits_and_grow(
    sandbox_factory: Any, api_for: Any, tmp_path: Any
) -> None:
    """[contract] "Display IDs count up per prefix, zero-padded to at least 4 digits:
    REQ-9999 is followed by REQ-10000." """
    type_id = str(uuid.uuid4())
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        f"ticket_types: [{{id: {type_id}, name: Request, prefix: REQ, fields: []}},"
        f" {{id: {uuid.uuid4()}, name: Other, prefix: OTH, fields: []}}]\n"
        "tickets: [{object_id: REQ-9999, team: null, data: {}}]\n"
    )
    sandbox = sandbox_factory(seed=seed)
    api = api_for(sandbox)
    url = f"{api.base}/ticket/create?type=template&module=ticketing"
    types = {t["prefix"]: t["id"] for t in api.get("/ticket-type").json()["data"]}
    made = [
        api.session.post(
            url, json={"ticketTypeId": types[p], "ticket": {}}, headers=api.headers(), timeout=10
        ).json()["objectId"]
        for p in ("REQ", "REQ", "OTH")
    ]
    assert made == ["REQ-10000", "REQ-10001", "OTH-0001"]
    assert api.ticket("REQ-10000")["object_id"] == "REQ-10000"
