"""What changed inside a list or nested value: the pure description and the plans that show it."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconcile.plan import FieldChange, Plan, TicketChange
from reconcile.render import render_html, render_json, render_markdown, render_text
from reconcile.value_diff import MINIMIZED_MOVES, ItemChange, ItemKind, changes_inside

from sandbox_api import edit_by_hand, field_ids

ADDED, REMOVED, MOVED, CHANGED = ItemKind.ADDED, ItemKind.REMOVED, ItemKind.MOVED, ItemKind.CHANGED


def test_a_multiselect_is_a_set_of_options_added_and_removed() -> None:
    assert changes_inside("multiselect", ["freeze", "q3"], ["q4", "freeze"]) == (
        ItemChange(ADDED, "q4"),
        ItemChange(REMOVED, "q3"),
    )
    # Order alone is no change of a set, and each group keeps its list's order.
    assert changes_inside("multiselect", ["a", "b"], ["b", "a"]) == ()
    assert changes_inside("multiselect", ["a", "b", "c"], ["c", "e", "d", "a"]) == (
        ItemChange(ADDED, "e"),
        ItemChange(ADDED, "d"),
        ItemChange(REMOVED, "b"),
    )
    assert changes_inside("multiselect", ["a"], ["b"]) == (
        ItemChange(ADDED, "b"),
        ItemChange(REMOVED, "a"),
    )


def test_an_array_is_ordered_items_inserted_removed_and_moved_with_positions() -> None:
    assert changes_inside("array", ["a", "b", "c"], ["a", "x", "b", "c"]) == (
        ItemChange(ADDED, "x", after_at=1),
    )
    assert changes_inside("array", ["a", "b", "c", "d"], ["a", "b", "d"]) == (
        ItemChange(REMOVED, "c", before_at=2),
    )
    assert changes_inside("array", ["a", "b", "c", "d"], ["d", "a", "b", "c"]) == (
        ItemChange(MOVED, "d", before_at=3, after_at=0),
    )
    assert changes_inside("array", ["a", "b", "c", "d"], ["b", "c", "a", "e"]) == (
        ItemChange(ADDED, "e", after_at=3),
        ItemChange(REMOVED, "d", before_at=3),
        ItemChange(MOVED, "a", before_at=0, after_at=2),
    )


def test_a_long_list_turned_round_is_shown_as_deepdiff_pairs_it() -> None:
    """Past MINIMIZED_MOVES moves, no move is dropped: every item but none stays named."""
    many = [f"item {n}" for n in range(MINIMIZED_MOVES + 2)]
    items = changes_inside("array", many, many[::-1])
    assert len(items) == len(many) and {i.kind for i in items} == {MOVED}
    assert len(changes_inside("array", many[:100], many[:100][::-1])) == 99  # one stays


def test_a_nested_value_is_described_path_by_path() -> None:
    before = {"owner": {"team": "net", "ids": [1, 2]}, "old": True, "same": 1}
    after = {"owner": {"team": "ops", "ids": [1, 2, 3]}, "new": None, "same": 1.0}
    assert changes_inside("unknown", before, after) == (
        ItemChange(ADDED, None, path=("new",)),
        ItemChange(REMOVED, True, path=("old",)),
        ItemChange(ADDED, 3, path=("owner", "ids", 2)),
        ItemChange(CHANGED, "ops", old="net", path=("owner", "team")),
    )
    assert changes_inside(None, [{"n": 1}], [{"n": 2}]) == (
        ItemChange(CHANGED, 2, old=1, path=(0, "n")),
    )


def test_a_value_that_is_not_json_is_described_too() -> None:
    """Library callers may build a FieldChange of their own values: they are not remembered
    by their JSON text, but described all the same."""
    assert changes_inside(None, [date(2026, 1, 1)], [date(2026, 1, 2)]) == (
        ItemChange(CHANGED, date(2026, 1, 2), old=date(2026, 1, 1), path=(0,)),
    )


@pytest.mark.parametrize(
    ("field_type", "before", "after"),
    [
        ("text", "a", "b"),
        ("number", 1, 2),
        ("array", [], ["x"]),  # added whole: the before → after line says it all
        ("multiselect", ["x"], []),
        ("array", None, ["x"]),
        (None, ["x"], {"x": 1}),
        ("multiselect", ["x"], ["x"]),
    ],
)
def test_nothing_inside_to_describe(field_type: str | None, before: Any, after: Any) -> None:
    assert changes_inside(field_type, before, after) == ()


ITEMS = st.lists(st.sampled_from("abcdef"), max_size=8)


@settings(max_examples=100, deadline=None)
@given(before=ITEMS, after=ITEMS)
def test_an_array_description_is_exact(before: list[str], after: list[str]) -> None:
    """The items not named keep their order on both sides; counts add up; no change, no item."""
    items = changes_inside("array", before, after)
    if not before or not after:
        assert items == ()  # a value added or cleared whole
        return
    gone = {i.before_at for i in items if i.kind in (REMOVED, MOVED)}
    new = {i.after_at for i in items if i.kind in (ADDED, MOVED)}
    assert len(gone) == sum(i.kind in (REMOVED, MOVED) for i in items)
    assert len(new) == sum(i.kind in (ADDED, MOVED) for i in items)
    assert all(before[i.before_at] == i.value for i in items if i.before_at is not None)
    assert all(after[i.after_at] == i.value for i in items if i.after_at is not None)
    kept_before = [v for n, v in enumerate(before) if n not in gone]
    kept_after = [v for n, v in enumerate(after) if n not in new]
    assert kept_before == kept_after
    assert (items == ()) == (before == after)


@settings(max_examples=100, deadline=None)
@given(before=st.sets(st.sampled_from("abcdef")), after=st.sets(st.sampled_from("abcdef")))
def test_a_multiselect_description_is_the_set_difference(before: set[str], after: set[str]) -> None:
    items = changes_inside("multiselect", sorted(before), sorted(after, reverse=True))
    if not before or not after:
        assert items == ()
        return
    assert Counter(i.value for i in items if i.kind is ADDED) == Counter(after - before)
    assert Counter(i.value for i in items if i.kind is REMOVED) == Counter(before - after)
    assert {i.kind for i in items} <= {ADDED, REMOVED}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text("ab'\"[].", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text("ab'\"[].", max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@settings(max_examples=100, deadline=None)
@given(before=st.dictionaries(st.text("ab'", max_size=2), JSON, min_size=1, max_size=3),
       after=st.dictionaries(st.text("ab'", max_size=2), JSON, min_size=1, max_size=3))  # fmt: skip
@example(before={"": False}, after={"": 0}).via("a boolean become a number")
@example(before={"": [False, None, None]}, after={"": [None, True]}).via(
    "an item paired at another index"
)
def test_a_nested_description_names_real_paths(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Every path named holds what it says: a removed or changed one in the old value, an
    added or changed one in the new; no path is named when nothing changed."""
    items = changes_inside("unknown", before, after)
    for item in items:
        if item.kind in (REMOVED, CHANGED):
            assert _at(before, item.path) == (item.old if item.kind is CHANGED else item.value)
        if item.kind in (ADDED, CHANGED):
            assert _at(after, item.path) == item.value
    if json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True):
        assert items == ()
    else:
        assert items


def _plan(*fields: FieldChange) -> Plan:
    return Plan(changes=(TicketChange("REQ-0001", "update", etag="e", fields=fields),))


def _text(plan: Plan, **kw: Any) -> list[str]:
    out = io.StringIO()
    render_text(plan, out, **kw)
    return out.getvalue().splitlines()


def test_text_lists_the_changes_inside_below_the_whole_values() -> None:
    plan = _plan(
        FieldChange("f1", "tags", ["freeze", "q3"], ["freeze", "q4"], field_type="multiselect"),
        FieldChange("f2", "checklist", ["a", "b", "c"], ["c", "a", "x"], field_type="array"),
        FieldChange("f3", "meta", {"k": 1, "odd key": [1]}, {"k": 2, "odd key": []}),
    )
    assert _text(plan)[:10] == [
        "~ REQ-0001",
        '    ~ tags: ["freeze", "q3"] → ["freeze", "q4"]',
        '        + "q4"  - "q3"',
        '    ~ checklist: ["a", "b", "c"] → ["c", "a", "x"]',
        '        + "x" at 3',
        '        - "b" at 2',
        '        ~ "c" moved 3 → 1',
        '    ~ meta: {"k": 1, "odd key": [1]} → {"k": 2, "odd key": []}',
        "        ~ k: 1 → 2",
        '        - ["odd key"][0]: 1',
    ]
    coloured = "\n".join(_text(plan, color=True))
    assert '\x1b[32m+ "q4"\x1b[0m  \x1b[31m- "q3"\x1b[0m' in coloured
    drift = _text(plan, drift=True)
    assert drift[1:3] == [
        '    ~ tags: declared ["freeze", "q4"], live ["freeze", "q3"]',
        '        + "q4"  - "q3"',
    ]


def test_a_sensitive_list_shows_no_item_anywhere() -> None:
    secret = "hunter2-item"
    plan = _plan(
        FieldChange("f1", "keys", ["a", secret], ["a", "b"], sensitive=True, field_type="array"),
        FieldChange("f2", "codes", ["x"], [secret], sensitive=True, field_type="multiselect"),
    )
    outputs = [render_text, render_markdown, render_html, render_json]
    for render in outputs:
        out = io.StringIO()
        render(plan, out)
        assert secret not in out.getvalue()
    assert _text(plan)[1:3] == ["    ~ keys: (sensitive)", "    ~ codes: (sensitive)"]


def test_items_are_shown_with_control_characters_escaped_and_long_lists_cut() -> None:
    many = [str(n) for n in range(30)]
    plan = _plan(
        FieldChange("f1", "tags", ["a"], ["a", "\x1b[2J\u202e"], field_type="multiselect"),
        FieldChange("f2", "items", many, list(reversed(many)), field_type="array"),
    )
    lines = _text(plan)
    assert lines[2] == '        + "\\u001b[2J\\u202e"'
    assert lines[4:5] == ['        ~ "29" moved 30 → 1']
    assert lines[24] == "        … 9 more"  # 29 moves (one item stays), 20 listed
    out = io.StringIO()
    render_markdown(plan, out)
    assert '`+ "\\u001b[2J\\u202e"`' in out.getvalue()


def test_markdown_and_html_show_the_changes_inside_too() -> None:
    plan = _plan(
        FieldChange("f0", "priority", "Low", "High", field_type="select"),
        FieldChange("f1", "tags", ["freeze", "q3"], ["freeze", "q4|x"], field_type="multiselect"),
    )
    out = io.StringIO()
    render_markdown(plan, out)
    assert out.getvalue().splitlines()[4:8] == [
        "| field | before | after | changed inside |",
        "|---|---|---|---|",
        '| priority | `"Low"` | `"High"` |  |',
        '| tags | `["freeze", "q3"]` | `["freeze", "q4\\|x"]` | `+ "q4\\|x"` `- "q3"` |',
    ]
    page = io.StringIO()
    render_html(plan, page)
    assert (
        '<tr class="inside"><td class="label">changed inside</td><td colspan="2" class="v"><ul>'
        '<li><code class="add">+ &#34;q4|x&#34;</code> <code class="del">- &#34;q3&#34;</code>'
        "</li></ul></td></tr>"
    ) in page.getvalue()


def test_the_json_plan_is_unchanged_by_the_field_type() -> None:
    typed = FieldChange("f1", "tags", ["q3"], ["q4"], field_type="multiselect")
    untyped = FieldChange("f1", "tags", ["q3"], ["q4"])
    assert typed == untyped
    out_typed, out_untyped = io.StringIO(), io.StringIO()
    render_json(_plan(typed), out_typed)
    render_json(_plan(untyped), out_untyped)
    assert out_typed.getvalue() == out_untyped.getvalue()
    assert "field_type" not in json.loads(out_typed.getvalue())["changes"][0]["fields"][0]


MANIFEST = """\
tickets:
  - id: REQ-0509
    fields:
      tags: [freeze, q4]
      checklist: [Ship, Order laptop, Create account, Badge]
"""


def test_plan_over_the_sandbox_shows_options_added_removed_and_an_item_moved(cli, sandbox):
    ids = field_ids(sandbox)
    edit_by_hand(
        sandbox,
        "REQ-0509",
        {
            ids["tags"]: ["freeze", "vip"],
            ids["checklist"]: ["Order laptop", "Create account", "Ship"],
        },
    )
    with open("m.yaml", "w", encoding="utf-8") as manifest:
        manifest.write(MANIFEST)
    lines = cli("plan", "m.yaml", expect=0).stdout.splitlines()
    at = lines.index('    ~ tags: ["freeze", "vip"] → ["freeze", "q4"] (from m.yaml:4)')
    assert lines[at + 1] == '        + "q4"  - "vip"'
    at = lines.index(
        '    ~ checklist: ["Order laptop", "Create account", "Ship"] → '
        '["Ship", "Order laptop", "Create account", "Badge"] (from m.yaml:5)'
    )
    assert lines[at + 1 : at + 3] == ['        + "Badge" at 4', '        ~ "Ship" moved 3 → 1']
    markdown = cli("plan", "m.yaml", "--format", "markdown", expect=0).stdout
    assert '`+ "q4"` `- "vip"`' in markdown
    assert '`+ "Badge" at 4`<br>`~ "Ship" moved 3 → 1`' in markdown
    drift = cli("drift", "m.yaml", expect=2).stdout.splitlines()
    assert '        + "q4"  - "vip"' in drift
