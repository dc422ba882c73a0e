"""``reconcile adopt`` across documents of one file, and for a ticket whose only value
comes from the document's defaults (it gets a ``fields`` map of its own)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconcile.sandbox import Sandbox

from cli_runner import CliResult
from sandbox_api import edit_by_hand, field_ids

MANIFEST = """\
defaults:
  fields:
    location: Lab
tickets:
  - id: REQ-0509
---
tickets:
  - id: REQ-0510
    fields:
      priority: Low
"""


def test_adopt_finds_each_ticket_in_its_document(
    cli: Callable[..., CliResult], sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST, encoding="utf-8")
    admin = sandbox.token(sub="admin", roles=["ticket_admin"], teams=())
    cli("apply", "m.yaml", "--auto-approve", RECONCILE_TOKEN=admin)
    ids = field_ids(sandbox)
    edit_by_hand(sandbox, "REQ-0509", {ids["location"]: "Annex"})
    edit_by_hand(sandbox, "REQ-0510", {ids["priority"]: "High"})
    result = cli("adopt", "m.yaml", RECONCILE_TOKEN=admin)
    assert (tmp_path / "m.yaml").read_text(encoding="utf-8") == MANIFEST.replace(
        "  - id: REQ-0509\n", "  - id: REQ-0509\n    fields:\n      location: Annex\n"
    ).replace("priority: Low", "priority: High")
    assert "(was a document default)" in result.stdout
    cli("plan", "m.yaml", "--detailed-exitcode", RECONCILE_TOKEN=admin)
