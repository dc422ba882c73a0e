"""The pure diff: literal schema, literal desired and live tickets, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from reconcile.diff import diff_ticket, make_plan
from reconcile.errors import ApiError, TicketNotFound
from reconcile.manifest import parse_manifest, resolve_tickets
from reconcile.plan import Action, FieldChange, Target
from reconcile.schema import Schema, TicketType
from reconcile.ticket import LiveTicket

SCHEMA = Schema.from_api(
    {
        "data": [
            {
                "id": "type-req",
                "name": "Service Request",
                "prefix": "REQ",
                "fields": [
                    {"id": "f-text", "name": "summary", "label": "Summary", "type": "text"},
                    {
                        "id": "f-rich",
                        "name": "description",
                        "label": "Description",
                        "type": "richtext",
                    },
                    {"id": "f-num", "name": "cost", "label": "Cost", "type": "number"},
                    {"id": "f-bool", "name": "urgent", "label": "Urgent", "type": "boolean"},
                    {"id": "f-date", "name": "due", "label": "Due", "type": "date"},
                    {"id": "f-dt", "name": "window", "label": "Window", "type": "datetime"},
                    {
                        "id": "f-sel",
                        "name": "priority",
                        "label": "Priority",
                        "type": "select",
                        "options": ["Low", "Medium", "High"],
                        "required": True,
                    },
                    {
                        "id": "f-multi",
                        "name": "tags",
                        "label": "Tags",
                        "type": "multiselect",
                        "options": ["freeze", "q4", "net"],
                    },
                    {"id": "f-ref", "name": "owner", "label": "Owner", "type": "reference"},
                    {"id": "f-arr", "name": "steps", "label": "Steps", "type": "array"},
                ],
            }
        ]
    }
)
REQ: TicketType = SCHEMA.types[0]


@dataclass(frozen=True)
class Location:
    path: str
    line: int


@dataclass(frozen=True)
class Desired:
    """Stand-in with the shape of reconcile.manifest.DesiredTicket."""

    id: str
    values: dict[str, Any]
    type: TicketType = REQ
    location: Location = Location("m.yaml", 1)
    sensitive: frozenset[str] = frozenset()
    protected: frozenset[str] = frozenset()
    locations: dict[str, Location] = field(default_factory=dict)
    key: str | None = None
    key_field: str | None = None

    @property
    def name(self) -> str:
        return self.id

    sources: dict[str, Any] = field(default_factory=dict)
    selectors: tuple[Any, ...] = ()


def live(object_id: str = "REQ-0509", data: dict[str, Any] | None = None, **kw: Any) -> LiveTicket:
    return LiveTicket(object_id=object_id, etag="etag-1", data=data or {}, **kw)


EQUAL_PAIRS = [
    ("f-text", "a", "a"),
    ("f-text", "", None),
    ("f-rich", "", None),
    ("f-num", 1, 1.0),
    ("f-num", 2.5, 2.5),
    ("f-bool", False, False),
    ("f-date", "2026-12-24", "2026-12-24"),
    ("f-dt", "2026-12-24T10:00:00Z", "2026-12-24T10:00:00+00:00"),
    ("f-dt", "2026-12-24T12:00:00+02:00", "2026-12-24T10:00:00Z"),
    ("f-sel", "High", "High"),
    ("f-multi", ["q4", "freeze"], ["freeze", "q4"]),
    ("f-multi", [], None),
    ("f-ref", "8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10", "8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10"),
    ("f-arr", ["a", "b"], ["a", "b"]),
    ("f-arr", [], None),
]


@pytest.mark.parametrize(("field_id", "desired", "current"), EQUAL_PAIRS)
def test_equal_values_give_no_change(field_id: str, desired: Any, current: Any) -> None:
    ticket = Desired("REQ-0509", {field_id: desired})
    assert diff_ticket(ticket, live(data={field_id: current})) is None


DIFFERENT_PAIRS = [
    ("f-text", "a", "A"),
    ("f-text", "", "x"),
    ("f-num", 1, 2),
    ("f-num", 1, True),
    ("f-num", 0, None),
    ("f-bool", False, None),
    ("f-bool", True, 1),
    ("f-date", "2026-12-24", "2026-12-25"),
    ("f-dt", "2026-12-24T10:00:00Z", "2026-12-24T10:00:01Z"),
    ("f-sel", "High", "Low"),
    ("f-multi", ["q4"], ["q4", "freeze"]),
    ("f-arr", ["a", "b"], ["b", "a"]),
    ("f-arr", ["a"], []),
]


@pytest.mark.parametrize(("field_id", "desired", "current"), DIFFERENT_PAIRS)
def test_different_values_give_one_field_change(field_id: str, desired: Any, current: Any) -> None:
    ticket = Desired("REQ-0509", {field_id: desired})
    change = diff_ticket(ticket, live(data={field_id: current}))
    assert change is not None
    assert change.action == Action.UPDATE
    assert change.ticket_update == {field_id: desired}
    assert change.fields[0].before == current


@pytest.mark.parametrize(("field_id", "empty"), [("f-text", ""), ("f-num", None), ("f-arr", [])])
def test_absent_live_key_equals_the_empty_form(field_id: str, empty: Any) -> None:
    assert diff_ticket(Desired("REQ-0509", {field_id: empty}), live(data={})) is None
    change = diff_ticket(Desired("REQ-0509", {field_id: "x" if empty == "" else [1]}), live())
    assert change is not None
    assert change.fields[0].before == empty


def test_clearing_sends_the_fields_own_empty_form() -> None:
    # Resolution makes the values canonical; the diff sends them as they are.
    [ticket] = resolve_tickets(
        parse_manifest(
            "tickets:\n  - id: REQ-0509\n    fields: {steps: null, summary: null, cost: ''}\n",
            "m.yaml",
        ),
        SCHEMA,
    )
    change = diff_ticket(ticket, live(data={"f-arr": ["a"], "f-text": "t", "f-num": 3}))
    assert change is not None
    assert change.ticket_update == {"f-arr": [], "f-text": "", "f-num": None}


def test_change_carries_name_flags_etag_and_drift_context() -> None:
    ticket = Desired(
        "REQ-0509",
        {"f-sel": "High", "f-text": "secret", "f-num": 3},
        sensitive=frozenset({"f-text"}),
        protected=frozenset({"f-sel"}),
    )
    current = live(
        data={"f-sel": "Low", "f-text": "old", "f-num": 3, "f-unmanaged": "keep"},
        last_updated_by="jdoe",
        last_updated_at="2026-11-20T16:01:09Z",
    )
    change = diff_ticket(ticket, current)
    assert change is not None
    assert change.fields == (
        FieldChange("f-sel", "priority", "Low", "High", sensitive=False, protected=True),
        FieldChange("f-text", "summary", "old", "secret", sensitive=True, protected=False),
    )
    assert change.etag == "etag-1"
    assert (change.last_updated_by, change.last_updated_at) == ("jdoe", "2026-11-20T16:01:09Z")
    assert "f-unmanaged" not in change.ticket_update


def test_live_ticket_of_another_type_is_an_error() -> None:
    change = diff_ticket(Desired("REQ-0509", {"f-num": 1}), live(ticket_type_id="type-other"))
    assert change is not None
    assert change.action == Action.ERROR
    assert change.error is not None and "type-other" in change.error


def test_make_plan_sorts_and_counts_and_turns_read_failures_into_errors() -> None:
    desired = [
        Desired("REQ-10000", {"f-num": 1}),
        Desired("REQ-9999", {"f-num": 1}),
        Desired("REQ-0002", {"f-num": 1}),
        Desired("REQ-0001", {"f-num": 1}),
        Desired("REQ-0003", {"f-num": 1}),
    ]
    reads: dict[str, LiveTicket | ApiError] = {
        "REQ-10000": live("REQ-10000", {"f-num": 2}),
        "REQ-9999": live("REQ-9999", {"f-num": 3}),
        "REQ-0002": TicketNotFound("Ticket not found (REQ-0002)", status=404),
        "REQ-0001": live("REQ-0001", {"f-num": 1.0}),
    }
    target = Target("http://127.0.0.1:1", "tenant", "realm")
    plan = make_plan(desired, reads, target)
    assert [c.id for c in plan.changes] == ["REQ-0002", "REQ-0003", "REQ-9999", "REQ-10000"]
    assert plan.unchanged == ("REQ-0001",)
    assert plan.summary == {"create": 0, "update": 2, "unchanged": 1, "error": 2}
    assert plan.target == target
    errors = {c.id: c.error for c in plan.errors}
    assert errors == {
        "REQ-0002": "Ticket not found (REQ-0002)",
        "REQ-0003": "the ticket was not read",
    }


def test_make_plan_keeps_schema_drift() -> None:
    plan = make_plan([], {}, schema_drift=["field 'cost' was retyped"])
    assert plan.schema_drift == ("field 'cost' was retyped",)
    assert not plan.has_changes


def test_ten_thousand_tickets_of_twenty_fields_diff_to_the_right_summary() -> None:
    """The planner's speed is measured by bench/bench.py; this checks the result at that size."""
    fields = [
        {"id": f"f{n}", "name": f"n{n}", "label": f"L{n}", "type": kind}
        for n, kind in enumerate(["text", "number", "array", "multiselect", "datetime"] * 4)
    ]
    big = Schema.from_api([{"id": "t", "prefix": "REQ", "fields": fields}]).types[0]
    sample = {
        "text": "some text",
        "number": 42,
        "array": ["a", "b", "c"],
        "multiselect": ["x", "y"],
        "datetime": "2026-12-24T10:00:00Z",
    }
    values = {f["id"]: sample[f["type"]] for f in fields}
    desired = [Desired(f"REQ-{n:05d}", dict(values), type=big) for n in range(10_000)]
    reads: dict[str, LiveTicket | ApiError] = {
        d.id: live(d.id, {**values, "f0": "changed"} if n % 10 == 0 else dict(values))
        for n, d in enumerate(desired)
    }
    plan = make_plan(desired, reads)
    assert plan.summary == {"create": 0, "update": 1000, "unchanged": 9000, "error": 0}
