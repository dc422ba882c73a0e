"""SIGTERM to ``reconcile watch --self-heal`` mid-heal: the writes in flight finish and
are journaled, no write starts after the signal, and the process exits 0.

A real subprocess against a sandbox with latency; the signal is sent once the sandbox
has committed a few of the self-heal writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reconcile.sandbox import DEMO_ADMIN

from sandbox_api import list_tickets

LATENCY_MS = 100
PARALLELISM = 4


def committed(sandbox: Any) -> list[dict[str, Any]]:
    return [e for e in sandbox.stats()["writes"]["log"] if e["action"] == "update"]


def test_sigterm_mid_self_heal_exits_0_with_no_write_started_after_it(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(demo=True, tickets=120, latency_ms=LATENCY_MS)
    tickets = [t["object_id"] for t in list_tickets(sandbox) if t["object_id"].startswith("REQ")]
    (tmp_path / "m.yaml").write_text(
        "tickets:\n"
        + "".join(f"  - id: {t}\n    fields:\n      location: Healed\n" for t in tickets),
        encoding="utf-8",
    )
    token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))}
    env.update(
        RECONCILE_BASE_URL=sandbox.base_url,
        RECONCILE_TENANT_ID=sandbox.tenant_id,
        RECONCILE_REALM=sandbox.realm,
        RECONCILE_TOKEN=token,
        RECONCILE_PARALLELISM=str(PARALLELISM),
    )
    sandbox.reset_stats()
    child = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "watch", "m.yaml", "--self-heal",
         "--interval", "0.2", "--listen", "127.0.0.1:0", "--journal", "journal.jsonl"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(committed(sandbox)) < PARALLELISM and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "SIGTERM received" in stderr
    writes = committed(sandbox)
    assert PARALLELISM <= len(writes) < len(tickets), "the signal came too late to test"
    assert sandbox.stats()["writes"]["patches"] == len(writes)  # no write started after
    lines = (tmp_path / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    journal = [json.loads(line) for line in lines]
    intents = {e["seq"]: e for e in journal if e["kind"] == "intent"}
    outcomes = [e for e in journal if e["kind"] == "outcome"]
    assert {(e["ticket"], intents[e["seq"]]["etag_before"], e["etag_after"]) for e in outcomes} == {
        (w["object_id"], w["etag_before"], w["etag_after"]) for w in writes
    }
    assert len(intents) == len(outcomes)  # every write in flight was resolved and journaled
