"""The sandbox refuses options and seed files it cannot serve, naming every problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconcile.sandbox import Client, Sandbox, SandboxError, SandboxOptions
from reconcile.sandbox.seed import load_seed


def test_every_out_of_range_option_is_named_at_once() -> None:
    options = SandboxOptions(
        demo=True,
        seed="seed.yaml",
        tls_cert="cert.pem",
        port=70000,
        tickets=-1,
        token_lifetime=0,
        latency_ms=-1,
        fail_writes=-1,
        fail_creates=-1,
        hold_after_commits=-1,
        retry_after=-1,
        unauthorized_requests=-1,
        list_total=-1,
        slow_body_ms=-1,
        slow_routes=("token",),
        fail_rate=1.5,
        drop_after_commit_rate=-0.1,
        rate_limit_rate=2.0,
        secret="",
    )
    with pytest.raises(SandboxError) as raised:
        Sandbox(options)
    assert str(raised.value).split("; ") == [
        "--demo and --seed cannot be used together",
        "--tls-cert and --tls-key go together",
        "port 70000 is not in 0..65535",
        "--tickets cannot be negative",
        "--token-lifetime must be positive",
        "--latency-ms cannot be negative",
        "fail_writes cannot be negative",
        "fail_creates cannot be negative",
        "hold_after_commits cannot be negative",
        "--retry-after cannot be negative (give it as text to send it as is)",
        "--unauthorized-requests cannot be negative",
        "--list-total cannot be negative",
        "--slow-body-ms cannot be negative",
        "--slow-route 'token' is not one of ticket_type, list, get, create, update",
        "--fail-rate 1.5 is not in 0..1",
        "--drop-after-commit-rate -0.1 is not in 0..1",
        "--rate-limit-rate 2.0 is not in 0..1",
        "--secret cannot be empty",
    ]


@pytest.mark.parametrize("spec", ["lonely", "id:", ":secret", "a:b:c:d:e"])
def test_a_malformed_client_spec(spec: str) -> None:
    with pytest.raises(SandboxError, match=r"expected ID:SECRET\[:ROLE\[:TEAM,\.\.\.\]\]"):
        Client.parse(spec)


SEED = """\
ticket_types:
  - 5
  - prefix: req
  - prefix: T
    fields:
      - name: no-id
      - {id: f2, type: colour}
      - {id: f3, type: select}
      - {id: f4, type: text}
tickets:
  - 7
  - object_id: bad
  - object_id: T-0001
  - object_id: T-0001
  - object_id: X-0001
  - {object_id: T-0002, data: [1]}
  - {object_id: T-0003, team: 5}
  - {object_id: T-0004, data: {nope: 1}}
  - {object_id: T-0005, data: {f4: 5}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_seed_file_names_its_first_ten_problems_and_counts_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, SEED)
    with pytest.raises(SandboxError) as raised:
        load_seed(path)
    assert str(raised.value) == (
        f"seed file {path}: ticket type #1 is not a mapping; ticket type #2: 'prefix' must "
        "be upper-case letters and digits, like REQ; ticket type T: no 'id'; ticket type T: "
        "field #1 has no 'id'; ticket type T: field f2 has type 'colour'; ticket type T: "
        "field f3 (select) needs 'options'; ticket #1 is not a mapping; ticket #2: object_id "
        "'bad' is not like REQ-0001; ticket T-0001 appears twice; ticket X-0001: no ticket "
        "type has the prefix X (and 4 more)"
    )


def test_a_seed_files_ticket_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ticket_types:\n  - {prefix: T, id: t, fields: [{id: f4, type: text}]}\n"
        "tickets:\n"
        "  - {object_id: T-0002, data: [1]}\n"
        "  - {object_id: T-0003, team: 5}\n"
        "  - {object_id: T-0004, data: {nope: 1}}\n"
        "  - {object_id: T-0005, data: {f4: 5}}\n",
    )
    with pytest.raises(SandboxError) as raised:
        load_seed(path)
    assert str(raised.value) == (
        f"seed file {path}: ticket T-0002: 'data' is not a mapping; ticket T-0003: 'team' "
        "must be a string or null; ticket T-0004: field nope is not a field of its type; "
        'ticket T-0005: field f4 expects a string (clear with ""), got a number'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ticket_types: []\ntickets:\n  - {data: {}}\n",
            "ticket #1: no ticket type to number it by",
        ),
        ("ticket_types: []\ntickets: 5\n", "'tickets' is not a list"),
        ("tickets: []\n", "expected a mapping with a 'ticket_types' list"),
        ("ticket_types: [\n", "is not YAML or JSON: "),
    ],
)
def test_a_seed_file_that_is_no_seed(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SandboxError, match=re.escape(message)):
        load_seed(write(tmp_path, text))


def test_a_missing_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"cannot read seed file .*: No such file or directory"):
        load_seed(tmp_path / "absent.yaml")
