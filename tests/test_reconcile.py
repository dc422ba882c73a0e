"""End to end: plan, apply and drift through the CLI against the sandbox over real HTTP.

Assertions read the sandbox's own counters and state, not the client's word.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN

from sandbox_api import edit_by_hand, field_ids, list_tickets, live, patches_by_ticket

MANIFEST = """\
tickets:
  - id: REQ-0509          # network: live priority Low, location "Berlin office"
    fields:
      priority: High
      location: Berlin office
  - id: REQ-0501          # network: live priority Low
    fields:
      priority: Medium
  - id: REQ-0513          # network: live priority High (already as declared)
    fields:
      priority: High
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_shows_exactly_the_differing_fields(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    result = cli("plan", "m.yaml", "--format", "json")
    plan = json.loads(result.stdout)
    assert plan["summary"] == {"create": 0, "update": 2, "unchanged": 1, "error": 0}
    changes = {c["id"]: c for c in plan["changes"]}
    assert sorted(changes) == ["REQ-0501", "REQ-0509"]
    assert [(f["name"], f["before"], f["after"]) for f in changes["REQ-0509"]["fields"]] == [
        ("priority", "Low", "High")
    ]
    ids = field_ids(sandbox, "REQ")
    assert changes["REQ-0509"]["patch"] == {
        "etag": live(sandbox, "REQ-0509")["etag"],
        "ticketUpdate": {ids["priority"]: "High"},
    }
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


def test_text_plan_reads_like_terraform(cli):
    write(Path("m.yaml"), MANIFEST)
    result = cli("plan", "m.yaml")
    assert '~ priority: "Low" → "High"' in result.stdout
    assert result.stdout.rstrip().endswith("Plan: 2 to update, 1 unchanged.")
    assert result.stdout.index("REQ-0501") < result.stdout.index("REQ-0509")


def test_apply_sends_one_minimal_patch_per_differing_ticket_then_nothing(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve")
    assert "Apply: 2 updated, 0 failed, 1 unchanged." in result.stdout
    assert patches_by_ticket(sandbox) == {"REQ-0501": 1, "REQ-0509": 1}
    ids = field_ids(sandbox, "REQ")
    sent = {entry["object_id"]: entry["fields"] for entry in sandbox.stats()["writes"]["log"]}
    assert sent == {"REQ-0501": [ids["priority"]], "REQ-0509": [ids["priority"]]}
    assert live(sandbox, "REQ-0509")["data"][ids["priority"]] == "High"
    assert live(sandbox, "REQ-0509")["lastUpdatedBy"] == sandbox.stats()["writes"]["log"][0]["by"]

    sandbox.reset_stats()
    again = cli("apply", "m.yaml", "--auto-approve")
    assert "No changes" in again.stdout
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0
    cli("plan", "m.yaml", "--detailed-exitcode", expect=0)


def test_plan_detailed_exitcode_is_2_when_changes_are_pending(cli):
    write(Path("m.yaml"), MANIFEST)
    cli("plan", "m.yaml", "--detailed-exitcode", expect=2)


def test_drift_exits_2_after_a_managed_field_changes_and_names_the_editor(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    cli("apply", "m.yaml", "--auto-approve")
    cli("drift", "m.yaml", expect=0)

    ids = field_ids(sandbox, "REQ")
    edit_by_hand(sandbox, "REQ-0509", {ids["priority"]: "Critical"}, who="kim.nguyen")
    result = cli("drift", "m.yaml", expect=2)
    assert "REQ-0509" in result.stdout and "kim.nguyen" in result.stdout
    assert 'declared "High", live "Critical"' in result.stdout
    report = json.loads(cli("drift", "m.yaml", "--format", "json", expect=2).stdout)
    assert report["changes"][0]["last_updated_by"] == "kim.nguyen"


def test_drift_ignores_changes_to_unmanaged_fields(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    cli("apply", "m.yaml", "--auto-approve")
    ids = field_ids(sandbox, "REQ")
    edit_by_hand(sandbox, "REQ-0509", {ids["summary"]: "Renamed in the UI"})
    cli("drift", "m.yaml", expect=0)


def test_saved_plan_applies_what_was_reviewed_and_goes_stale(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    cli("plan", "m.yaml", "--out", "plan.json")
    saved = json.loads(Path("plan.json").read_text())
    assert saved["target"]["base_url"] == sandbox.base_url

    ids = field_ids(sandbox, "REQ")
    # Unrelated edit: the etag moves but the planned field still holds its "before".
    edit_by_hand(sandbox, "REQ-0501", {ids["summary"]: "Someone else's edit"})
    # Conflicting edit: the planned field moved since review.
    edit_by_hand(sandbox, "REQ-0509", {ids["priority"]: "Medium"})
    sandbox.reset_stats()

    result = cli("apply", "--plan", "plan.json", expect=1)
    assert "REQ-0509" in result.stderr and "stale" in result.stderr
    assert "re-run plan" in result.stderr
    assert live(sandbox, "REQ-0501")["data"][ids["priority"]] == "Medium"
    assert live(sandbox, "REQ-0501")["data"][ids["summary"]] == "Someone else's edit"
    assert live(sandbox, "REQ-0509")["data"][ids["priority"]] == "Medium"
    assert "REQ-0509" not in sandbox.stats()["writes"]["writes_by_ticket"]


def test_saved_plan_refuses_another_target(cli, sandbox, sandbox_factory):
    write(Path("m.yaml"), MANIFEST)
    cli("plan", "m.yaml", "--out", "plan.json")
    other = sandbox_factory(demo=True)
    result = cli(
        "apply", "--plan", "plan.json", expect=1,
        RECONCILE_BASE_URL=other.base_url, RECONCILE_TOKEN=other.token(),
    )  # fmt: skip
    assert "refusing to apply it to" in result.stderr
    assert other.stats()["by_method"].get("PATCH", 0) == 0


def test_racing_writer_is_rebased_without_losing_its_change(sandbox, tmp_path):
    """Direct apply: ETAG_MISMATCH → re-read, re-diff, re-PATCH with the new etag."""
    ids = field_ids(sandbox, "REQ")
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    with TicketingClient(settings, StaticToken(sandbox.token())) as client:
        manager = Manager(client, parallelism=2)
        desired = manager.load([write(tmp_path / "m.yaml", MANIFEST)])
        plan = manager.plan(desired)
        edit_by_hand(sandbox, "REQ-0509", {ids["summary"]: "Racing writer"})
        report = manager.apply(plan, desired)
    assert report.counts["updated"] == 2
    after = live(sandbox, "REQ-0509")["data"]
    assert after[ids["priority"]] == "High"
    assert after[ids["summary"]] == "Racing writer"
    assert sandbox.stats()["writes"]["etag_mismatches"] == 1


FOREIGN = MANIFEST + (
    "  - id: REQ-0503          # finance: the demo writer may not edit it\n"
    "    fields:\n      priority: Low\n"
)


def test_plan_shows_another_teams_ticket_as_an_error_naming_the_teams(cli, sandbox):
    """A writer token's ticket of a team it is not in: an error of the plan, not an update
    that fails at apply; apply then writes nothing."""
    write(Path("m.yaml"), FOREIGN)
    result = cli("plan", "m.yaml", "--format", "json", expect=1)
    changes = {c["id"]: c for c in json.loads(result.stdout)["changes"]}
    error = changes["REQ-0503"]
    assert error["action"] == "error" and changes["REQ-0509"]["action"] == "update"
    assert error["error"] == (
        "the token may not update this ticket: it belongs to team 'finance', "
        "the token's teams are network, service-desk"
    )
    applied = cli("apply", "m.yaml", "--auto-approve", expect=1)
    assert "Nothing was written" in applied.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0
    # drift is not apply: whoever may fix it, a ticket that differs has drifted.
    drifted = cli("drift", "m.yaml", "--format", "json", expect=2)
    assert {c["id"] for c in json.loads(drifted.stdout)["changes"]} >= {"REQ-0503"}
    # An admin token may update any ticket.
    admin = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    cli("plan", "m.yaml", RECONCILE_TOKEN=admin)


def test_permission_failure_on_one_ticket_leaves_the_others_applied(cli, sandbox_factory):
    """A refusal the plan cannot foresee (the server's answers show no team, but it keeps
    REQ-0503 in finance) fails that ticket at apply; the others are written."""
    write(Path("m.yaml"), FOREIGN)
    sandbox = sandbox_factory(demo=True, get_set={"team": None})
    env = {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": sandbox.token()}
    result = cli("apply", "m.yaml", "--auto-approve", expect=1, **env)
    assert "REQ-0503" in result.stderr
    assert "401 USER_PERMISSION_FAILURE" in result.stderr
    assert "You do not have the permission to update the ticket" in result.stderr
    assert "Apply: 2 updated, 1 failed, 1 unchanged." in result.stdout
    assert patches_by_ticket(sandbox)["REQ-0509"] == 1


def test_max_changes_refuses_to_write_anything(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve", "--max-changes", "1", expect=1)
    assert "--max-changes" in result.stderr and "2 tickets would change" in result.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


def test_protected_field_needs_allow_protected(cli, sandbox):
    write(Path("m.yaml"), "protected: [priority]\n" + MANIFEST)
    result = cli("apply", "m.yaml", "--auto-approve", expect=1)
    assert "--allow-protected" in result.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0
    cli("apply", "m.yaml", "--auto-approve", "--allow-protected")
    assert patches_by_ticket(sandbox) == {"REQ-0501": 1, "REQ-0509": 1}


def test_apply_without_a_terminal_refuses_without_auto_approve(cli, sandbox):
    write(Path("m.yaml"), MANIFEST)
    result = cli("apply", "m.yaml", expect=1)
    assert "--auto-approve" in result.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


def test_unknown_ticket_is_a_plan_error_and_apply_writes_nothing(cli, sandbox):
    write(Path("m.yaml"), MANIFEST + "  - id: REQ-9999\n    fields:\n      priority: Low\n")
    result = cli("plan", "m.yaml", expect=1)
    assert "REQ-9999" in result.stdout and "Ticket not found (REQ-9999)" in result.stdout
    cli("apply", "m.yaml", "--auto-approve", expect=1)
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


def test_usage_errors_exit_1_not_2(cli):
    result = cli("plan", "--no-such-flag", expect=1)
    assert "No such option" in result.stderr
    cli("no-such-command", expect=1)


def test_manifest_error_names_file_and_line_and_sends_nothing(cli, sandbox):
    write(Path("m.yaml"), "tickets:\n  - id: REQ-0509\n    fields:\n      prority: High\n")
    result = cli("apply", "m.yaml", "--auto-approve", expect=1)
    assert "m.yaml:4" in result.stderr and "prority" in result.stderr
    assert "priority" in result.stderr  # the suggestion
    assert "Traceback" not in result.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


@pytest.mark.slow  # it must outlive real 2 s tokens: the CLI's token source keeps real time
def test_client_credentials_token_is_refreshed_during_a_long_apply(cli, sandbox_factory):
    """Several hundred tickets, tokens that live 2 s: a handful of token requests, no 401.
    (The same without sleeping, on a shared ManualClock: test_client.py.)"""
    sandbox = sandbox_factory(demo=True, tickets=300, token_lifetime=2, latency_ms=15)
    text_field = {"REQ": "summary", "CTC": "title", "PMT": "payee"}
    listed = [t["object_id"] for t in list_tickets(sandbox)]
    lines = ["tickets:"]
    for object_id in listed:
        field = text_field[object_id.split("-")[0]]
        lines += [f"  - id: {object_id}", "    fields:", f"      {field}: rotated"]
    write(Path("m.yaml"), "\n".join(lines) + "\n")
    env = {
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TOKEN": None,
        "RECONCILE_CLIENT_ID": DEMO_ADMIN.client_id,
        "RECONCILE_CLIENT_SECRET": DEMO_ADMIN.secret,
    }
    result = cli("apply", "m.yaml", "--auto-approve", "--parallelism", "2", **env)
    assert f"Apply: {len(listed)} updated, 0 failed, 0 unchanged." in result.stdout
    by_route = sandbox.stats()["by_route"]
    assert by_route["update"] == len(listed) >= 300
    assert 2 <= by_route["token"] <= 6, by_route
    assert "401" not in sandbox.stats()["by_method_status"].get("PATCH", {})


def test_apply_with_nothing_to_change_still_ends_with_its_summary(cli, sandbox):
    write(Path("m.yaml"), "tickets:\n  - id: REQ-0513\n    fields:\n      priority: High\n")
    result = cli("apply", "m.yaml")  # no terminal, no --auto-approve: nothing to confirm
    assert result.stdout.splitlines()[-1] == "Apply: 0 updated, 0 failed, 1 unchanged."
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0
