"""The library keeps every promise the CLI makes: Manager runs each safety check itself.

These tests call :class:`reconcile.manager.Manager` directly (no CLI) against the sandbox
over real HTTP, and read the sandbox's counters to show that a refusal wrote nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.errors import PlanError, StalePlan, UnsafePlan
from reconcile.manager import Manager
from reconcile.plan import Target
from reconcile.sandbox import Sandbox
from reconcile.saved_plan import load_saved_plan, read_saved_plan, write_saved_plan

from sandbox_api import field_ids, live

MANIFEST = """\
protected: [location]
tickets:
  - id: REQ-0509          # live priority Low, location "Berlin office"
    fields:
      priority: High
  - id: REQ-0501          # live priority Low
    fields:
      priority: Medium
"""

SENSITIVE = """\
tickets:
  - id: REQ-0509
    fields:
      resolution_notes: "<p>Closed after the freeze.</p>"
    sensitive: [resolution_notes]
"""


@pytest.fixture
def manager(sandbox: Sandbox) -> Iterator[Manager]:
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    with TicketingClient(settings, StaticToken(sandbox.token())) as client:
        yield Manager(client, parallelism=2)


def patches(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["by_method"].get("PATCH", 0))


def manifest(tmp_path: Path, text: str = MANIFEST) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_apply_refuses_more_changes_than_max_changes(manager, sandbox, tmp_path):
    desired = manager.load([manifest(tmp_path)])
    plan = manager.plan(desired)
    with pytest.raises(UnsafePlan, match="2 tickets would change, more than the limit of 1"):
        manager.apply(plan, desired, max_changes=1)
    assert patches(sandbox) == 0
    assert manager.apply(plan, desired, max_changes=2).counts["updated"] == 2


def test_apply_refuses_a_protected_field_unless_allowed(manager, sandbox, tmp_path):
    desired = manager.load(
        [manifest(tmp_path, MANIFEST.replace("priority: Medium", "location: Lab"))]
    )
    plan = manager.plan(desired)
    with pytest.raises(UnsafePlan, match="protected fields: REQ-0501 field 'location'"):
        manager.apply(plan, desired)
    assert patches(sandbox) == 0
    report = manager.apply(plan, desired, allow_protected=True)
    assert report.ok and report.counts["updated"] == 2


def test_apply_refuses_a_plan_with_errors(manager, sandbox, tmp_path):
    text = MANIFEST + "  - id: REQ-9999\n    fields:\n      priority: Low\n"
    desired = manager.load([manifest(tmp_path, text)])
    plan = manager.plan(desired)
    with pytest.raises(UnsafePlan, match=r"could not be planned \(REQ-9999\)"):
        manager.apply(plan, desired)
    assert patches(sandbox) == 0


def test_approve_runs_after_the_checks_and_can_stop_the_write(manager, sandbox, tmp_path):
    desired = manager.load([manifest(tmp_path)])
    plan = manager.plan(desired)
    asked: list[int] = []

    def decline(p):
        asked.append(len(p.changes))
        raise KeyboardInterrupt

    with pytest.raises(UnsafePlan):
        manager.apply(plan, desired, max_changes=0, approve=decline)
    assert asked == []  # refused before asking
    with pytest.raises(KeyboardInterrupt):
        manager.apply(plan, desired, approve=decline)
    assert asked == [2] and patches(sandbox) == 0


def saved(manager: Manager, tmp_path: Path, text: str = MANIFEST) -> Path:
    path = manifest(tmp_path, text)
    out = tmp_path / "plan.json"
    write_saved_plan(manager.plan(manager.load([path])), [path], out)
    return out


def test_apply_saved_refuses_another_target(manager, sandbox, sandbox_factory, tmp_path):
    plan_file = saved(manager, tmp_path)
    other = sandbox_factory(demo=True)
    settings = Settings(base_url=other.base_url, tenant_id=other.tenant_id, realm=other.realm)
    with (
        TicketingClient(settings, StaticToken(other.token())) as client,
        pytest.raises(StalePlan, match="refusing to apply it to " + other.base_url),
    ):
        Manager(client).apply_saved(plan_file)
    assert patches(other) == 0
    # A manager told it talks to another target refuses the same plan.
    elsewhere = Manager(manager.client, target=Target(sandbox.base_url, "other-tenant", "demo"))
    with pytest.raises(StalePlan, match="tenant other-tenant"):
        elsewhere.apply_saved(plan_file)
    assert patches(sandbox) == 0


def test_apply_saved_refuses_errors_and_runs_the_plan_checks(manager, sandbox, tmp_path):
    text = MANIFEST + "  - id: REQ-9999\n    fields:\n      priority: Low\n"
    with pytest.raises(StalePlan, match=r"could not be planned \(REQ-9999\)"):
        manager.apply_saved(saved(manager, tmp_path, text))
    plan_file = saved(manager, tmp_path, MANIFEST.replace("priority: Medium", "location: Lab"))
    with pytest.raises(UnsafePlan, match="more than the limit of 1"):
        manager.apply_saved(plan_file, max_changes=1, allow_protected=True)
    with pytest.raises(UnsafePlan, match="protected fields"):
        manager.apply_saved(plan_file)
    assert patches(sandbox) == 0
    assert manager.apply_saved(plan_file, allow_protected=True).counts["updated"] == 2


def test_a_saved_plan_applied_twice_is_already_applied(manager, sandbox, tmp_path):
    plan_file = saved(manager, tmp_path)
    assert manager.apply_saved(plan_file).counts["updated"] == 2
    again = manager.apply_saved(plan_file)
    assert again.ok and again.counts == {"created": 0, "updated": 0, "failed": 0, "unchanged": 2}
    assert {o.message for o in again.outcomes} == {
        "already applied: every planned value is in place"
    }
    writes = sandbox.stats()["writes"]
    assert writes["committed"] == 2 and writes["noop_patches"] == 0


def test_a_saved_plan_applies_from_another_directory(manager, sandbox, tmp_path, monkeypatch):
    made_in = tmp_path / "repo"
    made_in.mkdir()
    monkeypatch.chdir(made_in)
    Path("m.yaml").write_text(SENSITIVE, encoding="utf-8")
    write_saved_plan(manager.plan(manager.load(["m.yaml"])), ["m.yaml"], "plan.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = manager.apply_saved(made_in / "plan.json")
    assert report.ok and report.counts["updated"] == 1
    notes = live(sandbox, "REQ-0509")["data"][field_ids(sandbox)["resolution_notes"]]
    assert notes == "<p>Closed after the freeze.</p>"


def test_a_changed_sensitive_value_is_reported_stale_not_written(manager, sandbox, tmp_path):
    plan_file = saved(manager, tmp_path, SENSITIVE)
    manifest(tmp_path, SENSITIVE.replace("Closed after", "Reopened after"))
    report = manager.apply_saved(plan_file)
    (outcome,) = report.outcomes
    assert (outcome.id, outcome.status) == ("REQ-0509", "stale")
    assert outcome.message.startswith("sensitive field 'resolution_notes' is not declared as")
    assert not report.ok and patches(sandbox) == 0


def resealed(data: dict) -> dict:
    """Recompute the checksum, as anyone editing the file could."""
    from reconcile.saved_plan import _content_checksum

    return {**data, "checksum": _content_checksum(data)}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(etag=""), "changes[0]: an update with an empty 'etag' cannot be sent"),
        (lambda c: c.pop("etag"), "changes[0]: 'etag' is missing or not a string"),
        (lambda c: c.update(fields=[]), "changes[0]: an update with an empty 'fields'"),
        (lambda c: c.update(action="delete"), "changes[0]: unknown action 'delete'"),
    ],
)
def test_a_saved_update_without_etag_or_fields_is_refused_whatever_its_checksum(
    manager, sandbox, tmp_path, edit, message
):
    plan_file = saved(manager, tmp_path)
    data = json.loads(plan_file.read_text())
    edit(data["changes"][0])
    plan_file.write_text(json.dumps(resealed(data)))
    with pytest.raises(PlanError) as caught:
        manager.apply_saved(plan_file)
    assert str(caught.value).startswith(f"{plan_file}: {message}")
    assert patches(sandbox) == 0


def test_a_deeply_nested_plan_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PlanError) as caught:
        read_saved_plan(path)
    assert str(caught.value) == f"{path}: not a saved plan: JSON nested too deeply"
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    data = {"kind": "reconcile-saved-plan", "format_version": 1, "changes": nested}
    with pytest.raises(PlanError) as caught:
        load_saved_plan(data, "plan.json")
    assert str(caught.value) == "plan.json: not a saved plan: JSON nested too deeply"


def test_the_saved_plan_records_where_it_was_made(manager, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan_file = saved(manager, tmp_path)
    data = json.loads(plan_file.read_text())
    assert data["base_dir"] == tmp_path.resolve().as_posix()
    assert data["manifests"] == ["m.yaml"]
    assert read_saved_plan(plan_file).manifest_paths() == [tmp_path.resolve() / "m.yaml"]
    assert os.path.isabs(data["base_dir"])


CREATE = """\
tickets:
  - key: onboarding-bob
    type: REQ
    fields:
      summary: Onboard Bob
      priority: Medium
      status: New
      requester: 1977896d-1f2a-402c-8735-6c22af73411b
"""


def open_settings(sandbox: Sandbox, **extra) -> tuple[Settings, dict[str, str]]:
    settings = Settings(
        base_url=sandbox.base_url,
        tenant_id=sandbox.tenant_id,
        realm=sandbox.realm,
        key_field="external_ref",
        **extra,
    )
    return settings, {"RECONCILE_TOKEN": sandbox.token()}


def test_one_call_applies_under_every_check_writes_ids_back_and_journals(sandbox, tmp_path):
    path = manifest(tmp_path, CREATE)
    journal = tmp_path / "apply.journal"
    settings, env = open_settings(sandbox)
    with Manager.open(settings, write=True, env=env, journal=journal) as manager:
        with pytest.raises(UnsafePlan, match="more than the limit of 0"):
            manager.apply_paths([path], max_changes=0)
        report = manager.apply_paths([path])
    [written] = report.written_back
    assert (written.key, written.id, written.location.line) == ("onboarding-bob", "REQ-0517", 2)
    assert report.ok and report.counts["created"] == 1
    assert path.read_text(encoding="utf-8").startswith("tickets:\n  - id: REQ-0517\n")
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()]
    assert kinds[0] == "run" and len(kinds) > 1


def test_without_write_back_the_report_holds_the_ids_to_write(sandbox, tmp_path):
    path = manifest(tmp_path, CREATE)
    settings, env = open_settings(sandbox)
    with Manager.open(settings, write=True, env=env) as manager:
        run = manager.plan_paths([path])
        assert [c.key for c in run.plan.creates] == ["onboarding-bob"]
        with manager.planning([path], for_apply=True) as planned:
            report = planned.apply(write_back=False)
    assert report.created_ids == {"onboarding-bob": "REQ-0517"}
    assert report.written_back == ()
    assert "id:" not in path.read_text(encoding="utf-8")


def test_a_failed_write_back_makes_the_report_not_ok(sandbox, tmp_path):
    path = manifest(tmp_path, CREATE)
    settings, env = open_settings(sandbox)
    with (
        Manager.open(settings, write=True, env=env) as manager,
        manager.planning([path], for_apply=True) as planned,
    ):
        path.write_text("tickets: [", encoding="utf-8")  # edited meanwhile, now broken
        report = planned.apply()
    assert report.counts["created"] == 1 and report.counts["failed"] == 0
    assert report.write_back_error is not None and "m.yaml" in report.write_back_error
    assert not report.ok


def test_under_a_rate_limit_the_manager_says_what_applying_takes(sandbox, tmp_path):
    path = manifest(tmp_path)
    settings, env = open_settings(sandbox, rate_limit=5.0)
    with Manager.open(settings, write=False, env=env) as manager:
        run = manager.plan_paths([path])
        budget = manager.request_budget(run.plan)
        assert budget is not None and budget.writes == 2 and budget.reads >= 3
