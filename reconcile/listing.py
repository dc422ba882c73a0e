"""Reading tickets through the list endpoint, which nothing on the read path may depend on.

The vendor does not document ``GET /ticket`` (the contract marks its shape [assumed]),
so none of its answer is taken on trust:

- ``total`` is a hint. It decides whether listing is worth trying and how many pages
  to ask for at once, never how long to go on: the listing ends at the first short or
  empty page, at a page that brings no ticket not seen before (a server that ignores
  ``page``), or at a hard page limit, whichever comes first.
- Every item goes through :meth:`LiveTicket.from_api` (in :meth:`TicketingClient.list_page`).
  An item that fails it, or a display ID listed twice with different etags, is never
  compared with anything: the caller reads that ticket with a GET.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from reconcile.client import ListPage, TicketingClient, list_page_of
from reconcile.errors import ApiError, ListUnsupported
from reconcile.fanout import Background, interruption
from reconcile.ticket import LiveTicket

PAGE_SIZE = 500
"""The list endpoint's largest page (the contract caps ``size`` at 500)."""

MAX_PAGES = 1000
"""No listing reads more pages than this (500,000 tickets), whatever ``total`` says."""

Tick = Callable[[int], None]
ProgressFor = Callable[[int, str], Tick]
Kept = TypeVar("Kept")


def as_listed(ticket: LiveTicket) -> LiveTicket:
    """The ``take`` of a listing that keeps the tickets themselves."""
    return ticket


@dataclass
class Listing(Generic[Kept]):
    """What the pages of one listing said, as far as it can be trusted."""

    take: Callable[[LiveTicket], Kept]
    """What is kept of each ticket: the ticket (:func:`as_listed`), or what a caller
    makes of it at once (a plan diffs it), so a listing of a large tenant need not hold
    every live ticket."""
    tickets: dict[str, Kept] = field(default_factory=dict)
    """What was kept of each valid ticket, by display ID, listed once (or with one etag
    each time)."""
    etags: dict[str, str] = field(default_factory=dict)
    """The etag each kept ticket was listed with: a ticket listed again with another
    one was written between the two pages."""
    reread: set[str] = field(default_factory=set)
    """Display IDs whose items cannot be trusted: to read with a GET."""
    unidentified: int = 0
    """Invalid items that named no display ID: nobody can tell which ticket they were."""
    pages: int = 0
    complete: bool = False
    """True when the listing ended at a short or empty page; False when it was cut off."""
    stopped: str = ""
    """Why an incomplete listing stopped."""
    wanted: Container[str] | None = None
    """Only these tickets are kept (None: every one); the others are only counted as seen."""
    passed: set[str] = field(default_factory=set)
    """Display IDs listed but not wanted: enough to tell a page that brings nothing new."""

    def add(self, page: ListPage) -> bool:
        """Take one page in; True when it brought a ticket (or a doubt) not seen before."""
        self.pages += 1
        self.unidentified += page.rejected - len(page.reread)
        news = bool(page.reread) and not set(page.reread) <= self.reread
        self.reread.update(page.reread)
        tickets, passed = page.tickets, set(page.passed)
        if self.wanted is not None:
            # Not kept: a plan of a few tickets of a large tenant holds only those. (A page
            # decoded before the wanted tickets were known holds the others too.)
            passed.update(t.object_id for t in tickets if t.object_id not in self.wanted)
            tickets = [t for t in tickets if t.object_id in self.wanted]
        if not passed <= self.passed:
            self.passed |= passed
            news = True
        for ticket in tickets:
            seen = self.etags.get(ticket.object_id)
            if seen is None and ticket.object_id not in self.reread:
                self.etags[ticket.object_id] = ticket.etag
                self.tickets[ticket.object_id] = self.take(ticket)
                news = True
            elif seen is not None and seen != ticket.etag:
                # Listed twice, differently (written between two pages?): ask the ticket.
                del self.tickets[ticket.object_id], self.etags[ticket.object_id]
                self.reread.add(ticket.object_id)
                news = True
        return news


class Pages:
    """The pages of one listing, asked for on up to ``parallelism`` threads.

    A listing asks for them as it goes (:func:`read_pages`). A plan may ask for the first
    ones earlier, while it is still reading its manifests (:meth:`ask_ahead`), so that
    their round trips overlap the parsing instead of following it; the listing then takes
    them instead of asking again. Bodies wait as bytes, decoded when taken. Closed (see
    :class:`~reconcile.fanout.Background`), the pages asked for and not taken are dropped.
    """

    def __init__(self, client: TicketingClient, parallelism: int):
        self.client = client
        self.parallelism = max(1, parallelism)
        self._calls = Background(self.parallelism, client.abort)
        self._ahead: dict[int, Future[bytes]] = {}
        """Pages asked for and not taken yet: a page taken is no longer held here."""
        self._first: ListPage | None = None

    def take(self, number: int) -> Future[bytes]:
        """The body of page ``number``: the one asked for ahead, or asked for now."""
        future = self._ahead.pop(number, None)
        return future if future is not None else self._ask(number)

    def first(self) -> ListPage:
        """Page 1, decoded once; :class:`~reconcile.errors.ApiError` passes (again, from
        the same answer, when asked again)."""
        if self._first is None:
            future = self._ahead.get(1)
            if future is None:
                future = self._ahead[1] = self._ask(1)
            self._first = list_page_of(future.result(), 1)
            del self._ahead[1]
        return self._first

    def ask_ahead(self, max_pages: int) -> None:
        """Ask now for what a listing of at most ``max_pages`` pages asks first: page 1,
        then, once it has come back full announcing no more than ``max_pages`` pages,
        the pages after it, ``parallelism`` of them. Never waits; called again as more
        is known, it asks for what has become certain since."""
        if self._first is None:
            future = self._ahead.get(1)
            if future is None:
                self._ahead[1] = self._ask(1)
                return
            if not future.done() or future.exception() is not None:
                return  # a page 1 that failed fails the listing when it is taken
        try:
            page = self.first()
        except ApiError:
            return  # so does one in a shape that cannot be listed
        announced = _pages_of(page.total)
        if page.items < PAGE_SIZE or announced > max_pages:
            return
        for number in range(2, min(_horizon(announced, max_pages), 1 + self.parallelism) + 1):
            if number not in self._ahead:  # the pages :func:`_read` asks for first
                self._ahead[number] = self._ask(number)

    def _ask(self, number: int) -> Future[bytes]:
        return self._calls.submit(self.client.fetch_list_page, number, PAGE_SIZE)

    def close(self, *, interrupted: bool = False) -> None:
        self._calls.close(interrupted=interrupted)
        self._ahead.clear()
        self._first = None

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(interrupted=interruption(kind))


def read_pages(
    client: TicketingClient,
    take: Callable[[LiveTicket], Kept],
    *,
    max_pages: int,
    parallelism: int,
    progress: ProgressFor | None = None,
    only_if_announced_within: bool = False,
    wanted: Container[str] | None = None,
    pages: Pages | None = None,
) -> Listing[Kept]:
    """Read pages 1, 2, ... until a short or empty page, a page with nothing new, or
    ``max_pages``; up to ``parallelism`` pages in flight, taken in order, so at most that
    many requests are spent past the end. :class:`~reconcile.errors.ApiError` passes.

    With ``only_if_announced_within``, a first page whose ``total`` announces more than
    ``max_pages`` pages ends the listing there (reading on would not pay off).
    With ``wanted``, only those tickets are kept, and of each only what ``take`` makes
    of it (in this thread, as its page is taken in). ``pages``: pages asked for ahead
    (:meth:`Pages.ask_ahead`), taken instead of asked again; closed at the end.
    """
    pages = pages if pages is not None else Pages(client, parallelism)
    with pages:
        listing = Listing(take, wanted=wanted)
        return _read(pages, listing, max_pages, progress, only_if_announced_within)


def _read(
    pages: Pages,
    listing: Listing[Kept],
    max_pages: int,
    progress: ProgressFor | None,
    only_if_announced_within: bool,
) -> Listing[Kept]:
    first = pages.first()
    listing.add(first)
    if first.items < PAGE_SIZE:
        listing.complete = True
        return listing
    announced = _pages_of(first.total)
    if only_if_announced_within and announced > max_pages:
        listing.stopped = f"the first page announces {announced} pages"
        return listing
    announced = min(announced, max_pages)
    tick = progress(announced, "Listing") if progress and announced > 1 else no_tick
    tick(1)
    in_flight: deque[tuple[int, Future[bytes]]] = deque()
    following = 2
    # No page past the one that should come back empty is asked while the announced
    # ones are read (15 wasted requests a listing at parallelism 16, before); when
    # ``total`` was too low, reading goes on as if none had been announced.
    horizon = _horizon(announced, max_pages)
    while True:
        while len(in_flight) < pages.parallelism and following <= horizon:
            in_flight.append((following, pages.take(following)))
            following += 1
        if not in_flight and horizon < max_pages:
            horizon = max_pages
            continue
        if not in_flight:
            listing.stopped = f"still full pages after {max_pages} pages"
            return listing
        number, future = in_flight.popleft()
        # Decoded here, one page at a time: the pages read ahead wait as bytes.
        page = list_page_of(future.result(), number, listing.wanted)
        tick(1)
        news = listing.add(page)
        if page.items < PAGE_SIZE:
            listing.complete = True  # pages after a short one are not looked at
            return listing
        if not news:
            listing.stopped = f"page {number} listed no ticket not seen before"
            return listing


def _horizon(announced: int, max_pages: int) -> int:
    """The last page asked for while the announced pages are read: the one after them,
    which should come back empty."""
    return min(max_pages, announced + 1)


def no_tick(_: int) -> None:
    """The progress of a run that shows none."""
    return None


def read_everything(
    client: TicketingClient,
    *,
    parallelism: int,
    progress: ProgressFor | None = None,
    pages: Pages | None = None,
) -> Listing[LiveTicket]:
    """Every ticket of the tenant (``import --all``): a listing that must be complete.

    :class:`ListUnsupported` when it was cut off or some items named no ticket, since
    an import that silently misses tickets is worse than a clear error.
    """
    listing = read_pages(
        client,
        as_listed,
        max_pages=MAX_PAGES,
        parallelism=parallelism,
        progress=progress,
        pages=pages,
    )
    if not listing.complete:
        raise ListUnsupported(f"the list endpoint's pages do not end: {listing.stopped}")
    if listing.unidentified:
        raise ListUnsupported(
            f"the list endpoint returned {listing.unidentified} item(s) without a valid "
            "display ID: cannot tell which tickets they are"
        )
    return listing


def _pages_of(total: int | None) -> int:
    return 0 if total is None else -(-total // PAGE_SIZE)
