"""What a listing keeps of its pages (pure: pages built here, no server)."""

from __future__ import annotations

from reconcile.client import ListPage
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
