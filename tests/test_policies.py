"""Policies: selector manifests over live tickets, through the CLI against the sandbox.

The demo tenant's REQ tickets of team network are REQ-0501 and REQ-0507 (Closed),
REQ-0509 (Waiting for Customer) and REQ-0513 (Resolved); sixteen REQ tickets in all.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconcile.sandbox import DEMO_ADMIN

from sandbox_api import edit_by_hand, field_ids, live, patches_by_ticket

CLOSED_NETWORK = """\
policy: closed-network
select:
  type: REQ
  team: [network]
  where:
    status: Closed
fields:
  location: Archive room
"""


def write(name: str, text: str) -> str:
    path = Path("manifests") / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def json_plan(cli, *args: str, **env: str) -> dict:
    return json.loads(cli("plan", "manifests", "--format", "json", *args, **env).stdout)


def admin(sandbox) -> dict[str, str]:
    return {"RECONCILE_TOKEN": sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())}


def test_a_policy_changes_exactly_the_matching_tickets(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    plan = json_plan(cli)
    assert [c["id"] for c in plan["changes"]] == ["REQ-0501", "REQ-0507"]
    assert plan["policies"] == [
        {
            "name": "closed-network",
            "location": "manifests/closed.yaml:1",
            "matched": 2,
            "changed": 2,
        }
    ]
    text = cli("plan", "manifests").stdout
    assert "Policy closed-network (manifests/closed.yaml:1): matched 2 tickets, changes 2." in text
    sandbox.reset_stats()
    cli("apply", "manifests", "--auto-approve")
    assert patches_by_ticket(sandbox) == {"REQ-0501": 1, "REQ-0507": 1}
    location = field_ids(sandbox)["location"]
    assert live(sandbox, "REQ-0507")["data"][location] == "Archive room"
    assert live(sandbox, "REQ-0509")["data"].get(location) != "Archive room"
    assert cli("plan", "manifests", "--detailed-exitcode").stdout.startswith("No changes.")


def test_an_explicit_entry_overrides_a_policy_and_each_field_says_its_source(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK + "  urgency: High\n")
    write("tickets.yaml", "tickets:\n  - id: REQ-0501\n    fields:\n      location: Desk 4\n")
    plan = json_plan(cli)
    by_id = {c["id"]: {f["name"]: f for f in c["fields"]} for c in plan["changes"]}
    assert by_id["REQ-0501"]["location"]["after"] == "Desk 4"
    assert by_id["REQ-0501"]["location"]["source"] == {
        "kind": "ticket",
        "policy": None,
        "location": "manifests/tickets.yaml:4",
    }
    policy_source = {
        "kind": "policy",
        "policy": "closed-network",
        "location": "manifests/closed.yaml:9",
    }
    if "urgency" in by_id["REQ-0501"]:
        assert by_id["REQ-0501"]["urgency"]["source"] == policy_source
    assert by_id["REQ-0507"]["location"]["after"] == "Archive room"
    assert by_id["REQ-0507"]["location"]["source"] == {
        "kind": "policy",
        "policy": "closed-network",
        "location": "manifests/closed.yaml:8",
    }
    text = cli("plan", "manifests").stdout
    assert '~ location: "Low' not in text
    assert "(from policy closed-network at manifests/closed.yaml:8)" in text
    assert "(from manifests/tickets.yaml:4)" in text
    markdown = cli("plan", "manifests", "--format", "markdown").stdout
    assert (
        "| from |" in markdown and "policy closed\\-network at manifests/closed.yaml:8" in markdown
    )


def test_two_policies_setting_one_field_differently_are_one_error_naming_both(cli, sandbox):
    write("a.yaml", CLOSED_NETWORK)
    write(
        "b.yaml", CLOSED_NETWORK.replace("closed-network", "other").replace("Archive room", "Lab")
    )
    sandbox.reset_stats()
    result = cli("plan", "manifests", expect=1)
    assert result.stderr.splitlines() == [
        "Error: manifests/a.yaml:8: policy 'closed-network' and policy 'other' (at "
        "manifests/b.yaml:8) set field 'location' of REQ-0501, REQ-0507 to different values; "
        "make them agree or narrow a selection"
    ]
    assert sandbox.stats()["writes"]["patches"] == 0
    # Equal values are fine.
    write("b.yaml", CLOSED_NETWORK.replace("closed-network", "other"))
    assert [c["id"] for c in json_plan(cli)["changes"]] == ["REQ-0501", "REQ-0507"]


def test_a_policy_may_not_set_a_field_its_where_reads(cli, sandbox):
    write("p.yaml", CLOSED_NETWORK.replace("  location: Archive room\n", "  Status: Resolved\n"))
    sandbox.reset_stats()
    result = cli("apply", "manifests", "--auto-approve", expect=1)
    assert result.stderr.splitlines() == [
        "Error: manifests/p.yaml:8: policy 'closed-network': sets 'status', which its own "
        "'where' reads (at manifests/p.yaml:6): applying it would change which tickets it selects"
    ]
    assert sandbox.stats()["by_route"] == {"ticket_type": 1}


def test_the_change_ratio_refuses_with_the_numbers_and_the_flag_raises_it(cli, sandbox):
    write(
        "all.yaml",
        "policy: all-requests\nselect:\n  type: Service Request\nfields:\n  location: HQ\n",
    )
    plan = json_plan(cli, **admin(sandbox))
    assert plan["policies"][0]["matched"] == 16 and plan["policies"][0]["changed"] == 16
    sandbox.reset_stats()
    result = cli(
        "apply",
        "manifests",
        "--auto-approve",
        "--max-change-ratio",
        "0.3",
        expect=1,
        **admin(sandbox),
    )
    assert (
        "policy all-requests (manifests/all.yaml:1) would change 16 of the 16 tickets it "
        "matches (100%), more than the limit of 0.3; nothing was written. To allow it, raise "
        "the limit with --max-change-ratio 1 (config key max_change_ratio)"
    ) in result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0
    # The limit counts per policy, whatever else changes: --max-changes counts tickets.
    result = cli(
        "apply", "manifests", "--auto-approve", "--max-changes", "15", expect=1, **admin(sandbox)
    )
    assert "16 tickets would change, more than the limit of 15" in result.stderr
    result = cli(
        "apply", "manifests", "--auto-approve", "--max-change-ratio", "1", **admin(sandbox)
    )
    assert "Apply: 16 updated" in result.stdout
    assert len(patches_by_ticket(sandbox)) == 16


def test_the_ratio_does_not_apply_below_ten_matched_tickets(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    result = cli("apply", "manifests", "--auto-approve", "--max-change-ratio", "0.1")
    assert "Apply: 2 updated" in result.stdout


def test_a_ticket_edited_into_a_selection_shows_as_drift_with_the_policy(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    cli("apply", "manifests", "--auto-approve")
    assert cli("drift", "manifests").stdout.startswith("Drift: ")  # in sync
    ids = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0509", {ids["status"]: "Closed"}, who="jdoe")
    result = cli("drift", "manifests", expect=2)
    assert "~ REQ-0509 (last updated by jdoe" in result.stdout
    assert "(from policy closed-network at manifests/closed.yaml:8)" in result.stdout
    assert "REQ-0501" not in result.stdout


def test_a_saved_plan_goes_stale_for_a_ticket_that_left_the_selection(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    cli("plan", "manifests", "--out", "plan.json")
    saved = json.loads(Path("plan.json").read_text())
    change = next(c for c in saved["changes"] if c["id"] == "REQ-0501")
    assert change["policies"][0]["policy"] == "closed-network"
    assert change["fields"][0]["source"]["policy"] == "closed-network"
    ids = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0501", {ids["status"]: "Resolved"})
    sandbox.reset_stats()
    result = cli("apply", "--plan", "plan.json", expect=1)
    assert (
        "! REQ-0501: stale: no longer matches policy closed-network since the plan was made; "
        "re-run plan"
    ) in result.stderr
    assert "Apply: 1 updated" in result.stdout
    assert live(sandbox, "REQ-0501")["data"].get(ids["location"]) != "Archive room"
    assert live(sandbox, "REQ-0507")["data"][ids["location"]] == "Archive room"


def test_a_saved_plan_applies_a_sensitive_value_a_policy_declares(cli, sandbox):
    """Before: the value was looked up among the ticket entries only, so every ticket a
    policy matched went stale and nothing was written."""
    write("closed.yaml", CLOSED_NETWORK + "sensitive: [location]\n")
    cli("plan", "manifests", "--out", "plan.json")
    assert "Archive room" not in Path("plan.json").read_text()
    result = cli("apply", "--plan", "plan.json")
    assert "Apply: 2 updated, 0 failed, 0 unchanged." in result.stdout
    ids = field_ids(sandbox)
    assert live(sandbox, "REQ-0507")["data"][ids["location"]] == "Archive room"
    assert live(sandbox, "REQ-0501")["data"][ids["location"]] == "Archive room"


def test_target_and_shard_apply_to_matched_tickets(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    plan = json_plan(cli, "--target", "REQ-0507")
    assert [c["id"] for c in plan["changes"]] == ["REQ-0507"]
    assert plan["policies"][0]["matched"] == 1
    shards = [[c["id"] for c in json_plan(cli, "--shard", f"{i}/2")["changes"]] for i in (1, 2)]
    assert sorted(shards[0] + shards[1]) == ["REQ-0501", "REQ-0507"]
    result = cli("plan", "manifests", "--target", "REQ-0509", expect=1)
    assert "--target REQ-0509: no such ticket in the manifests or their policies" in result.stderr


def test_policies_need_the_list_endpoint(cli, sandbox_factory):
    sandbox = sandbox_factory(demo=True, no_list=True)
    env = {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": sandbox.token()}
    write("closed.yaml", CLOSED_NETWORK)
    result = cli("plan", "manifests", expect=1, **env)
    assert result.stderr.splitlines() == [
        "Error: the manifests hold policies, which select tickets from the list endpoint, "
        "and this server has none (the list endpoint answered 404); nothing was planned"
    ]
    # Ticket entries alone still plan, one GET each.
    Path("manifests/closed.yaml").unlink()
    write("t.yaml", "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab\n")
    assert "~ REQ-0509" in cli("plan", "manifests", **env).stdout


def test_adopt_lists_policy_drift_instead_of_writing_it(cli, sandbox):
    write("closed.yaml", CLOSED_NETWORK)
    write("tickets.yaml", "tickets:\n  - id: REQ-0501\n    fields:\n      urgency: High\n")
    policy_text = Path("manifests/closed.yaml").read_text()
    result = cli("adopt", "manifests")
    assert Path("manifests/closed.yaml").read_text() == policy_text
    assert "! REQ-0501 field 'location' drifted from policy closed-network " in result.stderr
    assert "(manifests/closed.yaml:8): not written back" in result.stderr
    assert "! REQ-0507 field 'location' drifted from policy closed-network" in result.stderr
    # The ticket entry's own drift is adopted as usual.
    assert "urgency: High" not in Path("manifests/tickets.yaml").read_text()
    assert "2 field(s) declared by policies left as they are" in result.stdout
