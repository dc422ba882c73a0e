"""Bounded time: a server that dribbles its answer cannot hold a run beyond timeout x
attempts, and SIGINT/SIGTERM end a run within seconds even while a read is stuck.

The CLI runs as a real subprocess (signals, and a hung run must fail the test rather than
hang it); the bounds asserted are generous: the point is that the run ends, and reports
what happened, not how fast.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient, _Watchdog
from reconcile.config import Settings
from reconcile.fanout import THREAD_NAME
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN, Sandbox

from sandbox_api import field_ids

MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 12\n"
ENOUGH = 90  # seconds: far beyond what a bounded run needs, far below a dribbled answer


def env_for(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))}
    return {
        **env,
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TENANT_ID": sandbox.tenant_id,
        "RECONCILE_REALM": sandbox.realm,
        "RECONCILE_TOKEN": token,
        "NO_COLOR": "1",
        **extra,
    }


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconcile", *args],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + ENOUGH
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_dribbling_server_cannot_hold_a_read_beyond_the_timeout(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """One byte every 0.3 s keeps every socket read under a 1 s timeout: before, the
    ticket's ~2 KB took ten minutes. Now the whole answer must come within 1 s."""
    sandbox = sandbox_factory(demo=True, slow_body_ms=300, slow_routes=("get",))
    (tmp_path / "m.yaml").write_text(MANIFEST)
    env = env_for(sandbox, RECONCILE_TIMEOUT="1", RECONCILE_RETRIES="1")
    process = start(["plan", "m.yaml"], env, tmp_path)
    try:
        out, err = process.communicate(timeout=ENOUGH)
    finally:
        process.kill()
        process.communicate()  # reap it and close its pipes, whatever happened
    assert process.returncode == 1, err
    assert "REQ-0509" in out + err
    assert "no answer before the timeout" in out + err, out + err
    assert "Traceback" not in err
    assert 1 <= sandbox.stats()["by_route"]["get"] <= 2  # at most the first try and a retry


@pytest.mark.slow  # the write in flight gets apply's full grace (INTERRUPT_GRACE, 2 s)
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_apply_while_a_write_answer_is_stuck(
    sandbox_factory: Any, tmp_path: Path, signum: int, status: int
) -> None:
    """The PATCH commits, its answer dribbles (for minutes, within every read timeout).
    The signal ends the run within seconds and the write is reported as of unknown
    outcome; the journal says so too."""
    sandbox = sandbox_factory(demo=True, slow_body_ms=500, slow_routes=("update",))
    (tmp_path / "m.yaml").write_text(MANIFEST)
    process = start(
        ["apply", "m.yaml", "--auto-approve", "--journal", "j.jsonl"], env_for(sandbox), tmp_path
    )
    try:
        wait_until(lambda: sandbox.stats()["writes"]["committed"] == 1, "the PATCH to commit")
        process.send_signal(signum)
        out, err = process.communicate(timeout=ENOUGH)
    finally:
        process.kill()
        process.communicate()  # reap it and close its pipes, whatever happened
    assert process.returncode == status, err
    assert "REQ-0509: outcome unknown: update of REQ-0509: the run was interrupted" in err, err
    assert "Apply: 0 updated, 1 failed" in out
    assert "Traceback" not in err
    location = field_ids(sandbox)["location"]
    assert sandbox.store.get("REQ-0509")["data"][location] == "Lab 12"  # it had landed
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    statuses = [json.loads(line).get("status") for line in lines]
    assert "unknown" in statuses and "updated" not in statuses


def test_ctrl_c_ends_a_plan_while_reads_are_stuck(sandbox_factory: Any, tmp_path: Path) -> None:
    """Before: Ctrl-C reached the main thread, but the pool waited for the stuck reads."""
    sandbox = sandbox_factory(demo=True, slow_body_ms=500, slow_routes=("get",))
    tickets = [f"REQ-{n:04d}" for n in range(501, 509)]
    body = "".join(f"  - id: {t}\n    fields:\n      location: Lab\n" for t in tickets)
    (tmp_path / "m.yaml").write_text("tickets:\n" + body)
    process = start(["plan", "m.yaml"], env_for(sandbox), tmp_path)
    try:
        wait_until(lambda: sandbox.stats()["by_route"].get("get", 0) >= 2, "reads to start")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=ENOUGH)
    finally:
        process.kill()
        process.communicate()  # reap it and close its pipes, whatever happened
    assert process.returncode == 130, err
    assert "Interrupted." in err and "Traceback" not in err
    assert out == ""


def test_a_reader_that_raises_ends_the_reads_in_flight_before_its_error_arrives(
    sandbox_factory: Any,
) -> None:
    """Before: an error in the caller's hands while the fan-out waited at a ``yield`` left
    it open (the traceback held it): its threads went on reading the other tickets, and
    a Ctrl-C that came then hung ``plan`` at exit, waiting for them."""
    sandbox = sandbox_factory(demo=True, slow_body_ms=1, slow_routes=("get",))
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    ids = [f"REQ-{n:04d}" for n in range(501, 521)]

    def take(object_id: str, read: object) -> object:
        raise RuntimeError(f"the caller failed on {object_id}")

    with TicketingClient(settings, StaticToken(sandbox.token())) as client:
        with pytest.raises(RuntimeError, match="the caller failed") as caught:
            Manager(client, parallelism=2).read_each(ids, take, bulk=False)
        # The error is still held here, and so is the frame that ran the reads.
        assert caught.value is not None
        assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
        started = sandbox.stats()["by_route"]["get"]
    assert started <= 2 + 1  # the reads in flight when it failed, and none after


@pytest.mark.parametrize("cut", ["abort", "deadline"])
def test_a_connection_cut_off_while_connecting_is_shut_once_connected(cut: str) -> None:
    """Before: cut off before its socket existed, a connection was forgotten and its read
    could then outlive the run (a Ctrl-C during plan hung under load)."""
    watchdog = _Watchdog(timeout=0.0 if cut == "deadline" else 60.0)
    connecting = SimpleNamespace(sock=None)
    watchdog.arm(connecting)
    if cut == "abort":
        watchdog.abort()
    else:
        wait_until(lambda: watchdog._cut_while_connecting, "the deadline to pass")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        connecting.sock = ours
        watchdog.connected(connecting)
        assert ours.recv(1) == b""  # shut down: the blocked read would end at once
    watchdog.close()
