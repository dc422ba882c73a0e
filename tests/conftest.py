"""Shared fixtures: the sandbox (the API emulator) on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconcile.sandbox import DEMO_ADMIN, Sandbox, SandboxOptions
from reconcile.sandbox.clock import Clock

from cli_runner import CliResult, run_cli


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started demo sandbox on a free port, stopped after the test."""
    with Sandbox(SandboxOptions(port=0, demo=True)) as running:
        yield running


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes from ``SandboxOptions`` keywords (``port`` defaults to 0) and an
    optional ``clock`` (a ``ManualClock`` lets a test move time); all are stopped at
    teardown."""
    started: list[Sandbox] = []

    def start(clock: Clock | None = None, **options: Any) -> Sandbox:
        options.setdefault("port", 0)
        running = Sandbox(SandboxOptions(**options), clock=clock).start()
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


@pytest.fixture
def reconcile_env(sandbox: Sandbox, writer_token: str) -> dict[str, str | None]:
    """Environment that points the CLI at the demo sandbox as the demo writer."""
    return {
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TENANT_ID": sandbox.tenant_id,
        "RECONCILE_REALM": sandbox.realm,
        "RECONCILE_TOKEN": writer_token,
        "RECONCILE_CONFIG": None,
        "GITHUB_ACTIONS": None,
        "NO_COLOR": "1",
    }


@pytest.fixture
def cli(
    reconcile_env: dict[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run the CLI against the demo sandbox from a scratch directory; fail on an unexpected
    exit status, showing what the command printed (like HTTPie's test helper)."""
    monkeypatch.chdir(tmp_path)

    def run(
        *args: str, expect: int | None = 0, stdin: str | None = None, **env: str | None
    ) -> CliResult:
        result = run_cli(args, {**reconcile_env, **env}, stdin)
        if expect is not None and result.exit_code != expect:
            pytest.fail(
                f"reconcile {' '.join(args)} exited {result.exit_code}, expected {expect}\n"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
        return result

    return run
