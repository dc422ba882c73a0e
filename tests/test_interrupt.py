"""SIGTERM and SIGINT during ``reconcile apply --journal``: writes in flight finish, the
journal matches what the server committed, the exit status says which signal, and a
rerun converges.

``reconcile apply`` runs as a real subprocess against a sandbox with latency, and the
signal is sent once the sandbox has committed a few writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN, Sandbox
from reconcile.sandbox.clock import SystemClock

from sandbox_api import edit_by_hand, field_ids

API = "/api/v2/ticketing"
LATENCY_MS = 100
PARALLELISM = 4


def env_for(sandbox: Sandbox) -> dict[str, str]:
    token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))}
    return {
        **env,
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TENANT_ID": sandbox.tenant_id,
        "RECONCILE_REALM": sandbox.realm,
        "RECONCILE_TOKEN": token,
        "RECONCILE_PARALLELISM": str(PARALLELISM),
        "NO_COLOR": "1",
    }


def req_tickets(sandbox: Sandbox) -> list[str]:
    response = requests.get(
        f"{sandbox.base_url}{API}/ticket",
        params={"page": 1, "size": 500},
        headers=sandbox.headers(),
        timeout=30,
    )
    response.raise_for_status()
    return [t["object_id"] for t in response.json()["data"] if t["object_id"].startswith("REQ")]


def reconcile(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconcile", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


class LatencyUntilSwitchedOff(SystemClock):
    """The wall clock, whose waits (the sandbox's latency) can be switched off: the
    latency keeps writes in flight when the signal comes; the rerun needs none."""

    def __init__(self) -> None:
        self.waits = True

    def sleep(self, seconds: float) -> None:
        if self.waits:
            super().sleep(seconds)


def committed(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in sandbox.stats()["writes"]["log"] if e["action"] == "update"]


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_signal_mid_apply_finishes_in_flight_writes_and_a_rerun_converges(
    sandbox_factory, tmp_path: Path, signum: int, status: int
) -> None:
    clock = LatencyUntilSwitchedOff()
    sandbox = sandbox_factory(clock=clock, demo=True, tickets=120, latency_ms=LATENCY_MS)
    tickets = req_tickets(sandbox)
    assert len(tickets) >= 50  # enough to read them through the list endpoint
    (tmp_path / "m.yaml").write_text(
        "tickets:\n"
        + "".join(f"  - id: {t}\n    fields:\n      location: After the signal\n" for t in tickets),
        encoding="utf-8",
    )
    env = env_for(sandbox)
    sandbox.reset_stats()
    child = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "apply", "m.yaml", "--auto-approve",
         "--journal", "journal.jsonl"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while len(committed(sandbox)) < PARALLELISM and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=30)

    assert child.returncode == status, stderr
    assert "Traceback" not in stderr
    assert "Interrupted: writes in flight were completed; no new write was started." in stderr
    assert stdout.splitlines()[-1].startswith("Apply: ")
    writes = committed(sandbox)
    assert PARALLELISM <= len(writes) < len(tickets), "the signal came too late to test"

    lines = (tmp_path / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    journal = [json.loads(line) for line in lines]
    intents = {e["seq"]: e for e in journal if e["kind"] == "intent"}
    outcomes = [e for e in journal if e["kind"] == "outcome"]
    assert {(e["ticket"], intents[e["seq"]]["etag_before"], e["etag_after"]) for e in outcomes} == {
        (w["object_id"], w["etag_before"], w["etag_after"]) for w in writes
    }
    assert len(intents) == len(outcomes)  # no write was left without its answer
    assert all(e["status"] == "updated" for e in outcomes)
    assert sandbox.stats()["writes"]["patches"] == len(writes)  # no write started after

    clock.waits = False
    rerun = reconcile("apply", "m.yaml", "--auto-approve", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"Apply: {len(tickets) - len(writes)} updated, 0 failed" in rerun.stdout
    check = reconcile("plan", "m.yaml", "--detailed-exitcode", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_an_interrupted_run_resolves_a_lost_race_but_sends_nothing_new(
    sandbox, tmp_path: Path
) -> None:
    """The stop comes while a PATCH is in flight and that PATCH loses a race: the ticket
    is re-read (its outcome resolved) but not re-sent, and is reported as not written."""
    stop = threading.Event()

    class StopDuringWrite(TicketingClient):
        def update_ticket(self, object_id: str, etag: str, ticket_update: dict[str, Any]) -> str:
            stop.set()  # the signal arrives while this write is in flight
            return super().update_ticket(object_id, etag, ticket_update)

    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    token = StaticToken(sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=()))
    with StopDuringWrite(settings, token) as client:
        manager = Manager(client, parallelism=1)
        manifest = tmp_path / "m.yaml"
        manifest.write_text("tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n")
        desired = manager.load([manifest])
        plan = manager.plan(desired)
        _edit_summary(sandbox, "REQ-0509")  # the planned etag is now stale
        sandbox.reset_stats()
        report = manager.apply(plan, desired, stop=stop)
    (outcome,) = report.outcomes
    assert outcome.status == "skipped"
    assert outcome.message == "not written: the run was interrupted before the change was re-sent"
    assert sandbox.stats()["writes"]["patches"] == 1
    assert sandbox.stats()["writes"]["etag_mismatches"] == 1
    assert sandbox.stats()["by_route"]["get"] == 1


def _edit_summary(sandbox: Sandbox, object_id: str) -> None:
    edit_by_hand(sandbox, object_id, {field_ids(sandbox)["summary"]: "Edited meanwhile"})
