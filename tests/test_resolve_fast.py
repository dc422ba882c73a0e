"""Resolution's fast path takes what the full check takes, and nothing else.

A ticket without document defaults is resolved by each key's taker (remembering
values accepted before); one with defaults by the full path, which reports every
problem. Every value here is resolved both ways, twice in a row (the second time
from what the first remembered), and must give the same values or the same problems.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_manifest import SCHEMA

from reconcile.errors import ManifestError
from reconcile.manifest import parse_manifest, resolve_tickets
from reconcile.schema import Field

FIELDS = [f for f in SCHEMA.types[0].fields if f.name != "external_ref"]
DEFAULT = {"external_ref": "from the defaults"}
EXTERNAL_REF = next(f.id for f in SCHEMA.types[0].fields if f.name == "external_ref")
"""Set through ``defaults``: its presence sends a ticket down the full path."""

OPTIONS = sorted({o for f in FIELDS for o in f.options or ()})
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "x",
            " ",
            "2026-12-31",
            "2026-02-30",
            "2026-12-31T10:00:00Z",
            "2026-12-31T10:00",
            "2026-12-31 10:00:00.123456789+01:00",
            "6f1f4c3e-0000-4000-8000-000000000001",
            "{6f1f4c3e-0000-4000-8000-000000000001}",
            "a" * 70,
            *OPTIONS,
        ]
    ),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=6,
)


def resolved(fields: dict[str, Any], defaults: dict[str, Any] | None) -> object:
    """The values of two tickets declaring ``fields`` (or the problems, line-free)."""
    document: dict[str, Any] = {
        "tickets": [{"id": "REQ-0001", "fields": fields}, {"id": "REQ-0002", "fields": fields}]
    }
    if defaults:
        document["defaults"] = {"fields": defaults}
    try:
        desired = resolve_tickets(parse_manifest(json.dumps(document), "m.yaml"), SCHEMA)
    except ManifestError as error:
        return sorted(p.message for p in error.problems)
    return [{k: v for k, v in d.values.items() if k != EXTERNAL_REF} for d in desired]


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f"{f.type}:{f.name}")
@settings(max_examples=100, deadline=None)
@given(value=VALUES)
@example(value="").via("an empty form")
@example(value=[]).via("an empty form")
@example(value=True).via("a boolean, which is no number")
@example(value=["q4", 1]).via("a list of strings but one")
def test_the_fast_path_takes_what_the_full_check_takes(field: Field, value: Any) -> None:
    fast = resolved({field.name: value}, None)
    assert fast == resolved({field.name: value}, DEFAULT)
    assert resolved({field.name: value}, None) == fast  # again, from what the first remembered
