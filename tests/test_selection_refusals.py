"""Selections that cannot be made: a malformed --shard, a --target no manifest
declares, tickets declared by key on a server without the list endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconcile.sandbox import Sandbox

from cli_runner import CliResult

MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab\n"


@pytest.mark.parametrize(
    ("shard", "message"),
    [
        ("half", "shard must be I/N, got 'half'"),
        ("3/2", "shard must be I/N with 1 <= I <= N, got '3/2'"),
    ],
)
def test_a_malformed_shard(cli: Callable[..., CliResult], shard: str, message: str) -> None:
    Path("m.yaml").write_text(MANIFEST)
    result = cli("plan", "--shard", shard, "m.yaml", expect=1)
    assert f"Error: Invalid value for --shard: {message}" in result.stderr


def test_a_target_no_manifest_declares(cli: Callable[..., CliResult], sandbox: Sandbox) -> None:
    Path("m.yaml").write_text(MANIFEST)
    sandbox.reset_stats()
    result = cli("apply", "--auto-approve", "--target", "REQ-0510", "m.yaml", expect=1)
    assert result.stderr == "Error: --target REQ-0510: no such ticket in the manifests\n"
    assert sandbox.stats()["writes"]["patches"] == 0


def test_tickets_declared_by_key_need_the_list_endpoint(
    cli: Callable[..., CliResult], sandbox_factory: Callable[..., Sandbox]
) -> None:
    no_list = sandbox_factory(demo=True, no_list=True)
    Path("m.yaml").write_text(
        "tickets:\n  - key: onboarding-carol\n    type: REQ\n    fields:\n"
        "      summary: Onboard Carol\n      priority: Medium\n      status: New\n"
        "      requester: 1977896d-1f2a-402c-8735-6c22af73411b\n"
    )
    result = cli(
        "plan", "m.yaml", expect=1, RECONCILE_BASE_URL=no_list.base_url,
        RECONCILE_TOKEN=no_list.token(), RECONCILE_KEY_FIELD="external_ref",
    )  # fmt: skip
    assert (
        "1 ticket(s) are declared by 'key' without an 'id' (first at m.yaml:2); finding or "
        "creating them needs the list endpoint, which this server does not offer"
    ) in result.stderr
