"""Shared fixtures: the sandbox (the API emulator) on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconcile.sandbox import DEMO_ADMIN, Sandbox, SandboxOptions


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started demo sandbox on a free port, stopped after the test."""
    with Sandbox(SandboxOptions(port=0, demo=True)) as running:
        yield running


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes from ``SandboxOptions`` keywords (``port`` defaults to 0); all are
    stopped at teardown."""
    started: list[Sandbox] = []

    def start(**options: Any) -> Sandbox:
        options.setdefault("port", 0)
        running = Sandbox(SandboxOptions(**options)).start()
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()


@pytest.fixture
def writer_token(sandbox: Sandbox) -> str:
    """The demo writer's token: role ticket_writer, teams network and service-desk."""
    return sandbox.token()


@pytest.fixture
def admin_token(sandbox: Sandbox) -> str:
    """The demo admin's token: role ticket_admin, no team."""
    return sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
