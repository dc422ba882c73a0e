"""Injected faults: latency, 500 before work, 429 with Retry-After, drop or 500 after commit."""

from __future__ import annotations

import time
from typing import Any

import requests

from reconcile.sandbox.clock import ManualClock
from reconcile.sandbox.demo import DEMO_WRITER, DESCRIPTION_FIELD_ID, KEY_FIELD

from sandbox_api import grant

QUERY = "?type=template&module=ticketing"


def statuses(sandbox: Any, count: int) -> list[int]:
    url = f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509"
    with requests.Session() as session:
        return [
            session.get(url, headers=sandbox.headers(), timeout=10).status_code
            for _ in range(count)
        ]


def test_fail_rate_answers_500_before_any_work(sandbox_factory: Any) -> None:
    """[contract] "500/502/503" from a real server; --fail-rate: 500 before any work (the
    PATCH writes nothing)."""
    sandbox = sandbox_factory(demo=True, fail_rate=1.0)
    etag = sandbox.store.get("REQ-0509")["etag"]
    url = f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509/update{QUERY}"
    response = requests.patch(
        url,
        json={"etag": etag, "ticketUpdate": {DESCRIPTION_FIELD_ID: "x"}},
        headers=sandbox.headers(),
        timeout=10,
    )
    assert response.status_code == 500
    assert sandbox.store.get("REQ-0509")["etag"] == etag
    assert sandbox.stats()["faults"] == {"fail": 1}
    assert sandbox.stats()["writes"]["committed"] == 0


def test_faults_spare_the_token_endpoint_and_sandbox_routes(sandbox_factory: Any) -> None:
    """Faults apply to API routes only: the token endpoint and /_sandbox always answer."""
    sandbox = sandbox_factory(demo=True, fail_rate=1.0, rate_limit_rate=1.0)
    token = grant(sandbox, DEMO_WRITER.client_id, DEMO_WRITER.secret)
    assert token.status_code == 200
    assert requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=10).status_code == 200
    assert sandbox.stats()["faults"] == {}


def test_rate_limit_answers_429_with_retry_after(sandbox_factory: Any) -> None:
    """[contract] "429 Too Many Requests with Retry-After: <seconds> under load"."""
    sandbox = sandbox_factory(demo=True, rate_limit_rate=1.0, retry_after=7)
    response = requests.get(
        f"{sandbox.base_url}/api/v2/ticketing/ticket-type", headers=sandbox.headers(), timeout=10
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["code"] == "TOO_MANY_REQUESTS"


def test_latency_is_added_to_api_requests(sandbox_factory: Any) -> None:
    """--latency-ms sleeps in every API request (on the sandbox's clock), nowhere else."""
    clock = ManualClock()
    sandbox = sandbox_factory(clock=clock, demo=True, latency_ms=150)
    assert statuses(sandbox, 2) == [200, 200]
    grant(sandbox, DEMO_WRITER.client_id, DEMO_WRITER.secret)
    requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=10)
    assert clock.slept == [0.15, 0.15]


def test_faults_are_deterministic_under_a_seed(sandbox_factory: Any) -> None:
    """--fault-seed: the same seed gives the same faults to the same sequence of requests."""
    options = {"demo": True, "fail_rate": 0.3, "rate_limit_rate": 0.2}
    first = statuses(sandbox_factory(fault_seed=42, **options), 40)
    second = statuses(sandbox_factory(fault_seed=42, **options), 40)
    other = statuses(sandbox_factory(fault_seed=43, **options), 40)
    assert first == second
    assert first != other
    assert {200, 429, 500} <= set(first)


def test_drop_after_commit_really_commits(sandbox_factory: Any) -> None:
    """[contract] "a 500 or a dropped connection after the write was committed (the client
    cannot tell; the etag then moved)"."""
    sandbox = sandbox_factory(demo=True, drop_after_commit_rate=1.0, fault_seed=3)
    url = f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509/update{QUERY}"
    outcomes = []
    for n in range(12):
        etag = sandbox.store.get("REQ-0509")["etag"]
        value = f"<p>write {n}</p>"
        try:
            with requests.Session() as session:
                response = session.patch(
                    url,
                    json={"etag": etag, "ticketUpdate": {DESCRIPTION_FIELD_ID: value}},
                    headers=sandbox.headers(),
                    timeout=10,
                )
            outcomes.append(response.status_code)
        except requests.ConnectionError:
            outcomes.append("dropped")
        after = sandbox.store.get("REQ-0509")
        assert after["etag"] != etag  # committed whatever the client saw
        assert after["data"][DESCRIPTION_FIELD_ID] == value
    assert set(outcomes) == {500, "dropped"}
    stats = sandbox.stats()
    assert stats["writes"]["committed"] == 12
    assert stats["faults"]["drop"] == outcomes.count("dropped")
    assert stats["faults"]["error_after_commit"] == outcomes.count(500)
    assert stats["by_method_status"]["PATCH"].get("dropped") == outcomes.count("dropped")
    # the server is still healthy after dropping connections
    assert statuses(sandbox, 1) == [200]


def _create(sandbox: Any, ticket: dict[str, Any]) -> requests.Response:
    types = {t["prefix"]: t["id"] for t in sandbox.store.types}
    with requests.Session() as session:
        return session.post(
            f"{sandbox.base_url}/api/v2/ticketing/ticket/create{QUERY}",
            json={"ticketTypeId": types["PMT"], "team": "finance", "ticket": ticket},
            headers=sandbox.headers(sandbox.token(roles=["ticket_admin"], teams=[])),
            timeout=10,
        )


def _payment(sandbox: Any, ref: Any) -> dict[str, Any]:
    fields = {f["name"]: f["id"] for f in sandbox.store.types[2]["fields"]}
    return {
        fields["payee"]: "Initech Consulting",
        fields["amount"]: 12.5,
        fields["currency"]: "EUR",
        fields[KEY_FIELD]: ref,
    }


def test_create_takes_the_same_faults_as_patch(sandbox_factory: Any) -> None:
    """Create: 429 and 500 before any work create nothing; drop-after-commit creates the
    ticket whatever the client saw (so a client must look before it creates again)."""
    for option, status in (("rate_limit_rate", 429), ("fail_rate", 500)):
        sandbox = sandbox_factory(demo=True, **{option: 1.0})
        before = len(sandbox.store.page(1, 500)[0])
        assert _create(sandbox, _payment(sandbox, "k-1")).status_code == status
        assert len(sandbox.store.page(1, 500)[0]) == before
        assert sandbox.stats()["writes"]["creates"] == 0
    sandbox = sandbox_factory(demo=True, drop_after_commit_rate=1.0, fault_seed=3)
    outcomes = []
    for n in range(8):
        try:
            outcomes.append(_create(sandbox, _payment(sandbox, f"k-{n}")).status_code)
        except requests.ConnectionError:
            outcomes.append("dropped")
    assert set(outcomes) == {500, "dropped"}
    created = [
        t for t in sandbox.store.page(1, 500)[0] if "PMT-0050" <= t["object_id"] <= "PMT-9999"
    ]
    key_id = {f["name"]: f["id"] for f in sandbox.store.types[2]["fields"]}[KEY_FIELD]
    assert sorted(t["data"][key_id] for t in created) == [f"k-{n}" for n in range(8)]
    assert sandbox.stats()["writes"]["creates"] == 8


def test_create_validates_the_key_field_as_text(sandbox_factory: Any) -> None:
    """The demo key field external_ref is a text field: a number in it is refused."""
    sandbox = sandbox_factory(demo=True)
    response = _create(sandbox, _payment(sandbox, 510))
    assert response.status_code == 400
    key_id = {f["name"]: f["id"] for f in sandbox.store.types[2]["fields"]}[KEY_FIELD]
    assert set(response.json()["validationResult"]["reason"]) == {key_id}
    assert sandbox.stats()["writes"]["creates"] == 0


def get(sandbox: Any, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/api/v2/ticketing{path}",
        params=params,
        headers=sandbox.headers(),
        timeout=30,
    )


def test_retry_after_given_as_text_is_sent_as_it_is(sandbox_factory: Any) -> None:
    """--retry-after soon: a malformed header, for clients to survive."""
    sandbox = sandbox_factory(demo=True, rate_limit_rate=1.0, retry_after="soon")
    response = get(sandbox, "/ticket-type")
    assert response.status_code == 429 and response.headers["Retry-After"] == "soon"


def test_unauthorized_requests_answer_401_then_serve(sandbox_factory: Any) -> None:
    """--unauthorized-requests 2: the first two API requests are 401 UNAUTHORIZED, even
    with a valid token; the token endpoint is not affected."""
    sandbox = sandbox_factory(demo=True, unauthorized_requests=2)
    assert grant(sandbox, DEMO_WRITER.client_id, DEMO_WRITER.secret).status_code == 200
    answers = [get(sandbox, "/ticket/REQ-0509") for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 200]
    assert answers[0].json()["code"] == "UNAUTHORIZED"
    assert sandbox.stats()["faults"] == {"unauthorized": 2}


def test_answer_shapes_change_list_items_and_get_answers_only(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(
        demo=True,
        list_item_drop=("data",),
        list_item_set={"etag": "", "extra": [1]},
        get_set={"etag": 5},
        get_drop=("team",),
        list_total=10**9,
    )
    listed = get(sandbox, "/ticket", page=1, size=5).json()
    assert listed["total"] == 10**9 and len(listed["data"]) == 5
    assert all("data" not in t and t["etag"] == "" and t["extra"] == [1] for t in listed["data"])
    assert get(sandbox, "/ticket", page=99, size=5).json()["data"] == []
    one = get(sandbox, "/ticket/REQ-0509").json()
    assert one["etag"] == 5 and "team" not in one and "data" in one
    stored = sandbox.store.get("REQ-0509")
    assert isinstance(stored["etag"], str) and stored["etag"] and stored["team"] == "network"


def test_list_ignore_page_answers_page_one_always(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, list_ignore_page=True)
    first = get(sandbox, "/ticket", page=1, size=5).json()["data"]
    assert get(sandbox, "/ticket", page=3, size=5).json()["data"] == first


def test_slow_body_dribbles_after_the_write_committed(sandbox_factory: Any) -> None:
    """--slow-body-ms on update: the PATCH commits, then its answer comes byte by byte."""
    sandbox = sandbox_factory(demo=True, slow_body_ms=200, slow_routes=("update",))
    started = time.monotonic()
    assert get(sandbox, "/ticket/REQ-0509").status_code == 200  # not a slow route
    fast = time.monotonic() - started
    etag = sandbox.store.get("REQ-0509")["etag"]
    url = f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509/update{QUERY}"
    with requests.patch(
        url,
        json={"etag": etag, "ticketUpdate": {DESCRIPTION_FIELD_ID: "slow"}},
        headers=sandbox.headers(),
        timeout=30,
        stream=True,
    ) as response:
        assert response.status_code == 200  # the head comes at once
        assert sandbox.store.get("REQ-0509")["data"][DESCRIPTION_FIELD_ID] == "slow"
        first = response.raw.read(1)
        started = time.monotonic()
        second = response.raw.read(1)
        gap = time.monotonic() - started
    assert first + second == b'{"'
    assert gap > fast and gap >= 0.1
