"""``reconcile watch --self-heal --max-change-ratio``: the cycle's self-heal refuses a
policy that would change too large a share of what it matches, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconcile.sandbox import DEMO_ADMIN, Sandbox

from cli_runner import CliResult
from sandbox_api import patches_by_ticket

ALL_REQUESTS = "policy: all-requests\nselect:\n  type: Service Request\nfields:\n  location: HQ\n"


def test_watch_self_heal_refuses_above_the_change_ratio(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("all.yaml").write_text(ALL_REQUESTS, encoding="utf-8")
    admin = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    sandbox.reset_stats()
    result = cli(
        "watch", "--once", "--self-heal", "--max-change-ratio", "0.5", "all.yaml",
        expect=2, RECONCILE_TOKEN=admin,
    )  # fmt: skip
    assert (
        "self-heal refused: policy all-requests (all.yaml:1) would change 16 of the 16 "
        "tickets it matches (100%), more than the limit of 0.5; nothing was written"
    ) in result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0

    result = cli(
        "watch", "--once", "--self-heal", "--max-change-ratio", "1", "all.yaml",
        RECONCILE_TOKEN=admin,
    )  # fmt: skip
    assert len(patches_by_ticket(sandbox)) == 16
