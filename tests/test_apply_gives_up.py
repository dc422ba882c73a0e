"""A write whose every attempt ends without a usable answer is given up after
``MAX_REBASES`` re-reads, said as a conflict to re-run, with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconcile.apply import MAX_REBASES
from reconcile.sandbox import Sandbox

from cli_runner import CliResult

MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab\n"


def test_a_write_that_never_lands_is_given_up(
    cli: Callable[..., CliResult], sandbox_factory: Callable[..., Sandbox]
) -> None:
    failing = sandbox_factory(demo=True, fail_writes=100)
    Path("m.yaml").write_text(MANIFEST)
    result = cli(
        "apply", "--auto-approve", "m.yaml", expect=1,
        RECONCILE_BASE_URL=failing.base_url, RECONCILE_TOKEN=failing.token(),
    )  # fmt: skip
    assert (
        f"conflict: gave up after {MAX_REBASES} re-reads (last: outcome unknown); re-run apply"
    ) in result.stdout + result.stderr
    stats = failing.stats()
    assert stats["by_route"]["update"] == MAX_REBASES + 1
    assert stats["writes"]["committed"] == 0
