"""The fast reader (rapidyaml) reads a file exactly as the line-numbered reader, or not at all.

Every text here is read both ways: where the fast reader answers, its values and
every line it finds must be those of :mod:`reconcile.manifest.yaml12`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.manifest import parse_manifest, rapid
from reconcile.manifest.lines import ComposedLines, RapidLines
from reconcile.manifest.parse import _FastReader, _parse_text
from reconcile.manifest.yaml12 import Composer

TOKENS = [
    "x", "~", "null", "Null", "NULL", "true", "True", "false", "FALSE", "yes", "no", "on",
    ".inf", "-.inf", "+.inf", "inf", "nan", ".NaN", "0x1F", "0o17", "017", "0", "-0", "+1",
    "1.", "1.5", ".5", "1e3", "-1.5e-3", "12345678901234567890", "1_000", "2026-12-31",
    "12:30", "a b", "a#b", "a: b", "*x", "&x", "!x", "<<", "%x", "? x", "", "é", "\\t",
    "-", "[]", "{}", "'", '"', "\u2028", "\x85", "a\tb", "@x", "`x", "|x", ">x", "#x",
    "x #y", ",x", "x,y", "-x", "- x", ":x", "x:", "]", "}", "a]", "x:y", "x: y", "x :",
    "a,", "[", "{", "x ]", "\\", "\\n",
]  # fmt: skip


def _scalar(draw: Any) -> str:
    token = draw(st.sampled_from(TOKENS))
    style = draw(st.sampled_from(["plain", "single", "double"]))
    if style == "single":
        return "'" + token.replace("'", "''") + "'"
    if style == "double":
        return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return token


def _comment(draw: Any) -> str:
    """Nothing, or a comment of tokens (indicators, quotes, brackets among them)."""
    if draw(st.booleans()):
        return ""
    return " #" + "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=3)))


@st.composite
def manifests(draw: Any) -> str:
    lines = ["tickets:" + _comment(draw)]
    for number in range(draw(st.integers(1, 3))):
        lines.append(f"- id: REQ-{number + 1:04d}" + _comment(draw))
        lines.append("  fields:")
        for _ in range(draw(st.integers(1, 4))):
            key = draw(st.sampled_from(["a", "b", "c", "x y", "'q'", "inf", "1"]))
            if draw(st.booleans()):
                lines.append(f"    {key}: {_scalar(draw)}" + _comment(draw))
            else:
                items = ", ".join(_scalar(draw) for _ in range(draw(st.integers(0, 3))))
                lines.append(f"    {key}: [{items}]" + _comment(draw))
    return "\n".join(lines) + "\n"


def _slow(text: str) -> list[Any] | None:
    problems: list[Any] = []
    documents = Composer(text, "m.yaml", problems).documents()
    if documents is None or problems:
        return None
    return [None if root is None else root.plain() for root in documents]


def _same_reading(text: str) -> None:
    data = text.encode("utf-8")
    fast = rapid.documents(data, text)
    if fast is None:
        return
    assert fast == _slow(text), text


@settings(max_examples=300, deadline=None)
@given(manifests())
def test_the_fast_reader_reads_as_the_line_numbered_one_or_declines(text: str) -> None:
    _same_reading(text)


@st.composite
def commented(draw: Any) -> str:
    """Plain values, and comments and block text of any tokens: most are read fast."""
    lines = ["# " + _comment(draw), "tickets:" + _comment(draw), "- id: REQ-0001", "  fields:"]
    for key in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, unique=True)):
        value = draw(st.sampled_from(["x", "a b", "1", "é", "|\n      block " + _comment(draw)]))
        lines.append(f"    {key}: {value}" + _comment(draw))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(commented())
def test_comments_and_block_text_of_any_tokens_read_the_same(text: str) -> None:
    _same_reading(text)


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize(
    "style",
    ["{}", "'{}'", '"{}"', "[{}]", "\n  - {}", "[{}, x]", "[x, {}]", "{{k: {}}}", "{{{}: v}}"],
)
def test_each_tricky_scalar_reads_the_same(token: str, style: str) -> None:
    _same_reading("a: " + style.format(token) + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: !!str 12\n",
        "a: 1\na: 2\n",
        "b: {<<: {c: 1}}\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: 'x\n\n  y'\n",
        "a: |\n  x\n  y\n",
        'a: "\\ud800"\n',
        "a: x\x7f\n",
        "a: 1\r\nb: 2\r\n",
        "a: 1\rb: 2\n",
        "a: [x, y]   # a comment\nb: {k: v} # another\n",
        "a: [x,\n  y #c\n  ]\n",
        "a: [x, {k: v #c}]\n",
        "a: [x, ?y]\n",
        "a: {?k: v}\n",
    ],
)
def test_what_the_json_form_loses_is_read_the_same_or_declined(text: str) -> None:
    _same_reading(text)


TICKETS = """\
defaults:
  fields:
    priority: High
sensitive: [secret]
tickets:
  - id: REQ-0501
    fields:
      summary: "Quoted
        over two lines"
      notes: |
        a block
        scalar
      tags: [a, b]
      due: 2026-12-31
    sensitive:
      - token
  -
    id: REQ-0502
    key: onboarding-alice
    type: REQ
    fields: {summary: flow, priority: Low}
  - {id: REQ-0503, fields: {summary: all flow}}
"""


def _lines(ticket: Any) -> list[Any]:
    key = ticket.key_location.line if ticket.key_location else None
    return [
        ticket.location.line,
        key,
        [(f.key, f.location.line, f.default) for f in ticket.fields],
        {k: v.line for k, v in ticket.sensitive_locations.items()},
    ]


def test_lines_found_later_are_the_line_numbered_readers() -> None:
    fast = parse_manifest(TICKETS, "m.yaml")
    assert isinstance(fast[0].document.lines, RapidLines)
    found = [_lines(ticket) for ticket in fast]
    documents = Composer(TICKETS, "m.yaml", []).documents()
    assert documents is not None
    exact = ComposedLines("m.yaml", documents)
    for ticket in fast:
        ticket.document.lines = exact
    assert found == [_lines(ticket) for ticket in fast]
    assert found[0][0] == 6 and found[1][:2] == [18, 19] and found[2][0] == 22


def test_a_syntax_error_is_one_line_without_rapidyamls_own_report(tmp_path: Any) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tickets: [\n")
    done = subprocess.run(
        [sys.executable, "-m", "reconcile", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: {path}:2: YAML syntax error: did not find expected node content "
        "(while parsing a flow node at line 2)"
    ]


@pytest.mark.parametrize("indicator", ["`", "!", "&", "*", "%", "@", "?"])
@pytest.mark.parametrize(
    "text",
    [
        "# run {i}x{i} first\ntickets:\n  - id: REQ-0001 # and {i}y\n",
        "a: |\n  text # {i}x\n",
        "a: 'x\n  # {i}y'\n",
        'a: "x # y" {i}z\n',
        '"x #": {i}y z\n',
        "'x #': {i}y z\n",
        "a: x # {i}y 'z'\n",
        "a: [x, # {i}y\n  z]\n",
        "a: b#{i}c\n",
        "a: [b#c, {i}y]\n",
    ],
)
def test_an_indicator_in_a_comment_or_in_text_reads_the_same_or_is_declined(
    text: str, indicator: str
) -> None:
    _same_reading(text.format(i=indicator))


def test_a_comment_quoting_a_command_is_read_fast() -> None:
    """Three of the four shipped manifests say `reconcile plan` or so in a comment."""
    text = "# Plans against `reconcile sandbox serve --demo`: R&D *only*!\na: b  # `c` ?\n"
    assert rapid.documents(text.encode(), text) == [{"a": "b"}]


POLICIES = [
    """\
# A policy: `reconcile plan` says where each value comes from.
policy: closed
select:
  type: REQ
  team: [network]
  where:
    status: [Closed, Resolved]
fields:
  customer_visible: true
""",
    """\
policy: every
select:
  type:
    - REQ
    - Change Request
  team: [null, net, ""]
  where: {status: Closed, priority: [1, 2.5]}
fields:
  a: 1
  b: [x, {y: z}]
sensitive: [a]
protected: [b, a, b]
""",
    "policy: next-line\nselect:\n  type:\n    REQ\n  team: null\nfields: {a: x}\n",
    "tickets:\n  - id: REQ-0001\n---\npolicy: second\nselect: {type: REQ}\nfields:\n  a: 1\n",
    "policy: deep\nselect: {type: REQ}\nfields:\n  a: " + "[" * 48 + "x" + "]" * 48 + "\n",
]
REFUSED_POLICIES = [
    "policy: ''\nselect: {type: REQ}\nfields: {a: 1}\n",
    "policy: [p]\nselect: {type: REQ}\nfields: {a: 1}\n",
    "policy: p\nfields: {a: 1}\n",
    "policy: p\nselect: [REQ]\nfields: {a: 1}\n",
    "policy: p\nselect: {team: x}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ, wher: {a: 1}}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: []}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: [REQ, 1]}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ, team: [[x]]}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ, where: null}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ, where: {status: []}}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ}\n",
    "policy: p\nselect: {type: REQ}\nfields: [a]\n",
    "policy: p\nselect: {type: REQ}\nfields: {a: 1}\nsensitive: [1]\n",
    "policy: p\nselect: {type: REQ}\nfields: {a: 1}\nprotected: a\n",
    "policy: p\nselect: {type: REQ}\nfields: {a: 1}\nsensitiv: [a]\n",
    "policy: p\ntickets: []\nselect: {type: REQ}\nfields: {a: 1}\n",
    "policy: p\nselect: {type: REQ}\nfields:\n  a: " + "[" * 49 + "x" + "]" * 49 + "\n",
]
DROPPED_POLICIES = [
    "policy: p\nselect: {type: REQ}\nfields: {}\n",
    "policy: p\nselect: {type: REQ}\nfields:\n",
]


def _policy_lines(policy: Any) -> list[Any]:
    return [
        policy,  # its equality compares every location's line but the key lists'
        {k: v.line for k, v in policy.sensitive_locations.items()},
        {k: v.line for k, v in policy.protected_locations.items()},
    ]


def _fast_manifests(text: str) -> Any:
    data = text.encode()
    documents = rapid.documents(data, text)
    if documents is None:
        return None
    return _FastReader(RapidLines("p.yaml", data)).manifest(documents)


@pytest.mark.parametrize("text", POLICIES)
def test_a_policy_is_read_fast_with_the_line_numbered_readers_values_and_lines(
    text: str,
) -> None:
    fast = _fast_manifests(text)
    problems: list[Any] = []
    slow, _ = _parse_text(text, "p.yaml", problems)
    assert problems == [] and fast is not None and len(fast.policies) == 1
    assert [_policy_lines(p) for p in fast.policies] == [_policy_lines(p) for p in slow.policies]
    assert [t.id for t in fast.tickets] == [t.id for t in slow.tickets]


@pytest.mark.parametrize("text", REFUSED_POLICIES + DROPPED_POLICIES)
def test_a_policy_with_a_problem_or_without_fields_is_left_to_the_line_numbered_reader(
    text: str,
) -> None:
    problems: list[Any] = []
    slow, _ = _parse_text(text, "p.yaml", problems)
    if text in REFUSED_POLICIES:
        assert problems != []
    else:
        assert problems == [] and slow.policies == []
    assert _fast_manifests(text) is None
