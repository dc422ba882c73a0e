"""Declared tickets are created exactly once (issue 13), against the sandbox over HTTP.

A manifest entry with a ``key`` and no ``id`` is created with the key in the key field
(the demo's ``external_ref``), its id is written back into the entry, and whatever
happens in between (a lost answer, a racing apply, a died write-back) the key names
one ticket, never two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from reconcile.sandbox import Sandbox

from sandbox_api import field_ids, list_tickets

KEY_FIELD = {"RECONCILE_KEY_FIELD": "external_ref"}
KEY = "onboarding-alice"
REQUESTER = "1977896d-1f2a-402c-8735-6c22af73411b"
MANIFEST = f"""\
# Onboarding, as code: tickets that exist because git says so.
tickets:
  # the new starter: created once, then found by its key
  - key: {KEY}   # stable, unique across the manifests
    type: REQ
    team: service-desk
    fields:
      summary: Onboard Alice   # shown in the queue
      priority: Medium
      status: New
      requester: {REQUESTER}
"""
WRITTEN_BACK = MANIFEST.replace(f"  - key: {KEY}", f"  - id: REQ-0517\n    key: {KEY}")
FIRST_NEW_ID = "REQ-0517"
"""The demo tenant's REQ tickets end at REQ-0516."""


def write_manifest(root: Path, text: str = MANIFEST) -> Path:
    path = root / "manifests" / "onboarding.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def holders(sandbox: Sandbox, key: str = KEY) -> list[dict[str, Any]]:
    """The live tickets whose key field holds ``key``, read over the list endpoint."""
    key_field = field_ids(sandbox)["external_ref"]
    return [t for t in list_tickets(sandbox) if t["data"].get(key_field) == key]


def creates(sandbox: Sandbox) -> int:
    return sandbox.stats()["writes"]["creates"]


def create_by_hand(sandbox: Sandbox, key: str = KEY) -> str:
    """Another user creates a ticket holding ``key``, through the API."""
    types = {t["prefix"]: t["id"] for t in sandbox.store.types}
    ids = field_ids(sandbox)
    ticket = {
        ids["summary"]: "Made by hand",
        ids["priority"]: "Low",
        ids["status"]: "New",
        ids["requester"]: REQUESTER,
        ids["external_ref"]: key,
    }
    response = requests.post(
        f"{sandbox.base_url}/api/v2/ticketing/ticket/create?type=template&module=ticketing",
        json={"ticketTypeId": types["REQ"], "team": None, "ticket": ticket},
        headers=sandbox.headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["objectId"]


def test_a_declared_ticket_is_created_once_and_its_id_written_back_with_comments_kept(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write_manifest(tmp_path)
    plan = cli("plan", "manifests", **KEY_FIELD)
    assert plan.stdout == (
        "+ REQ onboarding-alice (create)\n"
        '    team: "service-desk"\n'
        '    + summary: "Onboard Alice"\n'
        '    + priority: "Medium"\n'
        '    + status: "New"\n'
        f'    + requester: "{REQUESTER}"\n'
        '    + external_ref: "onboarding-alice"\n'
        "\n"
        "Plan: 1 to create, 0 to update, 0 unchanged.\n"
    )
    sandbox.reset_stats()
    applied = cli("apply", "manifests", "--auto-approve", **KEY_FIELD)
    assert f"+ REQ onboarding-alice: created {FIRST_NEW_ID}\n" in applied.stdout
    assert f"  id {FIRST_NEW_ID} written into manifests/onboarding.yaml:4\n" in applied.stdout
    assert applied.stdout.endswith("Apply: 1 created, 0 updated, 0 failed, 0 unchanged.\n")
    assert creates(sandbox) == 1
    [ticket] = holders(sandbox)
    ids = field_ids(sandbox)
    assert ticket["object_id"] == FIRST_NEW_ID and ticket["team"] == "service-desk"
    assert ticket["data"][ids["summary"]] == "Onboard Alice"
    assert path.read_text(encoding="utf-8") == WRITTEN_BACK  # comments, order, layout kept

    again = cli("apply", "manifests", "--auto-approve", **KEY_FIELD)
    assert "No changes." in again.stdout and "created" not in again.stdout
    assert creates(sandbox) == 1 and len(holders(sandbox)) == 1


def test_the_json_plan_holds_the_exact_create_body(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path)
    plan = json.loads(cli("plan", "manifests", "--format", "json", **KEY_FIELD).stdout)
    ids = field_ids(sandbox)
    assert plan["summary"] == {"create": 1, "update": 0, "unchanged": 0, "error": 0}
    [create] = plan["changes"]
    assert create["action"] == "create" and create["key"] == KEY and create["id"] is None
    assert create["type"] == "REQ" and create["team"] == "service-desk"
    assert [f["name"] for f in create["fields"]] == [
        "summary",
        "priority",
        "status",
        "requester",
        "external_ref",
    ]
    assert create["body"] == {
        "ticketTypeId": sandbox.store.types[0]["id"],
        "team": "service-desk",
        "ticket": {
            ids["summary"]: "Onboard Alice",
            ids["priority"]: "Medium",
            ids["status"]: "New",
            ids["requester"]: REQUESTER,
            ids["external_ref"]: KEY,
        },
    }
    markdown = cli("plan", "manifests", "--format", "markdown", **KEY_FIELD).stdout
    assert markdown.startswith("**Plan:** 1 to create, 0 to update, 0 unchanged.")
    assert "#### + REQ `onboarding-alice` (create)" in markdown


def test_a_create_whose_answer_is_lost_after_commit_yields_one_ticket(
    cli: Callable[..., Any], sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Every write's answer is lost (a reset or a 500 after the commit): apply finds the
    key instead of sending the create again."""
    lossy = sandbox_factory(demo=True, drop_after_commit_rate=1.0, fault_seed=7)
    path = write_manifest(tmp_path)
    env = {**KEY_FIELD, "RECONCILE_BASE_URL": lossy.base_url, "RECONCILE_TOKEN": lossy.token()}
    applied = cli("apply", "manifests", "--auto-approve", **env)
    stats = lossy.stats()
    assert sum(stats["faults"].values()) == 1  # the answer of the one create was lost
    assert stats["writes"]["creates"] == 1 and len(holders(lossy)) == 1
    assert applied.stdout.endswith("Apply: 1 created, 0 updated, 0 failed, 0 unchanged.\n")
    assert path.read_text(encoding="utf-8") == WRITTEN_BACK


def test_two_concurrent_applies_in_one_working_tree_create_one_ticket(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Two real processes race; the working tree's apply lock makes the second plan after
    the first has created and written back, so it finds the ticket by its key."""
    slow = sandbox_factory(demo=True, latency_ms=400)
    path = write_manifest(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))},
        **KEY_FIELD,
        "RECONCILE_BASE_URL": slow.base_url,
        "RECONCILE_TENANT_ID": slow.tenant_id,
        "RECONCILE_REALM": slow.realm,
        "RECONCILE_TOKEN": slow.token(),
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "reconcile", "apply", "manifests", "--auto-approve"]
    racers = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    outputs = [out.decode() for out, _ in results]
    assert sum("Apply: 1 created," in out for out in outputs) == 1, outputs
    assert slow.stats()["writes"]["creates"] == 1 and len(holders(slow)) == 1
    assert path.read_text(encoding="utf-8") == WRITTEN_BACK


def test_a_saved_plans_create_goes_stale_when_the_key_appears(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write_manifest(tmp_path)
    cli("plan", "manifests", "--out", "plan.json", **KEY_FIELD)
    made = create_by_hand(sandbox)
    sandbox.reset_stats()
    applied = cli("apply", "--plan", "plan.json", **KEY_FIELD, expect=1)
    assert f"! REQ onboarding-alice: stale: the key is on {made} now" in applied.stderr
    assert creates(sandbox) == 0 and len(holders(sandbox)) == 1
    assert path.read_text(encoding="utf-8") == MANIFEST


def test_a_saved_plan_creates_and_writes_back(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write_manifest(tmp_path)
    cli("plan", "manifests", "--out", "plan.json", **KEY_FIELD)
    applied = cli("apply", "--plan", "plan.json", **KEY_FIELD)
    assert applied.stdout.endswith("Apply: 1 created, 0 updated, 0 failed, 0 unchanged.\n")
    assert path.read_text(encoding="utf-8") == WRITTEN_BACK
    again = cli("apply", "--plan", "plan.json", **KEY_FIELD, expect=1)
    assert f"stale: the key is on {FIRST_NEW_ID} now" in again.stderr
    assert creates(sandbox) == 1


def test_a_died_write_back_is_recovered_by_plan_and_adopt_ids(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    """A run that created the ticket but never wrote its id (a CI job that died) loses
    nothing: plan finds the ticket by key and says so; adopt --ids writes the id."""
    path = write_manifest(tmp_path)
    cli("apply", "manifests", "--auto-approve", "--no-write-back", **KEY_FIELD)
    assert path.read_text(encoding="utf-8") == MANIFEST and creates(sandbox) == 1
    plan = cli("plan", "manifests", **KEY_FIELD)
    assert plan.stdout == (
        f"= {FIRST_NEW_ID} holds key 'onboarding-alice'; its id is not yet in the manifest "
        "(`reconcile adopt --ids` writes it)\n"
        "\n"
        "No changes. Live tickets match the manifests.\n"
    )
    data = json.loads(cli("plan", "manifests", "--format", "json", **KEY_FIELD).stdout)
    assert data["found_by_key"] == [{"key": KEY, "id": FIRST_NEW_ID}]
    cli("apply", "manifests", "--auto-approve", **KEY_FIELD)
    assert creates(sandbox) == 1
    adopted = cli("adopt", "--ids", "manifests", **KEY_FIELD)
    assert f"~ {KEY}: id {FIRST_NEW_ID} written into manifests/onboarding.yaml:4" in (
        adopted.stdout
    )
    assert path.read_text(encoding="utf-8") == WRITTEN_BACK
    assert cli("plan", "manifests", **KEY_FIELD).stdout == (
        "No changes. Live tickets match the manifests.\n"
    )


def test_a_key_on_two_tickets_is_an_error_naming_both(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path)
    first, second = create_by_hand(sandbox), create_by_hand(sandbox)
    sandbox.reset_stats()
    result = cli("apply", "manifests", "--auto-approve", **KEY_FIELD, expect=1)
    assert (
        f"! onboarding-alice: key 'onboarding-alice' is on 2 tickets: {first} and {second}"
        in result.stdout
    )
    assert sandbox.stats()["writes"]["patches"] == 0 and creates(sandbox) == 0


def test_an_id_whose_ticket_holds_another_key_is_reported(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path, WRITTEN_BACK.replace(FIRST_NEW_ID, "REQ-0506"))
    result = cli("plan", "manifests", **KEY_FIELD, expect=1)
    assert (
        "! REQ-0506: its key field holds None, not the declared key 'onboarding-alice'"
        in result.stdout
    )


def test_max_changes_counts_creates(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path)
    sandbox.reset_stats()
    result = cli(
        "apply", "manifests", "--auto-approve", "--max-changes", "0", **KEY_FIELD, expect=1
    )
    assert "1 tickets would change (1 created, 0 updated), more than the limit of 0" in (
        result.stderr
    )
    assert creates(sandbox) == 0


def test_a_writer_may_create_only_tickets_of_its_teams(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path, MANIFEST.replace("team: service-desk", "team: finance"))
    sandbox.reset_stats()
    result = cli("apply", "manifests", "--auto-approve", **KEY_FIELD, expect=1)
    assert "may not create a ticket of team 'finance' (its teams: network, service-desk)" in (
        result.stdout
    )
    assert creates(sandbox) == 0


def test_the_journal_records_the_create_and_undo_reports_it_as_not_removable(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    write_manifest(tmp_path)
    cli("apply", "manifests", "--auto-approve", "--journal", "journal.jsonl", **KEY_FIELD)
    lines = [json.loads(line) for line in Path("journal.jsonl").read_text().splitlines()]
    intent = next(line for line in lines if line["kind"] == "intent")
    outcome = next(line for line in lines if line["kind"] == "outcome")
    assert intent["action"] == "create" and intent["key"] == KEY
    assert lines.index(intent) < lines.index(outcome)  # written ahead of the answer
    assert outcome["status"] == "created" and outcome["ticket"] == FIRST_NEW_ID
    undone = cli("undo", "--journal", "journal.jsonl", "--auto-approve", expect=1)
    assert f"{FIRST_NEW_ID}" in undone.stderr and "not removed" in undone.stderr
    assert len(holders(sandbox)) == 1
