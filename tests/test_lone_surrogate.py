"""A live value that JSON can carry but UTF-8 cannot: a lone surrogate (``"\\ud800"``).

The one live-ticket validator refuses such a ticket with a one-line error naming the
ticket and the field, so no renderer, plan file or report ever meets the value (each
would fail to encode it); nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconcile.ticket import may_hold_surrogate

from cli_runner import CliResult

SUMMARY = "d436c844-5f79-403c-8e79-bb3bb68e1a06"  # REQ's summary field in the demo
TAGS = "bb249cf8-0ca4-4f13-aaca-cd4f8aff3da6"  # and its tags (a multiselect)
BAD = {"data": {SUMMARY: "broken \ud800 text"}}
MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      summary: fixed\n"
REASON = (
    f"unexpected ticket REQ-0509 in answer: data field {SUMMARY} holds a lone surrogate "
    "(an unpaired \\ud800-\\udfff escape), which is no text"
)


@pytest.fixture
def surrogate_env(sandbox_factory: Callable[..., Any]) -> dict[str, str | None]:
    """A sandbox whose GET and list answers carry REQ-0509's summary as ``"\\ud800"``."""
    sandbox = sandbox_factory(demo=True, get_set=BAD, list_item_set=BAD)
    Path("m.yaml").write_text(MANIFEST)
    return {
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TOKEN": sandbox.token(sub="jdoe", roles=["ticket_admin"], teams=[]),
    }


def test_the_sandbox_answers_the_json_escape(sandbox_factory: Callable[..., Any]) -> None:
    sandbox = sandbox_factory(demo=True, get_set=BAD)
    answer = requests.get(
        f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509",
        headers=sandbox.headers(sandbox.token()),
        timeout=10,
    )
    assert '"broken \\ud800 text"' in answer.text
    assert answer.json()["data"][SUMMARY] == "broken \ud800 text"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_plan_names_the_ticket_and_field(
    cli: Callable[..., CliResult], surrogate_env: dict[str, str | None], fmt: str
) -> None:
    result = cli("plan", "--format", fmt, "m.yaml", expect=1, **surrogate_env)
    assert REASON in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_json_plan_and_saved_files_hold_the_error(
    cli: Callable[..., CliResult], surrogate_env: dict[str, str | None]
) -> None:
    result = cli(
        "plan", "--format", "json", "--out", "p.json", "--html", "r.html", "m.yaml",
        expect=1, **surrogate_env,
    )  # fmt: skip
    plan = json.loads(result.stdout)
    assert plan["summary"] == {"create": 0, "error": 1, "unchanged": 0, "update": 0}
    assert [entry["error"] for entry in plan["changes"]] == [REASON]
    assert json.loads(Path("p.json").read_text())["plan_checksum"].startswith("sha256:")
    assert "lone surrogate" in Path("r.html").read_text()


def test_apply_writes_nothing(
    cli: Callable[..., CliResult], surrogate_env: dict[str, str | None]
) -> None:
    result = cli("apply", "--auto-approve", "m.yaml", expect=1, **surrogate_env)
    assert f"! REQ-0509: {REASON}" in result.stdout
    assert "Nothing was written" in result.stderr


@pytest.mark.parametrize(
    ("shape", "where"),
    [
        ({"lastUpdatedBy": "kim\udfff"}, "lastUpdatedBy"),
        ({"data": {TAGS: ["q4", "\ud800"]}}, f"data field {TAGS}"),
    ],
)
def test_a_lone_surrogate_anywhere_in_the_ticket_is_named(
    cli: Callable[..., CliResult],
    sandbox_factory: Callable[..., Any],
    shape: dict[str, Any],
    where: str,
) -> None:
    sandbox = sandbox_factory(demo=True, get_set=shape, list_item_set=shape)
    Path("m.yaml").write_text(MANIFEST)
    result = cli(
        "plan", "m.yaml", expect=1, RECONCILE_BASE_URL=sandbox.base_url,
        RECONCILE_TOKEN=sandbox.token(sub="jdoe", roles=["ticket_admin"], teams=[]),
    )  # fmt: skip
    assert (
        f"! REQ-0509: unexpected ticket REQ-0509 in answer: {where} holds a lone surrogate"
    ) in result.stdout


def _holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(map(_holds_surrogate, value))
    if isinstance(value, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in value.items())
    return False


TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=6)


@settings(max_examples=300)
@given(
    value=st.recursive(
        TEXT,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=2),
        max_leaves=6,
    ),
    ascii_only=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
@example(value="\ud800", ascii_only=False, encoding="utf-8").via("the UTF-8 form of a surrogate")
@example(value="\udfff", ascii_only=True, encoding="utf-8").via("its escape")
def test_a_body_said_to_hold_no_surrogate_decodes_to_none(
    value: Any, ascii_only: bool, encoding: str
) -> None:
    # The list and GET readers skip the per-string check of bodies said to hold none.
    body = json.dumps({"data": value}, ensure_ascii=ascii_only).encode(encoding, "surrogatepass")
    if _holds_surrogate(json.loads(body)):
        assert may_hold_surrogate(body)
