"""``reconcile undo`` of a journal whose ticket cannot be read now, or whose field is no
longer in the ticket type: reported, not restored, exit 1, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconcile.sandbox import Sandbox

from cli_runner import CliResult


def journal(sandbox: Sandbox, ticket: str, field_id: str) -> str:
    run = {
        "journal_version": 2, "kind": "run", "run": "r1",
        "target": {"base_url": sandbox.base_url, "tenant_id": sandbox.tenant_id,
                   "realm": sandbox.realm},
    }  # fmt: skip
    intent: dict[str, Any] = {
        "journal_version": 2, "kind": "intent", "run": "r1", "seq": 1, "action": "update",
        "ticket": ticket, "key": None, "etag_before": "e1", "fields": {field_id: "gone"},
        "sensitive": [], "protected": [],
        "patch": [{"op": "replace", "path": f"/data/{field_id}", "value": "new"}],
        "inverse": [{"op": "replace", "path": f"/data/{field_id}", "value": "old"}],
    }  # fmt: skip
    outcome = {
        "journal_version": 2, "kind": "outcome", "run": "r1", "seq": 1, "ticket": ticket,
        "status": "updated", "etag_after": "e2", "message": None,
    }  # fmt: skip
    return "".join(json.dumps(entry) + "\n" for entry in (run, intent, outcome))


def test_a_ticket_that_cannot_be_read_is_not_restored(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("j.jsonl").write_text(journal(sandbox, "REQ-9999", "f0000000-0000-4000-8000-000000000000"))
    sandbox.reset_stats()
    result = cli("undo", "--journal", "j.jsonl", "--auto-approve", expect=1)
    assert (
        result.stderr
        == "! REQ-9999: not restored: ticket REQ-9999: 404: Ticket not found (REQ-9999)\n"
    )
    assert result.stdout == "Nothing to restore.\n"
    assert sandbox.stats()["writes"]["patches"] == 0


def test_a_field_no_longer_in_the_type_is_not_restored(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("j.jsonl").write_text(journal(sandbox, "REQ-0509", "f0000000-0000-4000-8000-000000000000"))
    sandbox.reset_stats()
    result = cli("undo", "--journal", "j.jsonl", "--auto-approve", expect=1)
    assert (
        "! REQ-0509: not restored: gone (no longer a field of the ticket type) changed since "
        "the apply (another writer); review the ticket by hand"
    ) in result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0
