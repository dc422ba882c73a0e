"""The ticket-type answer in shapes the contract does not promise: one ApiError that
says which type, which field and which key, never a KeyError or a guess."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.errors import ApiError, ManifestError
from reconcile.manifest import parse_manifest, resolve_tickets
from reconcile.schema import Schema

TYPE = {"id": "t1", "prefix": "REQ", "fields": [{"id": "f1", "type": "text"}]}
WHERE = "unexpected ticket-type answer: type #1"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"data": {"REQ": TYPE}}, "unexpected ticket-type answer: no 'data' list"),
        ({"items": [TYPE]}, "unexpected ticket-type answer: no 'data' list"),
        ([TYPE, "CTC"], "unexpected ticket-type answer: type #2 is not an object"),
        ([{**TYPE, "prefix": None, "id": 7}], f"{WHERE} has no 'id', 'prefix'"),
        ([{**TYPE, "fields": {"f1": "text"}}], f"{WHERE} (REQ): 'fields' is not a list"),
        ([{**TYPE, "fields": ["f1"]}], f"{WHERE} (REQ) field #1 is not an object"),
        ([{**TYPE, "fields": [{"id": "f1"}]}], f"{WHERE} (REQ) field #1 has no 'type'"),
    ],
)
def test_a_malformed_ticket_type_answer(payload: Any, message: str) -> None:
    with pytest.raises(ApiError) as raised:
        Schema.from_api(payload)
    assert str(raised.value) == message


def test_optional_keys_are_defaulted() -> None:
    [ticket_type] = Schema.from_api([{**TYPE, "fields": None}]).types
    assert ticket_type.name == "REQ" and ticket_type.fields == ()
    [field] = Schema.from_api([TYPE]).types[0].fields
    assert (field.name, field.label, field.required, field.options) == ("f1", "f1", False, None)


FIELD = {"id": "f1", "type": "text"}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({**FIELD, "name": {"en": "x"}}, "field #1: 'name' is not a string"),
        ({**FIELD, "label": 3}, "field #1: 'label' is not a string"),
        ({**FIELD, "required": "false"}, "field #1 (f1): 'required' is not true or false"),
        ({**FIELD, "options": "A,B"}, "field #1 (f1): 'options' is not a list of strings"),
        ({**FIELD, "id": "f\ud800"}, "field #1: 'id' is not text (it holds a lone surrogate)"),
    ],
)
def test_a_field_of_the_wrong_kind_is_refused(field: dict[str, Any], message: str) -> None:
    """Before: ``str()`` and ``bool()`` made a name of a mapping and a required field of
    ``"false"``."""
    with pytest.raises(ApiError) as raised:
        Schema.from_api([{**TYPE, "fields": [field]}])
    assert str(raised.value) == f"{WHERE} (REQ) {message}"


def test_two_types_of_one_id_are_refused() -> None:
    """Before: a ticket whose ticket_type_id both had was taken as the first's (policies)."""
    with pytest.raises(ApiError) as raised:
        Schema.from_api([TYPE, {**TYPE, "prefix": "CTC"}])
    assert str(raised.value) == "unexpected ticket-type answer: types #1 and #2 share the id 't1'"


def test_two_fields_of_one_id_are_refused() -> None:
    with pytest.raises(ApiError) as raised:
        Schema.from_api([{**TYPE, "fields": [FIELD, {**FIELD, "name": "other"}]}])
    assert str(raised.value) == f"{WHERE} (REQ): fields #1 and #2 share the id 'f1'"


def test_null_optional_keys_are_defaulted() -> None:
    [ticket_type] = Schema.from_api(
        [{**TYPE, "name": None, "fields": [{**FIELD, "label": None, "required": None}]}]
    ).types
    [field] = ticket_type.fields
    assert (ticket_type.name, field.label, field.required) == ("REQ", "f1", False)


def _resolved(schema: Schema, text: str) -> str:
    """The one problem of resolving ``text`` against ``schema``."""
    with pytest.raises(ManifestError) as raised:
        resolve_tickets(parse_manifest(text, "m.yaml"), schema)
    [problem] = raised.value.problems
    return problem.message


def test_a_label_two_fields_share_names_neither() -> None:
    """Before: the first field of the label was set."""
    fields = [{**FIELD, "label": "Status"}, {"id": "f2", "name": "state", "type": "text",
              "label": "status"}]  # fmt: skip
    schema = Schema.from_api([{**TYPE, "fields": fields}])
    text = "tickets:\n  - id: REQ-0001\n    fields:\n      Status: open\n"
    expected = "REQ-0001: unknown field 'Status' (did you mean 'f1' or 'state'?)"
    assert _resolved(schema, text) == expected
    assert schema.types[0].resolve("state") == schema.types[0].fields[1]


def test_a_type_name_two_types_share_is_refused() -> None:
    """Before: the first type of the name got the ticket."""
    other = {**TYPE, "id": "t2", "prefix": "CTC"}
    schema = Schema.from_api([{**TYPE, "name": "Change"}, {**other, "name": "Change"}])
    text = "tickets:\n  - key: k1\n    type: Change\n    fields:\n      f1: x\n"
    assert _resolved(schema, text).endswith(
        "ticket type 'Change' names 2 types (prefixes REQ, CTC); give the prefix"
    )
