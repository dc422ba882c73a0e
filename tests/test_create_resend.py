"""A create whose outcome was unknown, and whose key is on no ticket, is sent again.

The sandbox's ``fail_creates`` answers the first create 500 before any work: the client
cannot know whether it landed, looks the key up, finds nothing and sends it once more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconcile.apply import MAX_REBASES
from reconcile.sandbox import Sandbox

from sandbox_api import field_ids, list_tickets

KEY_FIELD = {"RECONCILE_KEY_FIELD": "external_ref"}
KEY = "onboarding-bob"
MANIFEST = f"""\
tickets:
  - key: {KEY}
    type: REQ
    fields:
      summary: Onboard Bob
      priority: Medium
      status: New
      requester: 1977896d-1f2a-402c-8735-6c22af73411b
"""


def write_manifest(root: Path) -> Path:
    path = root / "manifests" / "onboarding.yaml"
    path.parent.mkdir()
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def holders(sandbox: Sandbox) -> list[str]:
    """The display IDs of the live tickets whose key field holds ``KEY``."""
    key_field = field_ids(sandbox)["external_ref"]
    return [t["object_id"] for t in list_tickets(sandbox) if t["data"].get(key_field) == KEY]


def test_a_create_that_did_not_land_is_sent_again_and_lands_once(
    cli: Callable[..., Any], sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    failing = sandbox_factory(demo=True, fail_creates=1)
    path = write_manifest(tmp_path)
    env = {**KEY_FIELD, "RECONCILE_BASE_URL": failing.base_url, "RECONCILE_TOKEN": failing.token()}
    applied = cli("apply", "manifests", "--auto-approve", "--journal", "j.jsonl", **env)
    stats = failing.stats()
    assert stats["faults"] == {"fail": 1}
    assert stats["by_route"]["create"] == 2  # the failed one, then the one that landed
    assert stats["writes"]["creates"] == 1 and holders(failing) == ["REQ-0517"]
    assert applied.stdout.endswith("Apply: 1 created, 0 updated, 0 failed, 0 unchanged.\n")
    assert path.read_text(encoding="utf-8").startswith("tickets:\n  - id: REQ-0517\n")
    outcomes = [
        (record["seq"], record["status"], record["ticket"])
        for record in map(json.loads, Path("j.jsonl").read_text().splitlines())
        if record["kind"] == "outcome"
    ]
    assert outcomes == [(1, "unknown", "REQ onboarding-bob"), (2, "created", "REQ-0517")]


def test_a_create_that_never_lands_gives_up_and_says_to_re_run(
    cli: Callable[..., Any], sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    failing = sandbox_factory(demo=True, fail_creates=100)
    write_manifest(tmp_path)
    env = {**KEY_FIELD, "RECONCILE_BASE_URL": failing.base_url, "RECONCILE_TOKEN": failing.token()}
    applied = cli("apply", "manifests", "--auto-approve", expect=1, **env)
    attempts = MAX_REBASES + 1
    assert (
        f"not created: the outcome was unknown {attempts} times and the key was never found; "
        "re-run apply"
    ) in applied.stdout + applied.stderr
    stats = failing.stats()
    assert stats["by_route"]["create"] == attempts and stats["faults"] == {"fail": attempts}
    assert stats["writes"]["creates"] == 0 and holders(failing) == []


def test_a_create_the_server_refuses_fails_and_is_journalled(
    cli: Callable[..., Any], sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    probe = sandbox_factory(demo=True)
    summary = field_ids(probe)["summary"]
    refusing = sandbox_factory(demo=True, refuse_fields=(summary,))
    write_manifest(tmp_path)
    env = {
        **KEY_FIELD,
        "RECONCILE_BASE_URL": refusing.base_url,
        "RECONCILE_TOKEN": refusing.token(),
    }
    applied = cli("apply", "manifests", "--auto-approve", "--journal", "j.jsonl", expect=1, **env)
    assert 'Input validation failed: refused value "Onboard Bob"' in applied.stdout + applied.stderr
    assert refusing.stats()["writes"]["creates"] == 0 and holders(refusing) == []
    outcomes = [
        (record["status"], record["ticket"])
        for record in map(json.loads, Path("j.jsonl").read_text().splitlines())
        if record["kind"] == "outcome"
    ]
    assert outcomes == [("failed", "REQ onboarding-bob")]
