"""The Plan value object: summary, JSON form, saved plan, safety checks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import PlanError, UnsafePlan
from reconcile.plan import (
    FORMAT_VERSION,
    Digest,
    FieldChange,
    Plan,
    RequestBudget,
    Target,
    TicketChange,
)
from reconcile.saved_plan import load_saved_plan, saved_data
from reconcile.schema import Field

TARGET = Target("http://127.0.0.1:8080", "tenant-1", "acme")


def make_plan(**kw: Any) -> Plan:
    changes = (
        TicketChange(
            "REQ-0510",
            "update",
            etag="e-510",
            fields=(
                FieldChange("f-sel", "priority", "Low", "High", protected=True),
                FieldChange("f-key", "api_key", "old-secret", "new-secret", sensitive=True),
            ),
            last_updated_by="jdoe",
            last_updated_at="2026-11-20T16:01:09Z",
        ),
        TicketChange("REQ-9999", "error", error="Ticket not found (REQ-9999)"),
        TicketChange(
            "REQ-0509", "update", etag="e-509", fields=(FieldChange("f-num", "cost", None, 3),)
        ),
    )
    return Plan(changes=changes, unchanged=("REQ-0600", "REQ-0001"), target=TARGET, **kw)


def test_changes_and_unchanged_are_sorted_and_counted() -> None:
    plan = make_plan()
    assert [c.id for c in plan.changes] == ["REQ-0509", "REQ-0510", "REQ-9999"]
    assert plan.unchanged == ("REQ-0001", "REQ-0600")
    assert plan.summary == {"create": 0, "update": 2, "unchanged": 2, "error": 1}
    assert plan.has_changes
    assert [c.id for c in plan.errors] == ["REQ-9999"]
    assert [c.id for c in plan.updates] == ["REQ-0509", "REQ-0510"]
    assert not Plan(changes=(), unchanged=("REQ-0001",)).has_changes


def test_to_data_is_the_documented_json_with_sensitive_values_masked() -> None:
    data = make_plan().to_data()
    assert data["format_version"] == FORMAT_VERSION
    assert data["summary"] == {"create": 0, "update": 2, "unchanged": 2, "error": 1}
    assert "schema_drift" not in data
    second = data["changes"][1]
    assert second == {
        "id": "REQ-0510",
        "action": "update",
        "etag": "e-510",
        "fields": [
            {
                "name": "priority",
                "field_id": "f-sel",
                "before": "Low",
                "after": "High",
                "sensitive": False,
                "protected": True,
            },
            {
                "name": "api_key",
                "field_id": "f-key",
                "before": "(sensitive)",
                "after": "(sensitive)",
                "sensitive": True,
                "protected": False,
            },
        ],
        "patch": {"etag": "e-510", "ticketUpdate": {"f-sel": "High", "f-key": "(sensitive)"}},
        "error": None,
        "last_updated_by": "jdoe",
        "last_updated_at": "2026-11-20T16:01:09Z",
    }
    error = data["changes"][2]
    assert (error["action"], error["patch"], error["error"]) == (
        "error",
        None,
        "Ticket not found (REQ-9999)",
    )
    assert "secret" not in make_plan().to_json()


def test_the_real_patch_is_unmasked_for_apply() -> None:
    change = make_plan().changes[1]
    assert change.patch == {
        "etag": "e-510",
        "ticketUpdate": {"f-sel": "High", "f-key": "new-secret"},
    }


def test_schema_drift_appears_when_present_and_checksum_is_of_the_json_text() -> None:
    plan = make_plan(schema_drift=("field 'cost' was removed",))
    assert plan.to_data()["schema_drift"] == ["field 'cost' was removed"]
    text = plan.to_json()
    assert json.loads(text) == plan.to_data()
    assert plan.checksum == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_check_safe_refuses_more_changes_than_the_limit_and_says_how_to_raise_it() -> None:
    plan = make_plan()
    plan.check_safe(max_changes=2, allow_protected=True)
    with pytest.raises(UnsafePlan) as caught:
        plan.check_safe(max_changes=1, allow_protected=True)
    message = str(caught.value)
    assert message.startswith("2 tickets would change, more than the limit of 1")
    assert "--max-changes 2" in message and "max_changes" in message


def test_check_safe_refuses_protected_fields_unless_allowed() -> None:
    plan = make_plan()
    with pytest.raises(UnsafePlan) as caught:
        plan.check_safe(max_changes=None, allow_protected=False)
    assert "REQ-0510 field 'priority'" in str(caught.value)
    assert "--allow-protected" in str(caught.value)
    plan.check_safe(max_changes=None, allow_protected=True)


@dataclass
class Declared:
    """Stand-in with the ``id`` and ``values`` of reconcile.manifest.DesiredTicket."""

    id: str
    values: dict[str, Any]
    key: str | None = None


def saved_round_trip(plan: Plan, paths: list[str] | None = None) -> tuple[dict[str, Any], Any]:
    data = json.loads(json.dumps(saved_data(plan, paths or ["manifests/a.yaml"])))
    return data, load_saved_plan(data)


def test_saved_plan_keeps_values_but_stores_sensitive_ones_as_salted_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = make_plan()
    data, saved = saved_round_trip(plan, [str(tmp_path / "manifests" / "a.yaml")])
    text = json.dumps(data)
    assert "new-secret" not in text and "old-secret" not in text
    assert data["target"] == {
        "base_url": "http://127.0.0.1:8080",
        "tenant_id": "tenant-1",
        "realm": "acme",
    }
    assert data["manifests"] == ["manifests/a.yaml"]
    key = data["changes"][1]["fields"][1]
    assert key["after"]["digest"].startswith("sha256:") and key["after"]["salt"]
    assert data["changes"][1]["patch"]["ticketUpdate"]["f-key"] == key["after"]
    assert data["changes"][1]["fields"][0]["after"] == "High"
    assert data["plan_checksum"] == plan.checksum

    assert saved.target == TARGET
    assert saved.manifests == ("manifests/a.yaml",)
    assert saved.plan.summary == plan.summary
    assert saved.plan.unchanged == plan.unchanged
    assert saved.plan.checksum == plan.checksum
    # Only the sensitive field is checked against its digest; the others keep their value.
    filled, stale = saved.fill_sensitive(
        [Declared("REQ-0510", {"f-key": "new-secret", "f-sel": "Low"})]
    )
    assert stale == {}
    assert filled.changes[1].ticket_update == {"f-sel": "High", "f-key": "new-secret"}
    filled, stale = saved.fill_sensitive([Declared("REQ-0510", {"f-key": "other"})])
    assert list(stale) == ["REQ-0510"]
    assert [c.id for c in filled.changes] == ["REQ-0509", "REQ-9999"]


def test_same_secret_gets_different_digests() -> None:
    assert Digest.of("s").digest != Digest.of("s").digest
    assert Digest.of("s", salt="x") == Digest.of("s", salt="x")


def test_fill_sensitive_restores_values_and_reports_changed_ones_as_stale() -> None:
    _, saved = saved_round_trip(make_plan())
    plan, stale = saved.fill_sensitive([Declared("REQ-0510", {"f-key": "new-secret"})])
    assert stale == {}
    assert plan.changes[1].patch == {
        "etag": "e-510",
        "ticketUpdate": {"f-sel": "High", "f-key": "new-secret"},
    }
    assert plan.changes[1].fields[1].holds_before("old-secret")
    assert not plan.changes[1].fields[1].holds_before("other")

    plan, stale = saved.fill_sensitive([Declared("REQ-0510", {"f-key": "edited"})])
    assert [c.id for c in plan.changes] == ["REQ-0509", "REQ-9999"]
    assert stale == {
        "REQ-0510": "sensitive field 'api_key' is not declared as it was "
        "when the plan was made; re-run plan"
    }


def test_holds_before_uses_the_field_rules_when_given() -> None:
    change = FieldChange("f-num", "cost", 1, 2)
    number = Field("f-num", "cost", "Cost", "number")
    assert change.holds_before(1.0, number)
    assert not change.holds_before(1.0)


def test_saving_needs_a_target() -> None:
    with pytest.raises(PlanError, match="without its target"):
        saved_data(Plan(changes=()), [])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: [], "plan.json: not a saved plan (expected a JSON object)"),
        (lambda d: {k: v for k, v in d.items() if k != "kind"}, "plan.json: not a saved plan;"),
        (lambda d: {**d, "format_version": 99}, "plan.json: format_version 99 is not supported"),
        (
            lambda d: {**d, "unchanged": ["REQ-0001"]},
            "plan.json: checksum does not match: the file was edited or is damaged",
        ),
    ],
)
def test_load_refuses_bad_files_with_a_clear_message(edit: Any, message: str) -> None:
    data, _ = saved_round_trip(make_plan())
    with pytest.raises(PlanError) as caught:
        load_saved_plan(edit(data), "plan.json")
    assert str(caught.value).startswith(message)


def test_load_refuses_the_masked_json_output() -> None:
    with pytest.raises(PlanError, match="--format json output masks sensitive values"):
        load_saved_plan(make_plan().to_data(), "plan.json")


def resealed(data: dict[str, Any]) -> dict[str, Any]:
    """Recompute the checksum, as a careless hand edit with the right tools would."""
    rest = {k: v for k, v in data.items() if k != "checksum"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**rest, "checksum": "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()}


def test_load_names_the_malformed_entry() -> None:
    data, _ = saved_round_trip(make_plan())
    del data["changes"][0]["fields"][0]["field_id"]
    with pytest.raises(PlanError) as caught:
        load_saved_plan(resealed(data), "plan.json")
    assert str(caught.value) == (
        "plan.json: changes[0].fields[0]: 'field_id' is missing or not a string"
    )
    data, _ = saved_round_trip(make_plan())
    data["changes"][1]["fields"][1]["after"] = "new-secret"
    with pytest.raises(PlanError, match=r"changes\[1\].fields\[1\]: a sensitive value is not"):
        load_saved_plan(resealed(data), "plan.json")


def test_request_budget_describes_reads_writes_and_time_under_the_limit() -> None:
    assert RequestBudget(101, 10, rate_limit=5).describe() == (
        "Request budget: 101 reads, 10 writes; at 5 requests/s about 22 s."
    )
    assert RequestBudget(1, 0).describe() == "Request budget: 1 reads, 0 writes (no rate limit)."
    assert RequestBudget(10_001, 1_000, rate_limit=10).expected_seconds == pytest.approx(1100.1)
