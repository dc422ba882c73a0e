"""``reconcile schema pull/json``, the lock file, and schema drift in plan."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from reconcile.lock import dump_lock, read_lock, schema_drift, write_lock
from reconcile.manifest import DOCUMENT_KEYS, POLICY_KEYS, SELECT_KEYS, TICKET_KEYS
from reconcile.sandbox.demo import demo_ticket_types
from reconcile.schema import Schema, TicketType

LIVE = Schema.from_api(demo_ticket_types())
MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      {}\n"


def _with_field(schema: Schema, prefix: str, field: str, **changes: object) -> Schema:
    """``schema`` with one field of one type changed."""
    types = []
    for t in schema.types:
        if t.prefix == prefix:
            fields = tuple(f if f.name != field else replace(f, **changes) for f in t.fields)
            t = replace(t, fields=fields)
        types.append(t)
    return Schema(tuple(types))


def test_pull_writes_the_lock_and_it_reads_back(cli: Callable[..., object], tmp_path: Path) -> None:
    result = cli("schema", "pull")
    assert "reconcile.lock.yaml: 3 ticket type(s), 58 field(s)." in result.stderr
    assert read_lock(tmp_path / "reconcile.lock.yaml") == LIVE
    cli("schema", "pull", "-o", "other.lock")
    assert (tmp_path / "other.lock").read_text() == dump_lock(LIVE)


def test_pull_writes_beside_reconcile_yaml(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "reconcile.yaml").write_text("parallelism: 2\n")
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    cli("schema", "pull")
    assert (tmp_path / "reconcile.lock.yaml").is_file()
    assert not (tmp_path / "deep" / "reconcile.lock.yaml").exists()


def test_schema_drift_messages() -> None:
    live = _with_field(LIVE, "REQ", "priority", name="prio", options=("Low", "High"))
    live = _with_field(live, "REQ", "tags", type="array", label="Labels")
    live = _with_field(live, "REQ", "location", required=True)
    req = live.type_for("REQ-0001")
    req = replace(req, fields=tuple(f for f in req.fields if f.name != "watchers"))
    live = Schema((req, *(t for t in live.types if t.prefix == "CTC")))
    watchers = LIVE.type_for("REQ-0001").resolve("watchers")
    assert schema_drift(LIVE, live) == [
        "REQ field 'priority' was renamed to 'prio'",
        "REQ field 'priority': option 'Medium' is gone",
        "REQ field 'priority': option 'Critical' is gone",
        "REQ field 'tags': label 'Tags' changed to 'Labels'",
        "REQ field 'tags' changed type from multiselect to array",
        f"REQ field 'watchers' ({watchers.id}) was removed",
        "REQ field 'location' is now required",
        "ticket type 'Payment' (PMT) is gone",
    ]
    grown = Schema((*LIVE.types, TicketType("x", "New", "NEW", ())))
    assert schema_drift(LIVE, grown) == []


def test_plan_reports_schema_drift_before_ticket_changes(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    write_lock(_with_field(LIVE, "REQ", "priority", name="prio"), tmp_path / "reconcile.lock.yaml")
    (tmp_path / "m.yaml").write_text(MANIFEST.format("priority: High"))
    text = cli("plan", "m.yaml").stdout
    assert text.startswith("Schema drift:\n  ! REQ field 'prio' was renamed to 'priority'\n")
    assert text.index("Schema drift") < text.index("~ REQ-0509")
    data = json.loads(cli("plan", "m.yaml", "--format", "json").stdout)
    assert data["schema_drift"] == ["REQ field 'prio' was renamed to 'priority'"]
    markdown = cli("drift", "m.yaml", "--format", "markdown", expect=2).stdout
    assert markdown.index("**Schema drift**") < markdown.index("REQ-0509")


def test_plan_explains_a_failure_by_schema_drift(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    write_lock(_with_field(LIVE, "REQ", "location", name="site"), tmp_path / "reconcile.lock.yaml")
    (tmp_path / "m.yaml").write_text(MANIFEST.format("site: HQ"))
    err = cli("plan", "m.yaml", expect=1).stderr.splitlines()
    assert err[0].endswith("reconcile.lock.yaml: REQ field 'site' was renamed to 'location'")
    assert err[0].startswith("Error: schema drift since ")
    assert err[1].startswith("m.yaml:4: REQ-0509: unknown field 'site'")


def test_schema_json(cli: Callable[..., object]) -> None:
    schema = json.loads(cli("schema", "json").stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["oneOf"] == [
        {"$ref": "#/$defs/ticket_document"},
        {"$ref": "#/$defs/policy_document"},
    ]
    document = schema["$defs"]["ticket_document"]
    assert set(document["properties"]) == set(DOCUMENT_KEYS)
    policy = schema["$defs"]["policy_document"]
    assert set(policy["properties"]) == set(POLICY_KEYS)
    assert set(policy["properties"]["select"]["properties"]) == set(SELECT_KEYS)
    ticket = schema["$defs"]["ticket"]
    assert set(ticket["properties"]) == set(TICKET_KEYS)
    assert ticket["anyOf"] == [{"required": ["id"]}, {"required": ["key", "type"]}]
    pattern = re.compile(ticket["properties"]["id"]["pattern"])
    assert pattern.match("REQ-10000") and not pattern.match("REQ-509")
    # Editors read JSON Schema patterns as ECMAScript regexes: no Python-only syntax.
    assert "(?P<" not in pattern.pattern and "\\Z" not in pattern.pattern
    assert document["additionalProperties"] is False and ticket["additionalProperties"] is False
    assert policy["additionalProperties"] is False
