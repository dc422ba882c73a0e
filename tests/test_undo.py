"""``reconcile undo --journal FILE`` against the sandbox: restore what apply overwrote.

Assertions read the sandbox's state and counters: which values the tickets hold and
which tickets were PATCHed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.journal import read_journal
from reconcile.manager import Manager
from reconcile.sandbox import Sandbox
from reconcile.undo import plan_undo

from sandbox_api import edit_by_hand, field_ids, live, patches_by_ticket

MANIFEST = """\
tickets:
  - id: REQ-0509
    fields:
      priority: Critical
      tags: [freeze, q4]
      location: Bench room 1
  - id: REQ-0501
    fields:
      priority: Critical
      urgency: High
"""


def target_of(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox as a journal's run line records it."""
    return {"base_url": sandbox.base_url, "tenant_id": sandbox.tenant_id, "realm": sandbox.realm}


def set_values(data: dict[str, Any]) -> dict[str, Any]:
    """The data without empty values: a key missing from live data is its field's empty
    form, and the API can only set a field to that form, not remove the key."""
    return {k: v for k, v in data.items() if v not in ("", None, [])}


@pytest.fixture
def applied(cli, sandbox) -> dict[str, dict[str, Any]]:
    """Apply MANIFEST with a journal; return the tickets' data as they were before."""
    before = {i: live(sandbox, i)["data"] for i in ("REQ-0509", "REQ-0501")}
    Path("m.yaml").write_text(MANIFEST, encoding="utf-8")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    sandbox.reset_stats()
    return before


def test_undo_restores_every_overwritten_value_then_has_nothing_left(cli, sandbox, applied):
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    assert "Plan: 2 to update" in result.stdout
    assert "Apply: 2 updated, 0 failed" in result.stdout
    for object_id, data in applied.items():
        assert set_values(live(sandbox, object_id)["data"]) == set_values(data)
    assert patches_by_ticket(sandbox) == {"REQ-0509": 1, "REQ-0501": 1}
    assert sandbox.stats()["writes"]["patches_without_etag"] == 0

    sandbox.reset_stats()
    again = cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    assert again.stdout == "Nothing to restore.\n"
    assert patches_by_ticket(sandbox) == {}


def test_a_field_first_brought_under_management_goes_back_to_empty(cli, sandbox, applied):
    fields = field_ids(sandbox)
    assert fields["tags"] not in applied["REQ-0509"]  # the demo data holds no tags here
    cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    assert live(sandbox, "REQ-0509")["data"][fields["tags"]] == []


def test_a_ticket_changed_since_is_reported_and_the_others_restored(cli, sandbox, applied):
    fields = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0509", {fields["priority"]: "Medium"})
    sandbox.reset_stats()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert (
        "! REQ-0509: not restored: priority changed since the apply (another writer); "
        "review the ticket by hand" in result.stderr
    )
    assert patches_by_ticket(sandbox) == {"REQ-0501": 1}
    assert set_values(live(sandbox, "REQ-0501")["data"]) == set_values(applied["REQ-0501"])
    data = live(sandbox, "REQ-0509")["data"]
    assert data[fields["priority"]] == "Medium"
    assert data[fields["location"]] == "Bench room 1"


def test_another_writers_change_to_other_fields_survives_the_undo(cli, sandbox, applied):
    fields = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0509", {fields["summary"]: "Edited after the apply"})
    cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    data = live(sandbox, "REQ-0509")["data"]
    assert data[fields["summary"]] == "Edited after the apply"
    assert data[fields["priority"]] == applied["REQ-0509"][fields["priority"]]
    assert data[fields["tags"]] == []


def test_a_write_racing_the_undo_is_not_overwritten(sandbox, applied, reconcile_env):
    """Between the undo's read and its PATCH, another writer changes a journaled field:
    the etag guard makes the PATCH fail, the re-read shows the field moved, and the
    ticket is reported stale instead of being written."""
    fields = field_ids(sandbox)
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    token = StaticToken(str(reconcile_env["RECONCILE_TOKEN"]), "test")
    with TicketingClient(settings, token) as client:
        manager = Manager(client, parallelism=2)
        undo = plan_undo(manager, read_journal("journal.jsonl"))
        assert [c.id for c in undo.plan.updates] == ["REQ-0501", "REQ-0509"]
        edit_by_hand(sandbox, "REQ-0509", {fields["location"]: "Moved meanwhile"})
        report = manager.apply(undo.plan)
    outcomes = {o.id: o for o in report.outcomes}
    assert outcomes["REQ-0501"].status == "updated"
    assert outcomes["REQ-0509"].status == "stale"
    assert "location" in (outcomes["REQ-0509"].message or "")
    assert live(sandbox, "REQ-0509")["data"][fields["location"]] == "Moved meanwhile"


def test_sensitive_fields_are_reported_not_restored(cli, sandbox):
    fields = field_ids(sandbox)
    before = live(sandbox, "REQ-0509")["data"]
    Path("m.yaml").write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n      location: Secret room\n"
        "      priority: Critical\n    sensitive: [location]\n",
        encoding="utf-8",
    )
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    assert "Secret room" not in Path("journal.jsonl").read_text()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert "! REQ-0509 field 'location': sensitive, not restored" in result.stderr
    data = live(sandbox, "REQ-0509")["data"]
    assert data[fields["location"]] == "Secret room"
    assert data[fields["priority"]] == before[fields["priority"]]


def test_undo_asks_first_and_refuses_without_a_terminal(cli, sandbox, applied):
    result = cli("undo", "--journal", "journal.jsonl", expect=1)
    assert "Plan: 2 to update" in result.stdout
    assert "refusing to apply without confirmation" in result.stderr
    assert patches_by_ticket(sandbox) == {}


def test_journal_records_whole_field_values_with_test_operations(sandbox, applied):
    fields = field_ids(sandbox)
    entries = [json.loads(line) for line in Path("journal.jsonl").read_text().splitlines()]
    entry = next(e for e in entries if e["kind"] == "intent" and e["ticket"] == "REQ-0509")
    path = f"/data/{fields['tags']}"
    assert {"op": "replace", "path": path, "value": ["freeze", "q4"]} in entry["patch"]
    assert {"op": "test", "path": path, "value": ["freeze", "q4"]} in entry["inverse"]
    assert {
        "op": "replace",
        "path": path,
        "value": [],
    } in entry["inverse"]


def test_a_damaged_journal_is_refused_with_its_line_before_any_request(cli, sandbox):
    run = {"journal_version": 2, "kind": "run", "run": "r1", "target": target_of(sandbox)}
    Path("journal.jsonl").write_text(json.dumps(run) + "\nnot json\n", encoding="utf-8")
    sandbox.reset_stats()
    result = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert "journal.jsonl:2: not a journal line" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.stats()["requests"] == 0


def test_a_journal_of_several_runs_is_undone_to_before_the_first(cli, sandbox, applied):
    fields = field_ids(sandbox)
    Path("m.yaml").write_text(MANIFEST.replace("Critical", "High"), encoding="utf-8")
    cli("apply", "m.yaml", "--auto-approve", "--journal", "journal.jsonl")
    assert live(sandbox, "REQ-0509")["data"][fields["priority"]] == "High"
    cli("undo", "--journal", "journal.jsonl", "--auto-approve")
    for object_id, data in applied.items():
        assert set_values(live(sandbox, object_id)["data"]) == set_values(data)


def test_undoing_a_protected_field_needs_allow_protected(cli, sandbox):
    fields = field_ids(sandbox)
    before = live(sandbox, "REQ-0509")["data"][fields["priority"]]
    Path("p.yaml").write_text(
        "protected: [priority]\ntickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n"
    )
    cli("apply", "p.yaml", "--auto-approve", "--allow-protected", "--journal", "p.jsonl")
    sandbox.reset_stats()
    refused = cli("undo", "--journal", "p.jsonl", "--auto-approve", expect=1)
    assert "--allow-protected" in refused.stderr
    assert patches_by_ticket(sandbox) == {}
    cli("undo", "--journal", "p.jsonl", "--auto-approve", "--allow-protected")
    assert live(sandbox, "REQ-0509")["data"][fields["priority"]] == before
