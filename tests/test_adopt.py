"""``reconcile adopt``: drifted live values written back, only where they changed."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

from reconcile.sandbox import Sandbox

MANIFEST = """\
# Network freeze: reviewed by the network team.
defaults:
  fields:
    impact: High        # the default for this document

tickets:
  - id: REQ-0509   # the core switch
    fields:
      # Keep this ticket visible.
      priority: Critical   # raised for the freeze
      Tags: [freeze, q4]
      description: "<p>secret</p>"
      8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10: 2026-12-24
    sensitive: [description]
  - id: REQ-0510
    fields:
      location: 'HQ, 3rd floor'
"""

EDIT = """\
tickets:
  - id: REQ-0509
    fields:
      priority: Low
      tags: [vip]
      description: "<p>changed by hand</p>"
      due_date: 2027-01-05
      impact: Low
  - id: REQ-0510
    fields:
      location: "Berlin: 'annex' #2"
"""


def _drift(cli: Callable[..., object], sandbox: Sandbox, tmp_path: Path) -> Path:
    manifest = tmp_path / "net.yaml"
    manifest.write_text(MANIFEST)
    other = sandbox.token(sub="j.random", roles=["ticket_admin"], teams=())
    cli("apply", "net.yaml", "--auto-approve", RECONCILE_TOKEN=other)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "edit.yaml").write_text(EDIT)
    cli("apply", "other/edit.yaml", "--auto-approve", RECONCILE_TOKEN=other)
    return manifest


def test_adopt_edits_only_drifted_values_and_keeps_comments(
    cli: Callable[..., object], sandbox: Sandbox, tmp_path: Path
) -> None:
    manifest = _drift(cli, sandbox, tmp_path)
    result = cli("adopt", "net.yaml")
    after = manifest.read_text()
    changed = [
        line
        for line in difflib.unified_diff(MANIFEST.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-      priority: Critical   # raised for the freeze",
        "-      Tags: [freeze, q4]",
        "+      priority: Low        # raised for the freeze",
        "+      Tags: [vip]",
        "-      8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10: 2026-12-24",
        "+      8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10: '2027-01-05'",
        "+      impact: Low",
        "-      location: 'HQ, 3rd floor'",
        "+      location: 'Berlin: ''annex'' #2'",
    ]
    assert "impact: High        # the default for this document" in after
    assert "# Keep this ticket visible." in after and "# the core switch" in after
    assert '"<p>secret</p>"' in after  # sensitive: never written back
    assert "REQ-0509 field 'description'" in result.stderr and "sensitive" in result.stderr
    assert "(was a document default)" in result.stdout

    plan = json.loads(cli("plan", "net.yaml", "--format", "json", expect=0).stdout)
    (change,) = plan["changes"]
    assert change["id"] == "REQ-0509"
    assert [f["name"] for f in change["fields"]] == ["description"]


def test_adopt_dry_run_writes_nothing(
    cli: Callable[..., object], sandbox: Sandbox, tmp_path: Path
) -> None:
    manifest = _drift(cli, sandbox, tmp_path)
    result = cli("adopt", "net.yaml", "--dry-run", "--target", "REQ-0510")
    assert manifest.read_text() == MANIFEST
    assert "REQ-0510 location" in result.stdout and "REQ-0509" not in result.stdout
    assert result.stdout.rstrip().endswith("written into 1 file(s).")


def test_adopt_multiline_and_empty_values_read_back(
    cli: Callable[..., object], sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text(
        "tickets:\n- id: REQ-0509\n  fields:\n    resolution_notes: x\n"
        "    watchers: [a@example.com]\n    estimated_hours: 3\n"
    )
    cli("apply", "m.yaml", "--auto-approve")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "e.yaml").write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n"
        '      resolution_notes: "<p>Said: \\"no\\"</p>\\n<p>Zoë ☎</p>\\n"\n'
        "      watchers: []\n      estimated_hours: null\n"
    )
    cli("apply", "o/e.yaml", "--auto-approve")
    cli("adopt", "m.yaml")
    text = (tmp_path / "m.yaml").read_text()
    assert text.startswith("tickets:\n- id: REQ-0509\n  fields:\n    resolution_notes: |\n")
    assert "watchers: []" in text and "estimated_hours: null" in text
    cli("plan", "m.yaml", "--detailed-exitcode", expect=0)
