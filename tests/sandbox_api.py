"""Test helpers that read and write the sandbox over its HTTP API, as another user would."""

from __future__ import annotations

from typing import Any

import requests

from reconcile.sandbox import Sandbox

API = "/api/v2/ticketing"


def live(sandbox: Sandbox, object_id: str) -> dict[str, Any]:
    """The ticket as GET returns it."""
    response = requests.get(
        f"{sandbox.base_url}{API}/ticket/{object_id}", headers=sandbox.headers(), timeout=10
    )
    response.raise_for_status()
    return response.json()


def field_ids(sandbox: Sandbox, prefix: str = "REQ") -> dict[str, str]:
    """Field name → field UUID of one ticket type."""
    response = requests.get(
        f"{sandbox.base_url}{API}/ticket-type", headers=sandbox.headers(), timeout=10
    )
    ticket_type = next(t for t in response.json()["data"] if t["prefix"] == prefix)
    return {f["name"]: f["id"] for f in ticket_type["fields"]}


def edit_by_hand(
    sandbox: Sandbox, object_id: str, values: dict[str, Any], who: str = "jdoe"
) -> None:
    """Another user's write (field UUID → value), through the API as the web UI would."""
    token = sandbox.token(sub=who, roles=["ticket_admin"], teams=[])
    current = live(sandbox, object_id)
    response = requests.patch(
        f"{sandbox.base_url}{API}/ticket/{object_id}/update?type=template&module=ticketing",
        headers=sandbox.headers(token),
        json={"etag": current["etag"], "ticketUpdate": values},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def patches_by_ticket(sandbox: Sandbox) -> dict[str, int]:
    """How many PATCHes the sandbox received per ticket since its stats were reset."""
    return sandbox.stats()["writes"]["patches_by_ticket"]


def list_tickets(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every ticket of the sandbox's tenant, through the list endpoint."""
    tickets: list[dict[str, Any]] = []
    page = 1
    while True:
        response = requests.get(
            f"{sandbox.base_url}{API}/ticket",
            params={"module": "ticketing", "page": page, "size": 500},
            headers=sandbox.headers(),
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        tickets += body["data"]
        if not body["data"] or len(tickets) >= body["total"]:
            return tickets
        page += 1


def token_url(sandbox: Sandbox, realm: str | None = None) -> str:
    """The sandbox's Keycloak-style token endpoint."""
    return f"{sandbox.base_url}/realms/{realm or sandbox.realm}/protocol/openid-connect/token"


def grant(sandbox: Sandbox, client_id: str, secret: str, **extra: str) -> requests.Response:
    """A client-credentials request to the token endpoint."""
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return requests.post(token_url(sandbox), data={**data, **extra}, timeout=10)
