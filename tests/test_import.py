"""``reconcile import``: a manifest of live tickets that plans with no changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.importer import render_import
from reconcile.manifest import load_manifests, parse_manifest, resolve_tickets
from reconcile.manifest.write import dump_manifest
from reconcile.sandbox import Sandbox
from reconcile.sandbox.demo import demo_ticket_types, demo_tickets
from reconcile.schema import Field, Schema
from reconcile.ticket import LiveTicket

SCHEMA = Schema.from_api(demo_ticket_types())
DEMO = demo_tickets(demo_ticket_types())
KNOWN_TYPES = frozenset(
    {"text", "richtext", "number", "boolean", "date", "datetime", "select", "multiselect"}
    | {"reference", "array"}
)
"""Every field type of the contract."""


def test_import_all_plans_clean_for_every_ticket_and_field_type(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    result = cli("import", "--all", "-o", "all.yaml")
    assert f"Imported {len(DEMO)} ticket(s) into all.yaml." in result.stderr
    declared = load_manifests([tmp_path / "all.yaml"])
    assert [t.id for t in declared] == sorted(
        (t["object_id"] for t in DEMO), key=lambda i: (i[:3], int(i[4:]))
    )
    types = {
        f.type for d in resolve_tickets(declared, SCHEMA) for f in d.type.fields if f.id in d.values
    }
    assert types == KNOWN_TYPES
    plan = json.loads(cli("plan", "all.yaml", "--format", "json").stdout)
    assert plan["summary"] == {"create": 0, "update": 0, "unchanged": len(DEMO), "error": 0}


TRICKY = """\
tickets:
  - id: REQ-0509
    fields:
      summary: "no"
      location: "2026-12-24"
      resolution_notes: "<p>She said \\"it's fine\\"</p>\\n<p>Zoë Ångström ☎</p>\\n\\n  indented"
      description: ""
      impact: null
      watchers: ["1e3", "null", "a, b", "#x"]
      checklist: []
      estimated_hours: 1e3
      approved: false
      due_date: 2026-12-24
      requested_at: 2026-10-01T08:00:00+02:00
"""


def test_import_round_trips_tricky_values(cli: Callable[..., object], tmp_path: Path) -> None:
    (tmp_path / "tricky.yaml").write_text(TRICKY)
    cli("apply", "tricky.yaml", "--auto-approve")
    text = cli("import", "REQ-0509").stdout
    assert "summary: 'no'\n" in text and "location: '2026-12-24'\n" in text
    assert "due_date: 2026-12-24\n" in text  # a date field's date stays plain
    assert "watchers: ['1e3', 'null', 'a, b', '#x']\n" in text
    assert 'resolution_notes: |-\n        <p>She said "it\'s fine"</p>\n' in text
    assert "estimated_hours: 1000.0\n" in text and "approved: false\n" in text
    assert "impact:" not in text  # cleared live: absent from data, not imported
    (tmp_path / "imported.yaml").write_text(text)
    cli("plan", "imported.yaml", "--detailed-exitcode", expect=0)


def test_import_named_fields_declares_absent_ones_empty(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    text = cli("import", "REQ-0509", "CTC-0050", "--fields", "description,Tags").stdout
    assert text.count("- id: ") == 2
    (tmp_path / "some.yaml").write_text(text)
    (declared_req, _) = load_manifests([tmp_path / "some.yaml"])
    assert [f.key for f in declared_req.fields] == ["description", "tags"]
    cli("plan", "some.yaml", "--detailed-exitcode", expect=0)


def test_import_all_filters_by_prefix_and_team(cli: Callable[..., object]) -> None:
    text = cli("import", "--all", "--prefix", "PMT", "--team", "finance").stdout
    want = [
        t["object_id"] for t in DEMO if t["object_id"].startswith("PMT") and t["team"] == "finance"
    ]
    assert want and [t.id for t in parse_manifest(text, "x")] == sorted(want)


def test_import_errors_exit_1(cli: Callable[..., object], sandbox: Sandbox) -> None:
    assert "give ticket IDs or --all" in cli("import", expect=1).stderr
    assert "no such field" in cli("import", "REQ-0509", "--fields", "nope", expect=1).stderr
    assert "REQ-9999" in cli("import", "REQ-9999", expect=1).stderr
    assert "not a display ID" in cli("import", "REQ-1", expect=1).stderr


def test_render_import_is_sorted_and_notes_values_it_cannot_declare() -> None:
    req = SCHEMA.type_for("REQ-0001")
    priority = req.resolve("priority")
    tickets = [
        LiveTicket("REQ-10000", "e", {priority.id: "Urgent"}),
        LiveTicket("REQ-9999", "e", {priority.id: "Low"}),
    ]
    imported = render_import(tickets, SCHEMA)
    assert imported.text.index("REQ-9999") < imported.text.index("REQ-10000")
    assert imported.notes == (
        "REQ-10000 field 'priority': 'Urgent' is not an option "
        "(options: Low, Medium, High, Critical); not imported",
    )


TEXT = Field("t", "t", "T", "text")


def _read_back(value: object, field: Field) -> object:
    text = dump_manifest({"tickets": [{"id": "REQ-0001", "fields": {"k": value}}]})
    return parse_manifest(text, "x.yaml")[0].fields[0].value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_reads_back_exactly(value: str) -> None:
    assert _read_back(value, TEXT) == value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=8)))
def test_any_list_of_strings_reads_back_exactly(value: list[str]) -> None:
    assert _read_back(value, Field("a", "a", "A", "array")) == value
