"""Shared fixtures: the sandbox (the API emulator) on a free port."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reconcile.sandbox import DEMO_ADMIN, Sandbox, SandboxOptions
from reconcile.sandbox.clock import Clock

from cli_runner import CliResult, run_cli


@pytest.fixture(scope="session")
def stop_later() -> Iterator[Callable[[Sandbox], None]]:
    """Stop a sandbox a test is done with in a background thread; all are joined at the
    end of the session.

    Stopping waits for the server's selector loop to notice and for its request threads
    to end (tens of milliseconds, nearly all of it idle): each test's sandbox has a port
    and a database of its own, so the next test need not wait for that.
    """
    stopping: list[threading.Thread] = []

    def stop(running: Sandbox) -> None:
        thread = threading.Thread(target=running.stop, name=f"stop {running.base_url}")
        thread.start()
        stopping.append(thread)

    yield stop
    for thread in stopping:
        thread.join()


@pytest.fixture(scope="session")
def fresh_demo_sandbox(
    stop_later: Callable[[Sandbox], None],
) -> Iterator[Callable[[], Sandbox]]:
    """Hand out started demo sandboxes, a new one each time, each started in the
    background while the test before runs.

    Starting one (its database seeded, its 64 request threads up) takes tens of
    milliseconds, most of them waiting for threads to be scheduled; no sandbox is shared.
    """
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="start sandbox")

    def start() -> Sandbox:
        return Sandbox(SandboxOptions(port=0, demo=True)).start()

    spare = starter.submit(start)

    def take() -> Sandbox:
        nonlocal spare
        running = spare.result()
        spare = starter.submit(start)
        return running

    yield take
    stop_later(spare.result())
    starter.shutdown()


@pytest.fixture
def sandbox(
    fresh_demo_sandbox: Callable[[], Sandbox], stop_later: Callable[[Sandbox], None]
) -> Iterator[Sandbox]:
    """A started demo sandbox on a free port, stopped after the test."""
    running = fresh_demo_sandbox()
    yield running
    stop_later(running)


@pytest.fixture
def sandbox_factory(stop_later: Callable[[Sandbox], None]) -> Iterator[Callable[..., Sandbox]]:
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
        stop_later(running)


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
