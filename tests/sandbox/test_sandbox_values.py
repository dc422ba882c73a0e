"""The sandbox's checks of sent values and its no-op detection, by field type."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("estimated_hours", {"h": 3}, "expects a number (clear with null), got an object"),
        ("requester", 42, "expects a UUID string (clear with null), got a number"),
        ("requester", ["a"], "expects a UUID string (clear with null), got an array"),
    ],
)
def test_a_value_of_the_wrong_type_is_400_naming_it(
    api: Any, field: str, value: Any, reason: str
) -> None:
    field_id = api.fields("REQ")[field]["id"]
    response = api.update("REQ-0509", {field_id: value})
    assert response.status_code == 400
    assert response.json()["validationResult"]["reason"] == {field_id: reason}


def test_a_number_too_large_for_a_float_is_400(api: Any) -> None:
    field_id = api.fields("REQ")["estimated_hours"]["id"]
    etag = api.ticket("REQ-0509")["etag"]
    body = f'{{"etag": "{etag}", "ticketUpdate": {{"{field_id}": 1e999}}}}'
    response = api.patch(
        "REQ-0509", None, data=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["validationResult"]["reason"] == {field_id: "expects a finite number"}


def test_equal_numbers_and_reordered_options_are_no_op_writes(api: Any, sandbox: Any) -> None:
    fields = api.fields("REQ")
    hours, tags = fields["estimated_hours"]["id"], fields["tags"]["id"]
    assert api.update("REQ-0509", {hours: 3, tags: ["q4", "vip"]}).status_code == 200
    sandbox.reset_stats()
    assert api.update("REQ-0509", {hours: 3.0, tags: ["vip", "q4"]}).status_code == 200
    assert sandbox.stats()["writes"]["noop_patches"] == 1
