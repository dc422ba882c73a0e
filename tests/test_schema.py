"""Field rules of reconcile.schema: checking and comparing values, per field type."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.sandbox.fields import check_value
from reconcile.schema import Field

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
        # Fractions are cut to microseconds, the same way on both sides.
        ("2026-12-24T10:00:00.1234564Z", "2026-12-24T10:00:00.123456999Z"),
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
        ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00"),
        ("2026-12-24T10:00:00Z", 1798106400),
    ],
)
def test_datetimes_differ_when_they_are_other_instants_or_malformed(
    desired: str, live: Any
) -> None:
    assert not DATETIME.equal(desired, live)
