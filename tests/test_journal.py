"""The journal and undo never lose data: write-ahead intents survive SIGKILL, a journal is
bound to its target, undo restores what the landed write replaced, and a damaged
journal is a one-line error.

Everything runs against the sandbox over HTTP; the sandbox's counters and write log
tell which writes committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.errors import PlanError
from reconcile.journal import Journal, Status, read_journal
from reconcile.manager import Manager
from reconcile.plan import FieldChange, Target, TicketChange
from reconcile.sandbox import DEMO_ADMIN, Sandbox

from sandbox_api import edit_by_hand, field_ids, live, patches_by_ticket

PARALLELISM = 4
HELD_TICKET = "REQ-0503"


def admin_env(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    """The environment of a `reconcile` subprocess writing to ``sandbox`` as the demo admin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))}
    return {
        **env,
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TENANT_ID": sandbox.tenant_id,
        "RECONCILE_REALM": sandbox.realm,
        "RECONCILE_TOKEN": sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=()),
        "NO_COLOR": "1",
        **extra,
    }


def held(sandbox: Sandbox) -> int:
    faults = sandbox.stats()["faults"]
    return faults.get("held_before_write", 0) + faults.get("held_after_commit", 0)


def committed(sandbox: Sandbox) -> set[str]:
    return {w["object_id"] for w in sandbox.stats()["writes"]["log"] if w["action"] == "update"}


def test_sigkill_mid_apply_leaves_every_write_that_may_have_landed_to_undo(
    sandbox_factory, tmp_path: Path
) -> None:
    """Two writes commit and are answered; then every committed write's answer is held,
    and one ticket's PATCH is held before it commits. Once all the run's workers wait
    on the sandbox, the run is killed with SIGKILL: the journal must hold an intent for
    every committed write, and undo restores exactly those tickets."""
    sandbox = sandbox_factory(demo=True, hold_after_commits=2, hold_tickets=(HELD_TICKET,))
    location = field_ids(sandbox)["location"]
    tickets = [f"REQ-{n:04d}" for n in range(501, 513)]
    before = {t: live(sandbox, t)["data"].get(location, "") for t in tickets}
    (tmp_path / "m.yaml").write_text(
        "tickets:\n"
        + "".join(f"  - id: {t}\n    fields:\n      location: After the kill\n" for t in tickets),
        encoding="utf-8",
    )
    # A timeout far beyond the test: the held answers never make the run re-read.
    env = admin_env(sandbox, RECONCILE_PARALLELISM=str(PARALLELISM), RECONCILE_TIMEOUT="120")
    child = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "apply", "m.yaml", "--auto-approve",
         "--journal", "journal.jsonl"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60  # a bound for a broken run, not a timing assumption
    while held(sandbox) < PARALLELISM and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    landed = committed(sandbox)
    child.kill()
    _, stderr = child.communicate(timeout=30)
    sandbox.release_held()
    assert held(sandbox) == PARALLELISM, stderr
    assert len(landed) == 2 + PARALLELISM - 1  # answered, then held after committing
    assert HELD_TICKET not in landed

    journal = read_journal(tmp_path / "journal.jsonl")
    unanswered = {w.ticket for w in journal.writes if w.status is None}
    answered = {w.ticket for w in journal.writes if w.status is Status.UPDATED}
    assert len(answered) == 2 and answered <= landed
    assert unanswered == (landed - answered) | {HELD_TICKET}

    sandbox.reset_stats()
    undo = subprocess.run(
        [sys.executable, "-m", "reconcile", "undo", "--journal", "journal.jsonl",
         "--auto-approve"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert undo.returncode == 0, undo.stderr
    assert f"Apply: {len(landed)} updated, 0 failed" in undo.stdout
    (line,) = [w.where.rpartition(":")[2] for w in journal.writes if w.ticket == HELD_TICKET]
    assert undo.stderr.splitlines() == [
        f"= {HELD_TICKET}: the write at journal.jsonl:{line} had no known outcome; the ticket "
        "holds the values from before it: it did not land"
    ]
    assert set(patches_by_ticket(sandbox)) == landed
    assert {t: live(sandbox, t)["data"].get(location, "") for t in tickets} == before


def test_undo_refuses_a_journal_made_against_another_target(cli, sandbox, sandbox_factory):
    """A journal of one sandbox, undone against another that holds the same values (same
    tenant and realm, another base URL): refused before any write."""
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    other = sandbox_factory(demo=True)
    elsewhere = {"RECONCILE_BASE_URL": other.base_url, "RECONCILE_TOKEN": other.token()}
    cli("apply", "m.yaml", "--auto-approve", **elsewhere)
    other.reset_stats()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1, **elsewhere)
    assert result.stderr.splitlines() == [
        f"Error: journal.jsonl was made for {sandbox.base_url} (tenant {sandbox.tenant_id}, "
        f"realm {sandbox.realm}); refusing to undo it on {other.base_url} (tenant "
        f"{other.tenant_id}, realm {other.realm})"
    ]
    assert other.stats()["writes"]["patches"] == 0
    assert live(other, "REQ-0509")["data"][field_ids(other)["priority"]] == "Critical"


def test_undo_restores_the_foreign_value_the_landed_write_replaced(
    cli, sandbox_factory, tmp_path: Path
) -> None:
    """The first attempt gets a 500 without landing (outcome unknown); meanwhile another
    writer set priority to Medium; the re-diffed write that lands replaces Medium. Undo
    puts back Medium, not the value from before the attempt that never landed."""
    sandbox = sandbox_factory(demo=True, fail_writes=1)
    priority = field_ids(sandbox)["priority"]
    original = live(sandbox, "REQ-0509")["data"][priority]
    assert original not in ("Medium", "Critical")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n")
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    token = StaticToken(sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=()))
    with TicketingClient(settings, token) as client:
        manager = Manager(client, parallelism=1)
        desired = manager.load([manifest])
        plan = manager.plan(desired)
        foreign_edit(sandbox, "REQ-0509", {priority: "Medium"})
        with Journal(tmp_path / "journal.jsonl") as journal:
            report = manager.apply(plan, desired, journal=journal)
    assert [o.status for o in report.outcomes] == ["updated"]
    writes = read_journal(tmp_path / "journal.jsonl").writes
    assert [(w.status, w.fields[0].before) for w in writes] == [
        (Status.UNKNOWN, original),
        (Status.UPDATED, "Medium"),
    ]

    env = {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": sandbox.token()}
    cli("undo", "--journal", "journal.jsonl", "--auto-approve", **env)
    assert live(sandbox, "REQ-0509")["data"][priority] == "Medium"


def foreign_edit(sandbox: Sandbox, object_id: str, values: dict[str, Any]) -> None:
    """Another writer's change, straight into the sandbox's store (past its write faults)."""
    ticket = sandbox.store.get(object_id)
    assert ticket is not None
    data = {**ticket["data"], **values}
    assert sandbox.store.compare_and_swap(object_id, ticket["etag"], data, "jdoe") is not None


def test_a_deeply_nested_journal_is_a_one_line_error(cli, sandbox):
    Path("journal.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    sandbox.reset_stats()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert result.stderr.splitlines() == [
        "Error: journal.jsonl:1: not a journal line: nested deeper than 64 levels"
    ]
    assert sandbox.stats()["requests"] == 0


def journal_of(sandbox: Sandbox, path: Path) -> Journal:
    journal = Journal(path)
    journal.begin_run(Target(sandbox.base_url, sandbox.tenant_id, sandbox.realm))
    return journal


def test_a_damaged_record_names_its_line(cli, sandbox, tmp_path: Path):
    with journal_of(sandbox, tmp_path / "journal.jsonl") as journal:
        change = TicketChange("REQ-0509", "update", "e1", (FieldChange("f1", "priority", 1, 2),))
        journal.intent(change, "e1")
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    outcome = {**json.loads(lines[1]), "kind": "outcome", "status": "landed"}
    lines.append(json.dumps(outcome))
    (tmp_path / "journal.jsonl").write_text("\n".join(lines) + "\n")
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert result.stderr.splitlines() == [
        "Error: journal.jsonl:3: 'status' must be one of updated, created, etag_mismatch, "
        "failed, unknown, not 'landed'"
    ]


def test_created_tickets_are_reported_as_not_removable(cli, sandbox, tmp_path: Path):
    """Records of action ``create`` (what ``apply`` writes when it creates a declared
    ticket): undo cannot delete a ticket through the API, so it says so, per ticket."""
    created = TicketChange("", "create", None, (FieldChange("f1", "summary", "", "New"),))
    with journal_of(sandbox, tmp_path / "journal.jsonl") as journal:
        seq = journal.intent(created, None, key="core-switch")
        journal.outcome(seq, "REQ-0517", Status.CREATED, "etag-1")
        journal.intent(created, None, key="edge-switch")  # no answer
    sandbox.reset_stats()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert result.stderr.splitlines() == [
        "! REQ-0517 (key core-switch): created by the apply, not removed: the API cannot "
        "delete tickets; remove it by hand if it should go",
        "! journal.jsonl:4: a ticket (key edge-switch) may have been created (no answer "
        "came), not removed: the API cannot delete tickets; look for it by hand",
    ]
    assert result.stdout == "Nothing to restore.\n"
    assert sandbox.stats()["writes"]["patches"] == 0


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_run_starts_a_line_of_its_own(cli, sandbox):
    """A machine that died mid-write leaves the last line cut short: an intent that never
    reached the disk whole was never sent (intents are fsynced before the PATCH), and a
    torn outcome leaves its intent "may have landed"; undo skips the torn line, and the
    next run's lines do not glue onto it."""
    torn = '{"journal_version": 2, "kind": "intent", "ticket": "REQ-05'
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    with Path("journal.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(torn)
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0501\n    fields:\n      priority: Critical\n")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    lines = Path("journal.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[3] == torn and json.loads(lines[4])["kind"] == "run"
    with pytest.raises(PlanError, match=r"^journal.jsonl:4: not a journal line"):
        read_journal("journal.jsonl")  # a torn line before others is damage, not a crash

    del lines[3]
    Path("journal.jsonl").write_text("\n".join(lines) + "\n" + torn, encoding="utf-8")
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    assert "Apply: 2 updated, 0 failed" in result.stdout


@pytest.mark.parametrize("landed", [True, False], ids=["landed", "never-landed"])
def test_a_killed_second_run_is_undone_to_before_the_first_whether_or_not_it_landed(
    cli, sandbox, landed: bool
):
    """Run 1 set priority to Critical; run 2 was killed after its intent to set High.
    Whether that write landed or not, the live value is one the apply may have left,
    and undo restores the value from before run 1."""
    priority = field_ids(sandbox)["priority"]
    original = live(sandbox, "REQ-0509")["data"][priority]
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    etag = live(sandbox, "REQ-0509")["etag"]
    second = TicketChange(
        "REQ-0509", "update", etag, (FieldChange(priority, "priority", "Critical", "High"),)
    )
    with journal_of(sandbox, Path("journal.jsonl")) as journal:
        journal.intent(second, etag)  # then killed: no outcome
    if landed:
        edit_by_hand(sandbox, "REQ-0509", {priority: "High"})
    cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    assert live(sandbox, "REQ-0509")["data"][priority] == original
