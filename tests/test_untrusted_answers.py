"""Answers in shapes the contract marks [assumed] are checked before anything is compared
with them or written on them: the sandbox's shape faults, end to end over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconcile.sandbox import DEMO_ADMIN
from reconcile.sandbox.demo import demo_ticket_types

from sandbox_api import patches_by_ticket

LOCATION = "location"


def all_tickets(sandbox: Any) -> list[dict[str, Any]]:
    """Every ticket as the sandbox stores it (read directly: no fault shapes it)."""
    tickets, _ = sandbox.store.page(1, 100_000)
    return tickets


def manifest_of_live_values(sandbox: Any, fields_per_ticket: int = 3) -> str:
    """A manifest declaring, by field UUID, the live values of a few set fields per ticket:
    it plans with no change, unless the live values are misread."""
    lines = ["tickets:"]
    for ticket in all_tickets(sandbox):
        values = [(k, v) for k, v in sorted(ticket["data"].items()) if v not in ("", None, [])]
        lines += [f"  - id: {ticket['object_id']}", "    fields:"]
        lines += [f"      {k}: {json.dumps(v)}" for k, v in values[:fields_per_ticket]]
        if not values:
            lines[-1] = "    fields: {}"
    return "\n".join(lines) + "\n"


def env_for(sandbox: Any) -> dict[str, str]:
    token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    return {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": token}


LIST_ITEM_DEFECTS = [
    pytest.param({"list_item_drop": ("data",)}, id="no-data"),
    pytest.param({"list_item_set": {"data": None}}, id="data-null"),
    pytest.param({"list_item_set": {"data": "oops"}}, id="data-a-string"),
    pytest.param({"list_item_drop": ("etag",)}, id="no-etag"),
    pytest.param({"list_item_set": {"etag": ""}}, id="empty-etag"),
    pytest.param({"list_item_set": {"etag": 12}}, id="etag-a-number"),
    pytest.param({"list_item_drop": ("object_id",)}, id="no-object-id"),
    pytest.param({"list_item_set": {"object_id": ["REQ-0509"]}}, id="object-id-a-list"),
]


@pytest.mark.parametrize("defect", LIST_ITEM_DEFECTS)
def test_list_items_in_a_bad_shape_are_read_with_get_instead(
    cli: Any, sandbox_factory: Any, defect: dict[str, Any]
) -> None:
    """Before: items without data planned every ticket as drifted (and apply sent
    no-op PATCHes); now such items are never diffed against, each ticket is read by GET."""
    sandbox = sandbox_factory(demo=True, tickets=30, **defect)
    tickets = all_tickets(sandbox)
    assert len(tickets) >= 50  # enough declared tickets to try the list endpoint
    Path("m.yaml").write_text(manifest_of_live_values(sandbox))
    sandbox.reset_stats()
    result = cli("plan", "m.yaml", **env_for(sandbox))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    routes = sandbox.stats()["by_route"]
    assert routes["list"] == 1 and routes["get"] == len(tickets)

    sandbox.reset_stats()
    cli("apply", "m.yaml", "--auto-approve", **env_for(sandbox))
    assert sandbox.stats()["writes"]["patches"] == 0  # no no-op PATCH


def test_a_declared_clear_is_planned_and_written_when_list_items_lack_data(
    cli: Any, sandbox_factory: Any
) -> None:
    """Before: the clear looked done against an item without data, and was skipped."""
    sandbox = sandbox_factory(demo=True, tickets=30, list_item_drop=("data",))
    tickets = all_tickets(sandbox)
    requests_type = next(t for t in tickets if t["object_id"].startswith("REQ-"))["ticket_type_id"]
    fields = sandbox.store.fields_by_type[requests_type]
    location = next(f["id"] for f in fields.values() if f["name"] == LOCATION)
    target = next(t for t in tickets if t["data"].get(location))
    manifest = manifest_of_live_values(sandbox).replace(
        f"  - id: {target['object_id']}\n    fields:\n",
        f"  - id: {target['object_id']}\n    fields:\n      {location}: ''\n",
    )
    Path("m.yaml").write_text(manifest)
    result = cli("plan", "m.yaml", **env_for(sandbox))
    assert f"~ {target['object_id']}" in result.stdout
    assert "1 to update" in result.stdout, result.stdout
    sandbox.reset_stats()
    result = cli("apply", "m.yaml", "--auto-approve", **env_for(sandbox))
    assert "Apply: 1 updated, 0 failed" in result.stdout
    assert patches_by_ticket(sandbox) == {target["object_id"]: 1}
    assert sandbox.store.get(target["object_id"])["data"][location] == ""


@pytest.mark.parametrize(
    "defect",
    [
        pytest.param({"get_set": {"etag": ""}}, id="empty-etag"),
        pytest.param({"get_drop": ("data",)}, id="no-data"),
    ],
)
def test_a_get_answer_in_a_bad_shape_is_an_error_and_nothing_is_written(
    cli: Any, sandbox_factory: Any, defect: dict[str, Any]
) -> None:
    """An empty etag is no etag: no PATCH goes out with it (before: sent, with etag "")."""
    sandbox = sandbox_factory(demo=True, **defect)
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 9\n")
    result = cli("apply", "m.yaml", "--auto-approve", expect=1, **env_for(sandbox))
    assert "REQ-0509" in result.stderr + result.stdout
    assert "unexpected ticket REQ-0509 in answer" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert sandbox.stats()["writes"]["patches"] == 0


def test_import_all_does_not_trust_a_huge_total(cli: Any, sandbox_factory: Any) -> None:
    """Before: total 10**9 made import --all ask for two million pages."""
    sandbox = sandbox_factory(demo=True, tickets=600, list_total=10**9)
    count = len(all_tickets(sandbox))
    result = cli("import", "--all", "-o", "all.yaml", **env_for(sandbox))
    assert f"Imported {count} ticket(s) into all.yaml." in result.stderr
    assert sandbox.stats()["by_route"]["list"] <= 2 + 10  # the pages, and at most a window more


def test_import_all_stops_when_pages_repeat(cli: Any, sandbox_factory: Any) -> None:
    """A server that ignores ``page`` (and claims a huge total) cannot loop the client."""
    sandbox = sandbox_factory(demo=True, tickets=600, list_total=10**9, list_ignore_page=True)
    result = cli("import", "--all", expect=1, **env_for(sandbox))
    assert "--all needs the list endpoint: the list endpoint's pages do not end" in result.stderr
    assert "listed no ticket not seen before" in result.stderr
    assert sandbox.stats()["by_route"]["list"] <= 2 + 10
    assert result.stdout == ""


def test_import_all_reads_items_in_a_bad_shape_with_get(cli: Any, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, list_item_set={"etag": ""})
    count = len(all_tickets(sandbox))
    cli("import", "--all", "-o", "all.yaml", **env_for(sandbox))
    cli("plan", "all.yaml", **env_for(sandbox))
    assert sandbox.stats()["by_route"]["get"] >= count
    result = cli("plan", "all.yaml", **env_for(sandbox))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"


def test_import_all_refuses_items_that_name_no_ticket(cli: Any, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, list_item_drop=("object_id",))
    result = cli("import", "--all", expect=1, **env_for(sandbox))
    assert "without a valid display ID: cannot tell which tickets they are" in result.stderr


def test_a_plan_does_not_trust_a_total_that_is_too_small(cli: Any, sandbox_factory: Any) -> None:
    """A total of 1 with full pages: the listing goes on to the short page."""
    sandbox = sandbox_factory(demo=True, tickets=1200, list_total=1)
    Path("m.yaml").write_text(manifest_of_live_values(sandbox, fields_per_ticket=1))
    sandbox.reset_stats()
    result = cli("plan", "m.yaml", **env_for(sandbox))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    routes = sandbox.stats()["by_route"]
    assert routes["list"] <= 3 + 10 and routes.get("get", 0) == 0


@pytest.mark.parametrize("retry_after", ["soon", "-5", "", "1e3", "Wed, 99 Foo 2026"])
def test_a_malformed_retry_after_falls_back_to_the_backoff(
    cli: Any, sandbox_factory: Any, retry_after: str
) -> None:
    """Before: urllib3 raised on the header and the run ended in an error."""
    sandbox = sandbox_factory(demo=True, rate_limit_rate=0.3, fault_seed=7, retry_after=retry_after)
    Path("m.yaml").write_text(manifest_of_live_values(sandbox))
    result = cli(
        "plan", "m.yaml", "--parallelism", "2",
        RECONCILE_RETRIES="10", RECONCILE_RETRY_BACKOFF="0.01", RECONCILE_RETRY_WAIT_MAX="0.05",
        **env_for(sandbox),
    )  # fmt: skip
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    assert sandbox.stats()["faults"]["rate_limit"] > 0


def manifest_of(tickets: list[dict[str, Any]], changed: str | None = None) -> str:
    """Declare each ticket's first set field at its live value (``changed``: one ticket
    declares another value)."""
    lines = ["tickets:"]
    for ticket in tickets:
        key, value = next((k, v) for k, v in sorted(ticket["data"].items()) if v)
        if ticket["object_id"] == changed:
            value = "declared-in-git" if isinstance(value, str) else value
        lines += [f"  - id: {ticket['object_id']}", f"    fields: {{{key}: {json.dumps(value)}}}"]
    return "\n".join(lines) + "\n"


def test_a_plan_of_some_tickets_lists_pages_and_compares_only_those(
    cli: Any, sandbox_factory: Any
) -> None:
    """Declaring 100 of 1,200 tickets: the pages are listed (not 100 GETs), and the plan
    compares exactly the declared tickets."""
    sandbox = sandbox_factory(demo=True, tickets=1200)
    some = all_tickets(sandbox)[::12][:100]
    string_valued = next(
        t["object_id"] for t in some if isinstance(sorted(t["data"].items())[0][1], str)
    )
    Path("m.yaml").write_text(manifest_of(some, changed=string_valued))
    sandbox.reset_stats()
    result = cli("plan", "m.yaml", "--format", "json", **env_for(sandbox))
    plan = json.loads(result.stdout)
    assert [c["id"] for c in plan["changes"]] == [string_valued]
    assert plan["summary"]["unchanged"] == len(some) - 1 == 99
    routes = sandbox.stats()["by_route"]
    assert routes["list"] >= 3 and routes.get("get", 0) == 0


def test_a_plan_of_some_tickets_stops_when_pages_repeat(cli: Any, sandbox_factory: Any) -> None:
    """A server that ignores ``page`` repeats its first page: the listing stops at the
    first page with nothing new, and the declared tickets it never listed are read by GET."""
    sandbox = sandbox_factory(demo=True, tickets=1200, list_ignore_page=True)
    tickets = all_tickets(sandbox)
    Path("m.yaml").write_text(manifest_of(tickets[:1] + tickets[-100:]))
    sandbox.reset_stats()
    result = cli("plan", "m.yaml", **env_for(sandbox))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    routes = sandbox.stats()["by_route"]
    assert routes["list"] <= 2 + 16 and routes["get"] == 100


def _second_req(types: list[dict[str, Any]]) -> None:
    types.append({**types[0], "id": "00000000-0000-4000-8000-000000000001"})


def _shared_name(types: list[dict[str, Any]]) -> None:
    first, second = types[0]["fields"][:2]
    second["name"] = first["name"]


def _numeric_options(types: list[dict[str, Any]]) -> None:
    chosen = next(f for f in types[0]["fields"] if f.get("options"))
    chosen["options"] = list(range(len(chosen["options"])))


def _surrogate_label(types: list[dict[str, Any]]) -> None:
    types[0]["fields"][0]["label"] = "Descri\udcffption"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(_second_req, "types #1 and #4 share the prefix 'REQ'", id="two-REQ"),
        pytest.param(_shared_name, "(REQ): fields #1 and #2 share the name", id="shared-name"),
        pytest.param(_numeric_options, "'options' is not a list of strings", id="int-options"),
        pytest.param(_surrogate_label, "'label' is not text (it holds a lone", id="surrogate"),
    ],
)
def test_a_ticket_type_answer_that_would_make_a_diff_a_guess_is_refused(
    cli: Any, sandbox_factory: Any, change: Any, message: str
) -> None:
    """Before: the first type of a prefix, the first field of a name, options made strings
    by ``str()`` and labels no output can show were taken, so a plan could diff or write
    the wrong field."""
    types = demo_ticket_types()
    change(types)
    sandbox = sandbox_factory(demo=True, ticket_types_answer=types)
    Path("m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 9\n")
    result = cli("apply", "m.yaml", "--auto-approve", expect=1, **env_for(sandbox))
    [line] = result.stderr.strip().splitlines()
    assert "unexpected ticket-type answer: " in line and message in line
    assert sandbox.stats()["writes"]["patches"] == 0
