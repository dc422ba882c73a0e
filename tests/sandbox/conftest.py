"""Helpers for the sandbox's own tests: an HTTP caller with the required headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from reconcile.sandbox import Sandbox

QUERY = "?type=template&module=ticketing"


class Api:
    """Talks to one sandbox over real HTTP, with the headers every request needs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.base = f"{sandbox.base_url}/api/v2/ticketing"

    def headers(
        self, token: str | None = None, drop: tuple[str, ...] = (), **extra: str
    ) -> dict[str, str | None]:
        """The sandbox's headers; ``drop`` names ones not to send (None stops requests' own
        defaults too, such as ``Accept: */*``)."""
        headers: dict[str, str | None] = {**self.sandbox.headers(token, **extra)}
        for name in drop:
            headers[name] = None
        return headers

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", None) or self.headers(token)
        return self.session.get(self.base + path, headers=headers, timeout=10, **kwargs)

    def ticket(self, object_id: str) -> dict[str, Any]:
        response = self.get(f"/ticket/{object_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def patch(
        self, object_id: str, body: Any, token: str | None = None, query: str = QUERY, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", None) or self.headers(token)
        return self.session.patch(
            f"{self.base}/ticket/{object_id}/update{query}",
            json=body,
            headers=headers,
            timeout=10,
            **kwargs,
        )

    def update(
        self, object_id: str, values: dict[str, Any], token: str | None = None
    ) -> requests.Response:
        """PATCH with the ticket's current etag."""
        etag = self.ticket(object_id)["etag"]
        return self.patch(object_id, {"etag": etag, "ticketUpdate": values}, token)

    def fields(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Field name -> field of the ticket type with this prefix."""
        types = self.get("/ticket-type").json()["data"]
        ticket_type = next(t for t in types if t["prefix"] == prefix)
        return {f["name"]: f for f in ticket_type["fields"]}

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    caller = Api(sandbox)
    yield caller
    caller.close()


@pytest.fixture
def api_for() -> Iterator[Any]:
    """Make an :class:`Api` for another sandbox (from ``sandbox_factory``)."""
    made: list[Api] = []

    def make(sandbox: Sandbox) -> Api:
        made.append(Api(sandbox))
        return made[-1]

    yield make
    for caller in made:
        caller.close()
