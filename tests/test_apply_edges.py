"""Apply at its edges: saved plans with sensitive fields, races onto protected fields,
credentials that die mid-run, a list endpoint that misbehaves, paths that cannot be
written, and the journal of a write whose answer was lost."""

from __future__ import annotations

import json
from pathlib import Path

from reconcile import listing
from reconcile import manager as manager_module
from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.journal import Journal, Status, read_journal
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN

from sandbox_api import edit_by_hand, field_ids, list_tickets, live, patches_by_ticket

SENSITIVE_UNSET = """\
tickets:
  - id: REQ-0509        # resolution_notes is not set on the live ticket
    fields:
      resolution_notes: "<p>Closed after the freeze.</p>"
      priority: High
    sensitive: [resolution_notes]
"""


def journal_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_saved_plan_with_a_sensitive_field_applies_and_journals_digests(cli, sandbox):
    Path("m.yaml").write_text(SENSITIVE_UNSET)
    cli("plan", "m.yaml", "--out", "plan.json")
    fields = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0509", {fields["summary"]: "Unrelated edit"})  # etag moves

    result = cli("apply", "--plan", "plan.json", "--journal", "j.jsonl")
    assert "Apply: 1 updated, 0 failed" in result.stdout
    data = live(sandbox, "REQ-0509")["data"]
    assert data[fields["resolution_notes"]] == "<p>Closed after the freeze.</p>"
    assert data[fields["summary"]] == "Unrelated edit"
    text = Path("j.jsonl").read_text()
    assert "Closed after the freeze" not in text
    (write,) = [w for w in read_journal("j.jsonl").writes if w.status is Status.UPDATED]
    (notes,) = [f for f in write.fields if f.field_id == fields["resolution_notes"]]
    assert notes.after["digest"].startswith("sha256:")


def test_a_saved_plan_with_errors_is_refused_whole(cli, sandbox):
    Path("m.yaml").write_text(
        SENSITIVE_UNSET + "  - id: REQ-9999\n    fields:\n      priority: Low\n"
    )
    cli("plan", "m.yaml", "--out", "plan.json", expect=1)
    result = cli("apply", "--plan", "plan.json", expect=1)
    assert "REQ-9999" in result.stderr and "nothing was written" in result.stderr
    assert sandbox.stats()["by_method"].get("PATCH", 0) == 0


def test_a_race_that_would_newly_change_a_protected_field_is_refused(sandbox, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "protected: [priority]\n"
        "tickets:\n  - id: REQ-0509\n    fields:\n      priority: Low\n      location: Lab\n"
    )
    fields = field_ids(sandbox)
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    with TicketingClient(settings, StaticToken(sandbox.token())) as client:
        manager = Manager(client, parallelism=1)
        desired = manager.load([manifest])
        plan = manager.plan(desired)
        assert [f.name for f in plan.changes[0].fields] == ["location"]
        plan.check_safe(allow_protected=False)  # the reviewed plan touches no protected field
        edit_by_hand(sandbox, "REQ-0509", {fields["priority"]: "Critical"})
        report = manager.apply(plan, desired)
    (outcome,) = report.outcomes
    assert outcome.status == "conflict" and "protected field(s) priority" in outcome.message
    assert live(sandbox, "REQ-0509")["data"][fields["priority"]] == "Critical"


class RevokedAfter:
    """A token source whose credentials the identity provider revokes after some requests:
    from then on it hands out a token the server refuses (401), as a revoked one would be."""

    description = "a token revoked mid-run"

    def __init__(self, good: str, bad: str, requests: int):
        self.good, self.bad, self.left = good, bad, requests

    def token(self) -> str:
        self.left -= 1
        return self.good if self.left >= 0 else self.bad

    def invalidate(self, token: str) -> None:
        return None


def test_credentials_that_die_mid_run_stop_new_writes_and_keep_the_report(sandbox, tmp_path):
    ids = ["REQ-0501", "REQ-0502", "REQ-0504", "REQ-0505", "REQ-0506", "REQ-0507"]
    ids += ["REQ-0508", "REQ-0509", "REQ-0510", "REQ-0511", "REQ-0512", "REQ-0513"]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "tickets:\n" + "".join(f"  - id: {i}\n    fields:\n      location: Lab 7\n" for i in ids)
    )
    good = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")  # signature broken
    reads = 1 + len(ids)  # ticket types, then one GET per ticket
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    with TicketingClient(settings, RevokedAfter(good, bad, reads + 5)) as client:
        manager = Manager(client, parallelism=1)
        desired = manager.load([manifest])
        plan = manager.plan(desired)
        with Journal(tmp_path / "j.jsonl") as journal:
            report = manager.apply(plan, desired, journal=journal)
    assert report.summary == f"Apply: 5 updated, {len(ids) - 5} failed, 0 unchanged."
    statuses = [o.status for o in report.outcomes]
    assert statuses.count("updated") == 5 and statuses.count("failed") == 1
    assert statuses.count("skipped") == len(ids) - 6
    skipped = next(o for o in report.outcomes if o.status == "skipped")
    assert skipped.message.startswith("not written: stopped after an error on")
    assert len(patches_by_ticket(sandbox)) == 5
    written = [w for w in read_journal(tmp_path / "j.jsonl").writes if w.landed]
    assert len(written) == 5


def test_a_list_endpoint_that_refuses_falls_back_to_one_get_each(cli, sandbox_factory, monkeypatch):
    sandbox = sandbox_factory(demo=True, tickets=30)
    ids = [t["object_id"] for t in list_tickets(sandbox)]
    assert len(ids) >= manager_module.LIST_MIN_TICKETS  # enough to try the list endpoint
    monkeypatch.setattr(listing, "PAGE_SIZE", 1000)  # the sandbox caps size at 500
    body = "".join(f"  - id: {i}\n    fields: {{}}\n" for i in ids)
    Path("m.yaml").write_text("tickets:\n" + body)
    sandbox.reset_stats()
    env = {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": sandbox.token()}
    result = cli("plan", "m.yaml", **env)
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    routes = sandbox.stats()["by_route"]
    assert routes["list"] == 1 and routes["get"] == len(ids)


def test_paths_that_cannot_be_written_are_one_line_errors_before_any_write(cli, sandbox):
    Path("m.yaml").write_text(SENSITIVE_UNSET)
    result = cli("plan", "m.yaml", "--out", "missing/dir/plan.json", expect=1)
    assert result.stderr.strip().startswith("Error: missing/dir/plan.json: cannot write")
    sandbox.reset_stats()
    result = cli("apply", "m.yaml", "--auto-approve", "--journal", "missing/j.jsonl", expect=1)
    assert result.stderr.strip().splitlines() == [
        "Error: missing/j.jsonl: cannot write the journal: No such file or directory"
    ]
    assert sandbox.stats()["requests"] == 0  # refused before reading anything


def test_the_journal_confirms_a_write_whose_answer_was_lost(cli, sandbox_factory):
    sandbox = sandbox_factory(demo=True, drop_after_commit_rate=1.0, fault_seed=1)
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab\n")
    result = cli(
        "apply", "m.yaml", "--auto-approve", "--journal", "j.jsonl",
        RECONCILE_BASE_URL=sandbox.base_url, RECONCILE_TOKEN=sandbox.token(),
    )  # fmt: skip
    assert "Apply: 1 updated, 0 failed" in result.stdout
    outcomes = [e for e in journal_lines(Path("j.jsonl")) if e["kind"] == "outcome"]
    statuses = [(e["status"], e["etag_after"]) for e in outcomes]
    assert statuses[0] == ("unknown", None)
    assert statuses[1][0] == "updated" and statuses[1][1] == live(sandbox, "REQ-0509")["etag"]
    assert patches_by_ticket(sandbox) == {"REQ-0509": 1}
