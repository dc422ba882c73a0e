"""What a listing keeps of its pages (pure: pages and bodies built here, no server)."""

from __future__ import annotations

import json

from reconcile.client import ListPage, list_page_of
from reconcile.listing import Listing, as_listed
from reconcile.ticket import LiveTicket


def page(*tickets: LiveTicket) -> ListPage:
    return ListPage(list(tickets), len(tickets), 0, (), None)


def ticket(object_id: str, etag: str, summary: str = "x") -> LiveTicket:
    return LiveTicket(object_id=object_id, etag=etag, data={"summary": summary})


def test_only_what_take_makes_of_a_wanted_ticket_is_kept() -> None:
    taken: list[str] = []

    def take(live: LiveTicket) -> str:
        taken.append(live.object_id)
        return f"diffed {live.object_id}"

    listing = Listing(take, wanted={"REQ-0001"})
    assert listing.add(page(ticket("REQ-0001", "e1"), ticket("REQ-0002", "e2")))
    assert listing.tickets == {"REQ-0001": "diffed REQ-0001"}
    assert taken == ["REQ-0001"]  # the unwanted ticket is only counted as seen
    assert listing.passed == {"REQ-0002"}


def test_a_ticket_listed_again_with_its_etag_is_taken_once() -> None:
    taken: list[str] = []
    listing = Listing(lambda live: taken.append(live.etag) or live)
    listing.add(page(ticket("REQ-0001", "e1")))
    assert not listing.add(page(ticket("REQ-0001", "e1")))  # nothing new: a page repeated
    assert taken == ["e1"] and "REQ-0001" in listing.tickets and not listing.reread


def test_a_ticket_listed_again_with_another_etag_is_read_with_a_get() -> None:
    # Written between two pages: neither listing of it is compared with anything.
    listing = Listing(as_listed)
    listing.add(page(ticket("REQ-0001", "e1", "before")))
    assert listing.add(page(ticket("REQ-0001", "e2", "after")))
    assert listing.tickets == {} and listing.etags == {}
    assert listing.reread == {"REQ-0001"}
    listing.add(page(ticket("REQ-0001", "e3")))  # and a third listing does not bring it back
    assert listing.tickets == {}


def test_an_unwanted_item_is_taken_by_its_display_id_alone() -> None:
    """Nothing of an item not wanted is used but its ID: its shape is not checked (a
    plan of a few tickets of a large tenant validates only those)."""
    body = json.dumps(
        {
            "data": [
                {"object_id": "REQ-0001", "etag": "e1", "data": {}},
                {"object_id": "REQ-0002", "data": "not checked"},
                {"object_id": "REQ-0003", "data": {}},  # wanted, no etag: read with a GET
                {"object_id": "not an id", "etag": "e4", "data": {}},
            ],
            "total": 4,
        }
    ).encode()
    page = list_page_of(body, 1, wanted={"REQ-0001", "REQ-0003"})
    assert [t.object_id for t in page.tickets] == ["REQ-0001"]
    assert page.passed == ("REQ-0002",)
    assert page.reread == ("REQ-0003",) and page.rejected == 2 and page.items == 4
    everything = list_page_of(body, 1)
    assert everything.passed == () and everything.reread == ("REQ-0002", "REQ-0003")


def test_a_page_of_unwanted_tickets_not_seen_before_is_news() -> None:
    listing = Listing(as_listed, wanted={"REQ-0001"})
    unwanted = ListPage([], 2, 0, (), None, ("REQ-0002", "REQ-0003"))
    assert listing.add(unwanted)
    assert not listing.add(unwanted)  # the same page again: a server ignoring ``page``
    assert listing.passed == {"REQ-0002", "REQ-0003"} and listing.tickets == {}
