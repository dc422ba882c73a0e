"""Reads asked for before their answer is needed, over real HTTP: the list pages a plan
starts with are asked for while its manifests are still being read, and the schema while
the files after the first are parsed. The requests and the plans stay what they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings
from reconcile.errors import ListUnsupported, ManifestError
from reconcile.listing import PAGE_SIZE, Pages, as_listed, read_pages
from reconcile.manager import Manager
from reconcile.sandbox import DEMO_ADMIN, Sandbox
from reconcile.sandbox.demo import demo_ticket_types


def env_for(sandbox: Sandbox) -> dict[str, str]:
    token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
    return {"RECONCILE_BASE_URL": sandbox.base_url, "RECONCILE_TOKEN": token}


@pytest.fixture
def many(sandbox_factory: Any) -> Sandbox:
    """A tenant of three list pages and more."""
    sandbox: Sandbox = sandbox_factory(demo=True, tickets=2 * PAGE_SIZE + 100)
    return sandbox


@pytest.fixture
def client(many: Sandbox) -> Iterator[TicketingClient]:
    settings = Settings(base_url=many.base_url, tenant_id=many.tenant_id, realm=many.realm)
    with TicketingClient(settings, StaticToken(many.token())) as opened:
        yield opened


def listed(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["by_route"].get("list", 0))


def test_pages_asked_ahead_are_taken_by_the_listing_not_asked_again(
    many: Sandbox, client: TicketingClient
) -> None:
    many.reset_stats()
    plain = read_pages(client, as_listed, max_pages=100, parallelism=4)
    requests = listed(many)

    many.reset_stats()
    pages = Pages(client, parallelism=4)
    pages.ask_ahead(max_pages=100)
    assert pages.first().items == PAGE_SIZE  # asked already: waits for it, asks nothing
    assert listed(many) == 1  # page 1 alone until its answer tells how many follow
    pages.ask_ahead(max_pages=100)
    ahead = read_pages(client, as_listed, max_pages=100, parallelism=4, pages=pages)
    assert listed(many) == requests
    assert ahead.complete and ahead.tickets == plain.tickets


def test_no_page_is_asked_ahead_that_the_listing_would_not_read(
    many: Sandbox, client: TicketingClient
) -> None:
    many.reset_stats()
    with Pages(client, parallelism=4) as pages:
        pages.ask_ahead(max_pages=2)
        pages.first()
        pages.ask_ahead(max_pages=2)  # page 1 announces more pages than that: nothing
    assert listed(many) == 1


def test_a_page_1_that_fails_fails_the_listing_that_takes_it(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(demo=True, no_list=True)
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    with TicketingClient(settings, StaticToken(sandbox.token())) as client:
        pages = Pages(client, parallelism=4)
        pages.ask_ahead(max_pages=10)
        with pytest.raises(ListUnsupported):
            pages.first()  # it came back (404)
        pages.ask_ahead(max_pages=10)  # not raised here, and nothing more asked
        with pytest.raises(ListUnsupported, match="answered 404"):
            read_pages(client, as_listed, max_pages=10, parallelism=4, pages=pages)
    assert sandbox.stats()["by_route"]["list"] == 1


def declaring(tickets: list[str]) -> str:
    return "tickets:\n" + "".join(f"  - id: {t}\n    fields: {{}}\n" for t in tickets)


def test_a_plan_lists_while_it_reads_its_manifests_and_a_later_problem_writes_nothing(
    many: Sandbox, client: TicketingClient, tmp_path: Path
) -> None:
    """The first file declares enough tickets to list: their first page is asked for
    before the second file is read, whose problem then ends the run as it always did.
    (The schema is read first: else the second file may be parsed before it comes.)"""
    tickets, _ = many.store.page(1, 100)
    (tmp_path / "a.yaml").write_text(declaring([t["object_id"] for t in tickets]))
    (tmp_path / "b.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields: [a, list]\n")
    manager = Manager(client, parallelism=4)
    assert manager.schema.types
    many.reset_stats()
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    with pytest.raises(ManifestError) as refused, manager.planning(paths, for_apply=True):
        pytest.fail("planned despite the problem")
    assert "b.yaml:3: 'fields' must be a mapping" in str(refused.value)
    assert many.stats()["by_route"] == {"list": 1}
    assert many.stats()["writes"]["patches"] == 0


def test_a_plan_that_reads_ahead_asks_what_it_asked_before(cli: Any, many: Sandbox) -> None:
    """Every ticket declared across files: each page once, as when listed after reading."""
    tickets, total = many.store.page(1, 10_000)
    ids = [t["object_id"] for t in tickets]
    for n, start in enumerate(range(0, len(ids), 100)):
        Path(f"m{n:02d}.yaml").write_text(declaring(ids[start : start + 100]))
    many.reset_stats()
    result = cli("plan", ".", **env_for(many))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    routes = many.stats()["by_route"]
    pages = -(-total // PAGE_SIZE)
    assert routes["ticket_type"] == 1 and routes.get("get", 0) == 0
    assert routes["list"] == pages + 1  # and the one after them, which should be empty


def test_a_schema_that_cannot_be_read_is_the_error_before_a_later_files_problem(
    cli: Any, sandbox_factory: Any
) -> None:
    """The schema is on its way while the second file is parsed; its failure is still the
    one error said, as when it was read before the second file."""
    types = demo_ticket_types()
    types.append({**types[0], "id": "00000000-0000-4000-8000-000000000001"})  # REQ twice
    sandbox = sandbox_factory(demo=True, ticket_types_answer=types)
    Path("a.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      location: Lab 9\n")
    Path("b.yaml").write_text("tickets: [\n")
    result = cli("plan", "a.yaml", "b.yaml", expect=1, **env_for(sandbox))
    [line] = result.stderr.strip().splitlines()
    assert "unexpected ticket-type answer: " in line and "share the prefix 'REQ'" in line


def test_a_syntax_error_in_the_first_file_asks_for_nothing(cli: Any, many: Sandbox) -> None:
    Path("a.yaml").write_text("tickets: [\n")
    many.reset_stats()
    result = cli("plan", "a.yaml", expect=1, **env_for(many))
    assert result.stderr.startswith("Error: a.yaml:2: YAML syntax error")
    assert many.stats()["by_route"] == {}


def test_a_listing_that_fails_part_of_the_way_leaves_the_client_to_read_by_get(
    cli: Any, sandbox_factory: Any
) -> None:
    """Before: a page that failed after page 1 aborted the client, so the GETs that were
    to replace the listing were refused too ("interrupted") and the plan held errors."""
    sandbox = sandbox_factory(demo=True, tickets=2 * PAGE_SIZE + 100, list_fail_pages=(2,))
    tickets, _ = sandbox.store.page(1, 60)
    Path("m.yaml").write_text(declaring([t["object_id"] for t in tickets]))
    sandbox.reset_stats()
    result = cli("plan", "m.yaml", RECONCILE_RETRIES="0", **env_for(sandbox))
    assert result.stdout == "No changes. Live tickets match the manifests.\n"
    assert sandbox.stats()["by_route"]["get"] == 60
