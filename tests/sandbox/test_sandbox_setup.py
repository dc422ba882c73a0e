"""The sandbox's set-up: demo tenant, seed files, generated tickets, token endpoint, TLS,
the /_sandbox routes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from reconcile.sandbox import (
    DEMO_ADMIN,
    DEMO_CLIENTS,
    DEMO_READER,
    DEMO_WRITER,
    Sandbox,
    SandboxError,
    SandboxOptions,
)
from reconcile.sandbox.clock import ManualClock
from reconcile.sandbox.demo import DESCRIPTION_FIELD_ID

from sandbox_api import grant, token_url

# ---------------------------------------------------------------------------- demo data


def test_demo_is_deterministic(sandbox_factory: Any, api_for: Any) -> None:
    """Demo data is fixed (UUIDs, etags, values) so that tests can rely on it."""
    url = "/ticket?module=ticketing&size=500"
    first = api_for(sandbox_factory(demo=True)).get(url).json()
    second = api_for(sandbox_factory(demo=True)).get(url).json()
    assert first == second
    assert first["total"] == 36


def test_demo_tenant_is_realistic(api: Any) -> None:
    """--demo: types REQ, CTC, PMT; several teams and team null; REQ-0509 with the doc's
    description field; unicode, quotes and newlines in rich text; some fields absent."""
    tickets = api.get("/ticket?size=500").json()["data"]
    assert {t["object_id"].split("-")[0] for t in tickets} == {"REQ", "CTC", "PMT"}
    assert {t["team"] for t in tickets} >= {"network", "service-desk", "finance", None}
    req_0509 = api.ticket("REQ-0509")
    assert req_0509["team"] == "network"
    description = req_0509["data"][DESCRIPTION_FIELD_ID]
    assert '"' in description and "\n" in description and "Ångström" in description
    req_fields = api.fields("REQ")
    assert any(
        len(t["data"]) < len(req_fields) for t in tickets if t["object_id"].startswith("REQ")
    )
    for object_id in ("CTC-0054", "PMT-0047"):  # the doc's other examples exist
        assert api.ticket(object_id)["object_id"] == object_id


def test_generated_tickets_are_fast_and_full(sandbox_factory: Any, api_for: Any) -> None:
    """--tickets N: N more tickets, spread over the types, ~20 fields each where the type has
    them (how fast they are made is measured by bench/, not here)."""
    sandbox = sandbox_factory(demo=True, tickets=10_000)
    api = api_for(sandbox)
    assert api.get("/ticket?size=1").json()["total"] == 10_036
    page = api.get("/ticket?size=500&page=15").json()["data"]  # well into the REQ tickets
    req = [t for t in page if t["object_id"].startswith("REQ")]
    assert req and all(len(t["data"]) == 20 for t in req)


def test_seed_file_yaml_loads_contract_shapes(
    sandbox_factory: Any, api_for: Any, tmp_path: Path
) -> None:
    """--seed FILE: YAML (or JSON) of ticket types and tickets in the contract's shapes;
    unquoted YAML dates become the API's date strings."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        """
ticket_types:
  - id: 0b0a5a44-29d8-4c55-9a63-2a8f0c1b7e01
    name: Incident
    prefix: INC
    fields:
      - {id: 6b9e3f1c-1111-4c55-9a63-2a8f0c1b7e01, name: title, label: Title, type: text,
         required: true}
      - {id: 6b9e3f1c-2222-4c55-9a63-2a8f0c1b7e01, name: due, label: Due, type: date}
      - {id: 6b9e3f1c-3333-4c55-9a63-2a8f0c1b7e01, name: sev, label: Severity, type: select,
         options: [S1, S2, S3]}
tickets:
  - object_id: INC-0007
    team: ops
    etag: 9f0e8d7c-6b5a-4948-8776-655443322110
    data:
      6b9e3f1c-1111-4c55-9a63-2a8f0c1b7e01: Database down
      6b9e3f1c-2222-4c55-9a63-2a8f0c1b7e01: 2026-12-24
  - data: {6b9e3f1c-3333-4c55-9a63-2a8f0c1b7e01: S2}
"""
    )
    api = api_for(sandbox_factory(seed=seed))
    first = api.ticket("INC-0007")
    assert first["etag"] == "9f0e8d7c-6b5a-4948-8776-655443322110"
    assert first["data"]["6b9e3f1c-2222-4c55-9a63-2a8f0c1b7e01"] == "2026-12-24"
    assert first["team"] == "ops"
    assert api.ticket("INC-0008")["team"] is None


def _seed_problems(seed: Path) -> str:
    """The message of the SandboxError that starting on ``seed`` raises."""
    with pytest.raises(SandboxError) as caught:
        Sandbox(SandboxOptions(port=0, seed=seed)).start()
    return str(caught.value)


def test_seed_file_problems_are_all_reported(tmp_path: Path) -> None:
    """A bad seed file fails the start with every problem in one message."""
    seed = tmp_path / "seed.json"
    seed.write_text(
        '{"ticket_types": [{"id": "t1", "prefix": "REQ", "fields": ['
        '{"id": "f1", "type": "number"}, {"id": "f2", "type": "select"},'
        ' {"id": "f3", "type": "blob"}]}],'
        ' "tickets": [{"object_id": "REQ-0001", "data": {"f1": "ten", "zz": 1}},'
        ' {"object_id": "ABC-0001"}, {"object_id": "REQ-1"}]}'
    )
    message = _seed_problems(seed)
    for part in (
        "needs 'options'",
        "'blob'",
        "f1 expects a number",
        "zz is not a field",
        "prefix ABC",
        "'REQ-1'",
    ):
        assert part in message, message
    for text in ("{", "ticket_types: 3"):
        seed.write_text(text)
        with pytest.raises(SandboxError):
            Sandbox(SandboxOptions(port=0, seed=seed)).start()
    with pytest.raises(SandboxError, match="cannot read"):
        Sandbox(SandboxOptions(port=0, seed=tmp_path / "missing.yaml")).start()


def test_seed_fields_of_the_wrong_kind_are_problems(tmp_path: Path) -> None:
    """Before: str() and bool() made options "True"/"False" of YAML's yes/no, a label "3"
    and a required field of 'false'."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "ticket_types:\n  - id: t1\n    prefix: REQ\n    fields:\n"
        "      - {id: f1, type: select, options: [yes, no]}\n"
        "      - {id: f2, type: text, required: 'false', label: 3}\n"
    )
    assert _seed_problems(seed) == (
        f"seed file {seed}: ticket type REQ: field f1: 'options' must be strings (quote them "
        "in YAML); ticket type REQ: field f2: expected 'label' (text), 'required' (true or false)"
    )


def test_seed_types_that_share_a_prefix_or_an_id_are_problems(tmp_path: Path) -> None:
    """Before: an sqlite IntegrityError traceback (prefix), or the last type or field
    silently won (id)."""
    seed = tmp_path / "seed.json"
    field = {"id": "f1", "type": "text"}
    types = [
        {"id": "t1", "prefix": "REQ", "fields": [field, {**field, "name": "again"}]},
        {"id": "t2", "prefix": "REQ", "fields": []},
        {"id": "t1", "prefix": "CTC", "fields": []},
    ]
    seed.write_text(json.dumps({"ticket_types": types}))
    message = _seed_problems(seed)
    for part in (
        "ticket type REQ: fields #1 and #2 share the id 'f1'",
        "ticket types #1 and #2 share the prefix 'REQ'",
        "ticket types #1 and #3 share the id 't1'",
    ):
        assert part in message, message


def test_options_are_checked() -> None:
    """Out-of-range options are refused before anything starts, all named at once."""
    with pytest.raises(SandboxError) as caught:
        Sandbox(SandboxOptions(port=0, fail_rate=1.5, tickets=-1, token_lifetime=0))
    assert all(
        word in str(caught.value) for word in ("--fail-rate", "--tickets", "--token-lifetime")
    )


# ---------------------------------------------------------------------------- token endpoint


@pytest.mark.parametrize("client", DEMO_CLIENTS, ids=lambda c: c.client_id)
def test_token_endpoint_client_credentials(sandbox: Any, api: Any, client: Any) -> None:
    """[contract] "POST {auth_url}/realms/{realm}/protocol/openid-connect/token, form body
    grant_type=client_credentials&client_id=..&client_secret=.., answer {"access_token":
    "...", "token_type": "Bearer", "expires_in": 300}"."""
    response = grant(sandbox, client.client_id, client.secret)
    assert response.status_code == 200
    answer = response.json()
    # The contract's example says 300; the sandbox's tokens live an hour, long enough
    # for the quick start (--token-lifetime sets it).
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert api.get("/ticket/REQ-0509", token=answer["access_token"]).status_code == 200


def test_token_endpoint_errors(sandbox: Any) -> None:
    """Keycloak-style errors: bad credentials 401, other grant 400, unknown realm 404."""
    assert grant(sandbox, DEMO_WRITER.client_id, "wrong").status_code == 401
    assert grant(sandbox, "nobody", "x").json()["error"] == "unauthorized_client"
    other = requests.post(token_url(sandbox), data={"grant_type": "password"}, timeout=10)
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
    assert requests.post(token_url(sandbox, "nope"), data={}, timeout=10).status_code == 404
    as_json = requests.post(
        token_url(sandbox), json={"grant_type": "client_credentials"}, timeout=10
    )
    assert as_json.status_code == 400
    narrowed = grant(sandbox, DEMO_READER.client_id, DEMO_READER.secret, scope="tickets:write")
    assert narrowed.status_code == 400 and narrowed.json()["error"] == "invalid_scope"


def test_token_endpoint_basic_auth_and_scope(sandbox: Any, api: Any) -> None:
    """Client secret by HTTP Basic; a ``scope`` form field narrows the token's scopes."""
    response = requests.post(
        token_url(sandbox),
        data={"grant_type": "client_credentials", "scope": "tickets:read"},
        auth=(DEMO_ADMIN.client_id, DEMO_ADMIN.secret),
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "openid tickets:read"
    token = response.json()["access_token"]
    assert api.get("/ticket/REQ-0503", token=token).status_code == 200
    assert api.update("REQ-0503", {}, token).json()["code"] == "USER_PERMISSION_FAILURE"


def test_token_lifetime_and_extra_clients(sandbox_factory: Any, api_for: Any) -> None:
    """--token-lifetime sets expires_in (short-lived tokens expire); --client adds a client
    with a role and teams."""
    clock = ManualClock()
    sandbox = sandbox_factory(
        clock=clock, demo=True, token_lifetime=3, clients=["fin:pw:ticket_writer:finance,payroll"]
    )
    api = api_for(sandbox)
    answer = grant(sandbox, "fin", "pw").json()
    assert answer["expires_in"] == 3
    token = answer["access_token"]
    assert api.update("PMT-0047", {}, token).status_code == 200  # team finance
    assert api.update("REQ-0509", {}, token).status_code == 401  # team network
    clock.advance(2)
    assert api.get("/ticket/REQ-0509", token=token).status_code == 200
    clock.advance(1.5)  # past the token's exp (whole seconds)
    assert api.get("/ticket/REQ-0509", token=token).json()["code"] == "UNAUTHORIZED"


def test_demo_clients_need_demo(sandbox_factory: Any) -> None:
    """The demo clients exist only with --demo."""
    sandbox = sandbox_factory()
    assert grant(sandbox, DEMO_WRITER.client_id, DEMO_WRITER.secret).status_code == 401


# ---------------------------------------------------------------------------- /_sandbox


def test_sandbox_routes_health_stats_reset(sandbox: Any, api: Any) -> None:
    """GET /_sandbox/health, GET /_sandbox/stats (counts by method, by method and status, by
    route kind, write summary), POST /_sandbox/reset-stats."""
    health = requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=10).json()
    assert health["status"] == "ok" and health["tickets"] == 36
    api.get("/ticket-type")
    api.get("/ticket?size=2")
    api.get("/ticket/REQ-9999")
    api.update("REQ-0509", {DESCRIPTION_FIELD_ID: "<p>new</p>"})
    api.patch("REQ-0509", {"ticketUpdate": {}})
    stats = requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=10).json()
    assert stats["by_route"] == {"ticket_type": 1, "list": 1, "get": 2, "update": 2}
    assert stats["by_method"] == {"GET": 4, "PATCH": 2}
    assert stats["by_method_status"] == {"GET": {"200": 3, "404": 1}, "PATCH": {"200": 1, "400": 1}}
    writes = stats["writes"]
    assert (
        writes["patches"] == 2 and writes["patches_without_etag"] == 1 and writes["committed"] == 1
    )
    assert writes["patches_by_ticket"] == {"REQ-0509": 2}
    assert (
        writes["log"][0]["fields"] == [DESCRIPTION_FIELD_ID] and writes["log"][0]["noop"] is False
    )
    assert stats == sandbox.stats()
    assert requests.post(f"{sandbox.base_url}/_sandbox/reset-stats", timeout=10).status_code == 200
    assert sandbox.stats()["requests"] == 0 and sandbox.stats()["writes"]["log"] == []


# ---------------------------------------------------------------------------- TLS


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def test_tls(sandbox_factory: Any, tmp_path: Path) -> None:
    """--tls-cert/--tls-key: the sandbox serves HTTPS; a client that trusts the certificate
    connects, one that does not is refused."""
    cert, key = self_signed(tmp_path)
    sandbox = sandbox_factory(demo=True, tls_cert=cert, tls_key=key)
    assert sandbox.base_url.startswith("https://127.0.0.1:")
    url = f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509"
    with requests.Session() as session:
        assert (
            session.get(url, headers=sandbox.headers(), verify=str(cert), timeout=10).status_code
            == 200
        )
        assert (
            session.get(url, headers=sandbox.headers(), verify=str(cert), timeout=10).status_code
            == 200
        )
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, headers=sandbox.headers(), timeout=10)
    with pytest.raises(SandboxError):
        Sandbox(SandboxOptions(port=0, tls_cert=key, tls_key=cert)).start()
