"""The one manifest writer: new documents, in-place edits, and writing back a ticket's ID."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconcile.manifest import parse_manifest
from reconcile.manifest.write import (
    ManifestEditor,
    ManifestWriteError,
    dump_manifest,
    write_ticket_ids,
    yaml_value,
)

MANIFEST = """\
# Network freeze
defaults:
  fields:
    impact: High   # for every ticket here

tickets:
  - fields:            # a ticket to create: no id yet
      summary: 'no'
      Tags: [freeze, q4]
  - id: REQ-0509     # the core switch
    fields:
      priority: Low
---
tickets:
  - fields: {summary: second document}
"""


def test_write_ticket_ids_adds_the_id_first_and_keeps_everything_else() -> None:
    text = write_ticket_ids(MANIFEST, "m.yaml", {7: "REQ-0510", 15: "REQ-0511"})
    assert text == MANIFEST.replace(
        "  - fields:            # a ticket to create: no id yet\n",
        "  - id: REQ-0510\n    fields:            # a ticket to create: no id yet\n",
    ).replace(
        "  - fields: {summary: second document}\n",
        "  - id: REQ-0511\n    fields: {summary: second document}\n",
    )
    read = parse_manifest(text, "m.yaml")
    assert [t.id for t in read] == ["REQ-0510", "REQ-0509", "REQ-0511"]
    assert read[0].location.line == 7  # the entry's line, as the loader reports it


def test_write_ticket_ids_replaces_an_id_and_refuses_a_line_without_an_entry() -> None:
    text = write_ticket_ids(MANIFEST, "m.yaml", {10: "REQ-0600"})
    assert "  - id: REQ-0600     # the core switch\n" in text
    with pytest.raises(
        ManifestWriteError, match=r"^m.yaml:8: no ticket entry starts on this line$"
    ):
        write_ticket_ids(MANIFEST, "m.yaml", {8: "REQ-0600"})
    with pytest.raises(ManifestWriteError, match=r"^m.yaml: cannot edit: "):
        write_ticket_ids("tickets: [", "m.yaml", {1: "REQ-0600"})


def test_edits_and_new_documents_quote_by_the_same_rule() -> None:
    editor = ManifestEditor("tickets:\n  - id: REQ-0001\n    fields:\n      a: x\n", "m.yaml")
    editor.documents[0]["tickets"][0]["fields"]["a"] = yaml_value(["no", ":0", "a, b"])
    edited = editor.text()
    new = dump_manifest({"tickets": [{"id": "REQ-0001", "fields": {"a": ["no", ":0", "a, b"]}}]})
    assert (
        edited == new == "tickets:\n  - id: REQ-0001\n    fields:\n      a: ['no', ':0', 'a, b']\n"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1), st.text())
@example("<<", "")  # quoted, a name; only a plain << is a merge key
def test_any_key_and_value_read_back_exactly_from_an_edit(key: str, value: str) -> None:
    editor = ManifestEditor("tickets:\n  - id: REQ-0001\n    fields: {}\n", "m.yaml")
    editor.documents[0]["tickets"][0]["fields"] = yaml_value({key: value, "_list": [value]})
    (field, *rest) = parse_manifest(editor.text(), "m.yaml")[0].fields
    assert (field.key, field.value) == (key, value)
    assert key == "_list" or rest[0].value == [value]
