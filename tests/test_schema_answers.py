"""The ticket-type answer in shapes the contract does not promise: one ApiError that
says which type, which field and which key, never a KeyError or a guess."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.errors import ApiError
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
