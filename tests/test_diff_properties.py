"""Property-based tests of the diff over every field type (hypothesis).

For random desired values and random live states (absent, empty, equivalent in
another representation, different, or of the wrong type): the plan's patch,
shallow-merged into the live data as the API does, yields the desired values, a
second plan finds nothing to change, and nothing unmanaged is ever in a patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.diff import diff_ticket, make_plan
from reconcile.plan import Action
from reconcile.schema import Field, Schema, TicketType
from reconcile.ticket import LiveTicket

OPTIONS = ["Low", "Medium", "High", "Critical"]
TYPES = ["text", "richtext", "number", "boolean", "date", "datetime"]
TYPES += ["select", "multiselect", "reference", "array"]
SCHEMA = Schema.from_api(
    [
        {
            "id": "type-req",
            "prefix": "REQ",
            "fields": [
                {
                    "id": f"f-{kind}",
                    "name": kind,
                    "type": kind,
                    "options": OPTIONS if "select" in kind else None,
                    "required": kind == "select",
                }
                for kind in TYPES
            ],
        }
    ]
)
REQ: TicketType = SCHEMA.types[0]
UNMANAGED = st.dictionaries(st.sampled_from(["u-1", "u-2", "u-3"]), st.text(max_size=5))


@dataclass(frozen=True)
class Desired:
    """Stand-in with the shape of reconcile.manifest.DesiredTicket."""

    id: str
    values: dict[str, Any]
    type: TicketType = REQ
    location: Any = None
    sensitive: frozenset[str] = frozenset()
    protected: frozenset[str] = frozenset()
    locations: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    key_field: str | None = None

    @property
    def name(self) -> str:
        return self.id

    sources: dict[str, Any] = field(default_factory=dict)
    selectors: tuple[Any, ...] = ()


def _datetimes() -> st.SearchStrategy[datetime]:
    offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    return st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31), timezones=offsets
    )


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": st.text(max_size=20),
    "richtext": st.text(max_size=20),
    "number": st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "date": st.dates().map(lambda d: d.isoformat()),
    "datetime": _datetimes().map(lambda d: d.isoformat()),
    "select": st.sampled_from(OPTIONS),
    "multiselect": st.lists(st.sampled_from(OPTIONS), unique=True),
    "reference": st.uuids().map(str),
    "array": st.lists(st.text(max_size=3), max_size=4),
}
EMPTY_FORMS = st.sampled_from([None, "", []])
GARBAGE = st.one_of(
    st.integers(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)


def desired_value(f: Field) -> st.SearchStrategy[Any]:
    """Any value the manifest layer yields for the field: accepted, then canonical."""
    return (VALUES[f.type] | EMPTY_FORMS).filter(lambda v: f.check(v) is None).map(f.canonical)


DESIRED = {f.id: desired_value(f) for f in REQ.fields}
"""One strategy per field, built once: building them for every case was a third of the run."""


@st.composite
def equivalent(draw: st.DrawFn, f: Field, value: Any) -> Any:
    """The same value as the API might return it in another representation."""
    if f.type == "number" and isinstance(value, int) and abs(value) < 2**53:
        return float(value)
    if f.type == "datetime" and value:
        parsed = datetime.fromisoformat(value)
        moved = parsed.astimezone(timezone.utc).isoformat()
        return draw(st.sampled_from([moved, moved.replace("+00:00", "Z")]))
    if f.type == "multiselect" and value:
        return draw(st.permutations(value))
    if f.type in ("text", "richtext", "multiselect", "array") and not value:
        return draw(EMPTY_FORMS)
    return value


ABSENT = object()


@st.composite
def live_value(draw: st.DrawFn, f: Field, want: Any) -> Any:
    """A live state for the field: absent, empty, equivalent, another value or garbage."""
    kind = draw(st.sampled_from(["absent", "empty", "equivalent", "other", "garbage"]))
    if kind == "absent":
        return ABSENT
    if kind == "empty":
        return draw(EMPTY_FORMS)
    if kind == "equivalent":
        return draw(equivalent(f, want))
    if kind == "other":
        return draw(VALUES[f.type])
    return draw(GARBAGE)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Desired, LiveTicket]:
    values: dict[str, Any] = {}
    data: dict[str, Any] = draw(UNMANAGED)
    for f in REQ.fields:
        if draw(st.booleans()):
            values[f.id] = want = draw(DESIRED[f.id])
        else:
            want = draw(VALUES[f.type])
        current = draw(live_value(f, want))
        if current is not ABSENT:
            data[f.id] = current
    return Desired("REQ-0509", values), LiveTicket("REQ-0509", "etag-1", data)


def merged(live: LiveTicket, patch: dict[str, Any]) -> LiveTicket:
    """What the API does with a PATCH: a shallow merge over ``data``, and a new etag."""
    return LiveTicket(live.object_id, "etag-2", {**live.data, **patch})


@settings(max_examples=200, deadline=None)
@given(cases())
def test_applying_the_patch_converges_and_a_second_plan_is_empty(
    case: tuple[Desired, LiveTicket],
) -> None:
    desired, live = case
    plan = make_plan([desired], {live.object_id: live})
    patch = plan.changes[0].ticket_update if plan.changes else {}
    after = merged(live, patch)
    for field_id, want in desired.values.items():
        f = REQ.field_by_id(field_id)
        assert f is not None
        assert f.equal(want, after.data.get(field_id, f.empty)), field_id
    again = make_plan([desired], {after.object_id: after})
    assert again.changes == ()
    assert again.unchanged == ("REQ-0509",)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_a_patch_is_minimal_and_never_touches_unmanaged_keys(
    case: tuple[Desired, LiveTicket],
) -> None:
    desired, live = case
    change = diff_ticket(desired, live)
    patch = change.ticket_update if change else {}
    assert set(patch) <= set(desired.values)
    for field_id, want in desired.values.items():
        f = REQ.field_by_id(field_id)
        assert f is not None
        in_sync = f.equal(want, live.data.get(field_id, f.empty))
        assert (field_id not in patch) == in_sync, field_id
    if change is not None:
        assert change.action == Action.UPDATE
        assert change.etag == "etag-1"
        for fc in change.fields:
            f = REQ.field_by_id(fc.field_id)
            assert f is not None
            assert fc.before == live.data.get(fc.field_id, f.empty)
            assert fc.after == f.canonical(desired.values[fc.field_id])
