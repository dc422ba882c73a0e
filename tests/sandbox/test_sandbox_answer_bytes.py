"""GET and list answers are written from the stored JSON text, not decoded and encoded
again: the bytes must be exactly those of encoding the ticket as a dict."""

from __future__ import annotations

from typing import Any

from reconcile.sandbox.store import dumps


def test_get_answer_is_the_encoded_ticket_byte_for_byte(sandbox: Any, api: Any) -> None:
    """Every demo ticket: unicode, quotes, newlines, a null team, fields never set."""
    everything = api.get("/ticket?size=500").json()["data"]
    assert len(everything) == 36
    assert any(t["team"] is None for t in everything)
    for listed in everything:
        stored = sandbox.store.get(listed["object_id"])
        answer = api.get(f"/ticket/{listed['object_id']}")
        assert answer.content == dumps(stored).encode()
        assert listed == stored


def test_list_answer_is_the_encoded_page_byte_for_byte(sandbox: Any, api: Any) -> None:
    tickets, total = sandbox.store.page(2, 10)
    answer = api.get("/ticket?page=2&size=10")
    expected = {"data": tickets, "page": 2, "size": 10, "total": total}
    assert answer.content == dumps(expected).encode()
    beyond = api.get("/ticket?page=9&size=10")
    assert beyond.content == dumps({"data": [], "page": 9, "size": 10, "total": 36}).encode()


def test_a_written_value_with_escapes_comes_back_as_sent(sandbox: Any, api: Any) -> None:
    """Control characters, a backslash, a quote and non-BMP text round-trip through the
    stored text."""
    fields = api.fields("REQ")
    value = 'tab\there "quoted" back\\slash \x01 \u2028 emoji \U0001f600 ß'
    assert api.update("REQ-0509", {fields["description"]["id"]: value}).status_code == 200
    answer = api.get("/ticket/REQ-0509")
    assert answer.json()["data"][fields["description"]["id"]] == value
    assert answer.content == dumps(sandbox.store.get("REQ-0509")).encode()
