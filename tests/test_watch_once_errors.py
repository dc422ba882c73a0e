"""``reconcile watch --once``: the cycle's errors, failed self-heal writes, a damaged
notification state and a listen address in use, each said in one line."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from reconcile.sandbox import DEMO_ADMIN, Sandbox

from cli_runner import CliResult
from sandbox_api import field_ids

MANIFEST = "tickets:\n  - id: REQ-0509\n    fields:\n      location: Lisbon office\n"


def admin(sandbox: Sandbox) -> str:
    return sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())


def test_a_ticket_that_cannot_be_planned_is_an_error_and_nothing_is_healed(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("m.yaml").write_text(MANIFEST + "  - id: REQ-9999\n    fields:\n      location: x\n")
    sandbox.reset_stats()
    result = cli(
        "watch", "--once", "--self-heal", "m.yaml", expect=1, RECONCILE_TOKEN=admin(sandbox)
    )
    assert "not self-healing: 1 ticket(s) could not be planned" in result.stderr
    assert "cycle done: 0 in sync, 1 drifted, 1 error(s), 0 healed" in result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0


def test_a_refused_self_heal_write_fails_the_cycle(
    cli: Callable[..., CliResult], sandbox_factory: Callable[..., Sandbox]
) -> None:
    probe = sandbox_factory(demo=True)
    refusing = sandbox_factory(demo=True, refuse_fields=(field_ids(probe)["location"],))
    Path("m.yaml").write_text(MANIFEST)
    result = cli(
        "watch", "--once", "--self-heal", "m.yaml", expect=1,
        RECONCILE_BASE_URL=refusing.base_url, RECONCILE_TOKEN=admin(refusing),
    )  # fmt: skip
    assert (
        "self-heal REQ-0509: failed: update of REQ-0509: 400 INPUT_VALIDATION_FAILURE: Input "
        'validation failed: refused value "Lisbon office"'
    ) in result.stderr
    assert "cycle done: 0 in sync, 1 drifted, 0 error(s), 0 healed" in result.stderr
    assert refusing.stats()["writes"]["committed"] == 0


def test_a_damaged_notification_state_starts_afresh(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("m.yaml").write_text(MANIFEST)
    state = Path("state")
    state.mkdir()
    (state / "notified.json").write_text("{not json", encoding="utf-8")
    result = cli("watch", "--once", "--state-dir", "state", "m.yaml", expect=2)
    assert "unreadable notification state" in result.stderr
    assert '"salt"' in (state / "notified.json").read_text(encoding="utf-8")


def test_a_listen_address_in_use_is_one_line(
    cli: Callable[..., CliResult], sandbox: Sandbox
) -> None:
    Path("m.yaml").write_text(MANIFEST)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("watch", "--listen", f"127.0.0.1:{port}", "m.yaml", expect=1)
    assert result.stderr.endswith(
        f"--listen 127.0.0.1:{port}: cannot listen: Address already in use\n"
    )
