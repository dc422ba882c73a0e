"""``--rate-limit N``: the plan states its request budget, and the client keeps to the limit."""

from __future__ import annotations

import json
import time
from pathlib import Path

MANIFEST = """\
tickets:
  - id: REQ-0509
    fields:
      priority: Critical
  - id: REQ-0501
    fields:
      priority: Critical
  - id: REQ-0513
    fields:
      priority: High
"""
"""Three tickets, two of them to change: planning reads the ticket types and each ticket."""


def test_plan_states_reads_writes_and_the_time_under_the_limit(cli, sandbox):
    Path("m.yaml").write_text(MANIFEST, encoding="utf-8")
    result = cli("plan", "m.yaml", "--rate-limit", "2")
    assert result.stdout.splitlines()[-2:] == [
        "Plan: 2 to update, 1 unchanged.",
        "Request budget: 4 reads, 2 writes; at 2 requests/s about 3 s.",
    ]
    assert sandbox.stats()["requests"] == 4


def test_plan_without_a_limit_ends_with_its_summary(cli):
    Path("m.yaml").write_text(MANIFEST, encoding="utf-8")
    result = cli("plan", "m.yaml")
    assert result.stdout.splitlines()[-1] == "Plan: 2 to update, 1 unchanged."
    assert "Request budget" not in result.stdout


def test_the_budget_shows_in_markdown_and_keeps_out_of_json(cli):
    Path("m.yaml").write_text(MANIFEST, encoding="utf-8")
    markdown = cli("plan", "m.yaml", "--format", "markdown", "--rate-limit", "2")
    assert "Request budget: 4 reads, 2 writes; at 2 requests/s about 3 s." in markdown.stdout
    data = json.loads(cli("plan", "m.yaml", "--format", "json", "--rate-limit", "2").stdout)
    assert data["summary"] == {"create": 0, "update": 2, "unchanged": 1, "error": 0}


def test_the_limit_spaces_requests_across_workers(cli, sandbox):
    """Nine reads at 10/s with 10 workers take at least 0.8 s (the first goes at once)."""
    tickets = [f"REQ-{n:04d}" for n in range(501, 509)]
    Path("m.yaml").write_text(
        "tickets:\n" + "".join(f"  - id: {t}\n    fields: {{}}\n" for t in tickets),
        encoding="utf-8",
    )
    started = time.monotonic()
    limited = cli("plan", "m.yaml", "--rate-limit", "10", "--parallelism", "10")
    elapsed = time.monotonic() - started
    assert "Request budget: 9 reads, 0 writes; at 10 requests/s about under 1 s." in (
        limited.stdout
    )
    assert elapsed >= 0.8
    assert sandbox.stats()["by_route"] == {"ticket_type": 1, "get": 8}
