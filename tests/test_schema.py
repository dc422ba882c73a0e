"""Field rules of reconcile.schema: checking and comparing values, per field type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconcile.sandbox import Sandbox
from reconcile.sandbox.fields import check_value
from reconcile.schema import Field

from sandbox_api import edit_by_hand, field_ids, live, patches_by_ticket

NUMBER = Field(id="f-num", name="cost", label="Cost", type="number")
DATETIME = Field(id="f-dt", name="window", label="Window", type="datetime")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        pytest.param(2**53, 2**53 + 1, id="2**53 vs 2**53+1, one float apart"),
        pytest.param(2**53 + 1, float(2**53), id="2**53+1 vs its nearest float"),
        pytest.param(10**300, 10**300 + 1, id="300 digits, float() overflows"),
        pytest.param(10**300, 1e300, id="300 digits vs 1e300"),
        pytest.param(10**400, 1.5, id="400 digits vs a float"),
        pytest.param(5, "5", id="number vs string"),
        pytest.param(1, True, id="1 vs true"),
        pytest.param(0, False, id="0 vs false"),
    ],
)
def test_numbers_compare_exactly_and_only_as_numbers(desired: Any, live: Any) -> None:
    assert not NUMBER.equal(desired, live)
    assert not NUMBER.equal(live, desired)


@pytest.mark.parametrize(
    ("desired", "live"),
    [(1, 1.0), (2.5, 2.5), pytest.param(10**300, 10**300, id="huge"), (0, -0.0)],
)
def test_numbers_equal_by_value(desired: Any, live: Any) -> None:
    assert NUMBER.equal(desired, live)


JSON_FIELD = Field(id="f-json", name="settings", label="Settings", type="unknown")


@pytest.mark.parametrize(
    ("desired", "live", "equal"),
    [
        ({"a": [1, 2.0]}, {"a": [1.0, 2]}, True),
        ({"a": {"b": None}}, {"a": {"b": None}}, True),
        pytest.param({"": False}, {"": 0}, False, id="false vs 0 inside"),
        pytest.param([True], [1], False, id="true vs 1 inside"),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": [1, 2]}, {"a": [2, 1]}, False),
        ({"a": 1}, {"a": 1, "b": None}, False),
    ],
)
def test_a_nested_value_equals_as_json_with_numbers_by_value(
    desired: Any, live: Any, equal: bool
) -> None:
    assert JSON_FIELD.equal(desired, live) is equal
    assert JSON_FIELD.equal(live, desired) is equal


def test_a_huge_integer_is_a_number_and_checking_it_does_not_raise() -> None:
    assert NUMBER.check(10**300) is None
    assert NUMBER.check(-(10**4000)) is None
    assert NUMBER.check(float("inf")) == "expects a finite number"
    assert NUMBER.check(True) == "expects a number, got a boolean True"


# --------------------------------------------------------------------------- datetimes

# What the server accepts and refuses (reconcile.sandbox.fields); the client must agree,
# on every Python version (datetime.fromisoformat's forms differ between 3.10 and 3.11).
ACCEPTED = [
    "2026-12-24T10:00:00Z",
    "2026-12-24T10:00:00z",
    "2026-12-24 10:00:00+01:00",
    "2026-12-24T10:00Z",
    "2026-12-24T10:00:00.5Z",
    "2026-12-24T10:00:00.1234Z",
    "2026-12-24T10:00:00.123456789-05:30",
    "2026-12-24T23:59:59+23:59",
    "2026-12-24T00:00:00-23:59",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59.999999Z",
]
REFUSED = [
    "2026-12-24T10:00:00",  # no offset
    "2026-12-24",
    "2026-W52-4T10:00:00Z",  # ISO week date
    "2026-358T10:00:00Z",  # ordinal date
    "20261224T100000Z",  # basic format
    "2026-12-24T10:00:00+00:60",
    "2026-12-24T10:00:00+24:00",
    "2026-12-24T10:00:00+0100",
    "2026-12-24T10:00:00+01",
    "2026-12-24T10:00:00+01:00:00",
    "2026-12-24T10Z",
    "2026-12-24T10:00.5Z",  # a fraction needs seconds
    "2026-12-24T10:00:00.Z",
    "2026-12-24T10:00:00.1234567890Z",  # ten digits
    "2026-12-24T10:00:00,5Z",
    "2026-12-24t10:00:00Z",
    "2026-12-24T24:00:00Z",
    "2026-12-24T10:60:00Z",
    "2026-12-24T10:00:60Z",
    "2026-02-30T10:00:00Z",
    "0000-01-01T00:00:00Z",
    " 2026-12-24T10:00:00Z",
    "2026-12-24T10:00:00Z ",
    "2026-12-24T10:00:00 Z",
    "２０２６-12-24T10:00:00Z",  # fullwidth digits
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_a_datetime_the_server_accepts_is_accepted(value: str) -> None:
    assert check_value({"type": "datetime"}, value) is None
    assert DATETIME.check(value) is None
    assert DATETIME.equal(value, value)


@pytest.mark.parametrize("value", REFUSED)
def test_a_datetime_the_server_refuses_is_refused(value: str) -> None:
    assert check_value({"type": "datetime"}, value) is not None
    assert DATETIME.check(value) == (
        f"expects an ISO 8601 date-time with an offset, got a string {value!r}"
    )
    assert not DATETIME.equal(value, value)


def test_a_datetime_with_a_trailing_newline_is_refused() -> None:
    assert DATETIME.check("2026-12-24T10:00:00Z\n") is not None


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00+00:00"),
        ("2026-12-24T10:00Z", "2026-12-24 10:00:00.000000000+00:00"),
        ("2026-12-24T12:30:00+02:30", "2026-12-24T10:00:00Z"),
        ("2026-12-24T00:00:00-23:59", "2026-12-24T23:59:00Z"),
        ("2026-12-24T10:00:00.5Z", "2026-12-24T10:00:00.500000Z"),
        ("2026-12-24T10:00:00.123456Z", "2026-12-24T10:00:00.123456000Z"),
        ("2026-12-24T10:00:00.123456789Z", "2026-12-24T12:00:00.123456789+02:00"),
        ("9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59-05:00"),
    ],
)
def test_datetimes_are_equal_when_they_are_the_same_instant(desired: str, live: str) -> None:
    assert DATETIME.equal(desired, live)
    assert DATETIME.equal(live, desired)


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00+01:00"),
        ("2026-12-24T10:00:00.000001Z", "2026-12-24T10:00:00Z"),
        # Compared to the precision given: nanoseconds count.
        ("2026-12-24T10:00:00.123456000Z", "2026-12-24T10:00:00.123456999Z"),
        ("2026-12-24T10:00:00.1234564Z", "2026-12-24T10:00:00.123456Z"),
        ("2026-12-24T10:00:00.000000001Z", "2026-12-24T10:00:00Z"),
        ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00"),
        ("2026-12-24T10:00:00Z", 1798106400),
    ],
)
def test_datetimes_differ_when_they_are_other_instants_or_malformed(
    desired: str, live: Any
) -> None:
    assert not DATETIME.equal(desired, live)


# --------------------------------------------------------------------------- references

REFERENCE = Field(id="f-ref", name="requester", label="Requester", type="reference")
CANONICAL = "081fa3d8-346f-460a-a1b1-dc4ae6d46b2d"


@pytest.mark.parametrize("value", [CANONICAL, CANONICAL.upper()])
def test_a_reference_in_hyphenated_form_is_accepted_by_both(value: str) -> None:
    assert REFERENCE.check(value) is None
    assert check_value({"type": "reference"}, value) is None


@pytest.mark.parametrize(
    "value",
    [
        "{" + CANONICAL + "}",
        "urn:uuid:" + CANONICAL,
        CANONICAL.replace("-", ""),
        CANONICAL[:-1],
        CANONICAL + "0",
        CANONICAL + "\n",
        " " + CANONICAL,
        CANONICAL[:8] + CANONICAL[9:13] + "-" + CANONICAL[13:],
        "０８１fa3d8-346f-460a-a1b1-dc4ae6d46b2d",  # fullwidth digits
    ],
    ids=["braces", "urn", "no-dashes", "short", "long", "newline", "space", "moved-dash", "wide"],
)
def test_a_reference_in_another_form_is_refused_by_both(value: str) -> None:
    """What validate and plan accept, the server accepts: the same one form on both sides."""
    assert REFERENCE.check(value) is not None
    assert check_value({"type": "reference"}, value) is not None


# --------------------------------------------------------------------------- against the sandbox


def _manifest(path: Path, field: str, value: str) -> None:
    path.write_text(f"tickets:\n  - id: REQ-0509\n    fields:\n      {field}: '{value}'\n")


def test_datetimes_differ_to_the_nanosecond_in_plan_and_apply(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    requested_at = field_ids(sandbox)["requested_at"]
    edit_by_hand(sandbox, "REQ-0509", {requested_at: "2026-12-24T10:00:00.123456000Z"})
    _manifest(tmp_path / "m.yaml", "requested_at", "2026-12-24T10:00:00.123456Z")
    cli("plan", "m.yaml", "--detailed-exitcode", expect=0)  # the same instant
    _manifest(tmp_path / "m.yaml", "requested_at", "2026-12-24T10:00:00.123456999Z")
    cli("plan", "m.yaml", "--detailed-exitcode", expect=2)
    cli("apply", "m.yaml", "--auto-approve")
    assert live(sandbox, "REQ-0509")["data"][requested_at] == "2026-12-24T10:00:00.123456999Z"
    cli("plan", "m.yaml", "--detailed-exitcode", expect=0)


REFUSED_FORMS = {
    "braces": "{081fa3d8-346f-460a-a1b1-dc4ae6d46b2d}",
    "urn": "urn:uuid:081fa3d8-346f-460a-a1b1-dc4ae6d46b2d",
    "no-dashes": "081fa3d8346f460aa1b1dc4ae6d46b2d",
}


@pytest.mark.parametrize("form", REFUSED_FORMS.values(), ids=REFUSED_FORMS.keys())
def test_a_reference_form_the_server_refuses_is_refused_before_any_write(
    cli: Callable[..., Any], sandbox: Sandbox, tmp_path: Path, form: str
) -> None:
    _manifest(tmp_path / "m.yaml", "assignee", form)
    cli("schema", "pull", "-o", "reconcile.lock.yaml")
    for command in (["validate", "m.yaml"], ["plan", "m.yaml"], ["apply", "m.yaml", "-y"]):
        if command[0] == "apply":
            command = ["apply", "m.yaml", "--auto-approve"]
        result = cli(*command, expect=1)
        assert result.stderr.startswith(
            "Error: m.yaml:4: REQ-0509 field 'assignee': expects a UUID"
        )
    assert patches_by_ticket(sandbox) == {}
    _manifest(tmp_path / "m.yaml", "assignee", "0ab22d79-61ec-49dc-8be1-af5f27be4cef")
    cli("validate", "m.yaml")
    cli("apply", "m.yaml", "--auto-approve")  # the form both accept, the server takes
    assert patches_by_ticket(sandbox) == {"REQ-0509": 1}
