"""Webhook notifications of ``reconcile watch``: POST a small JSON document to each URL.

The body is ``{"event": "drift" | "resolved" | "error", "text": "...", "tickets": [...]}``;
``text`` alone is what a Slack or Teams incoming webhook shows. Deliveries run on a
thread of their own, so a slow or failing webhook never delays a cycle: each is retried
with exponential backoff and logged, then dropped.

Most webhooks authenticate with a token in the URL's path or query. Logs name a URL by
its scheme and host only (:func:`redact_url`), and the whole URL, its path and its query
are registered as secrets, so the redacting log filter masks them anywhere.

This module talks to webhooks, not to the ticketing API (that is :mod:`reconcile.client`
alone); it shares only the client's secret-free description of transport errors.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from reconcile import __version__
from reconcile.client import describe
from reconcile.redact import SECRETS, RedactingFilter

log = logging.getLogger("reconcile.watch.notify")
log.addFilter(RedactingFilter())

EVENTS = ("drift", "resolved", "error")


def redact_url(url: str) -> str:
    """``https://hooks.example.com/…``: scheme and host, never the path, query or user."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


@dataclass(frozen=True)
class Notification:
    event: str
    text: str
    tickets: tuple[dict[str, Any], ...] = ()

    def body(self) -> dict[str, Any]:
        return {"event": self.event, "text": self.text, "tickets": list(self.tickets)}


class Notifier:
    """Delivers notifications to every URL in order, from one background thread.

    ``attempts`` tries per URL and notification, waiting ``first_wait`` seconds after
    the first failure and twice as long after each next one, at most ``max_wait``.
    """

    def __init__(
        self,
        urls: tuple[str, ...],
        *,
        attempts: int = 5,
        first_wait: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 10.0,
    ):
        self.urls = urls
        self.attempts = attempts
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.timeout = timeout
        for url in urls:
            parts = urlsplit(url)
            for secret in (url, parts.path, parts.query, parts.password):
                if secret and len(secret) > 8:
                    SECRETS.add(secret)
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[Notification | None] = queue.Queue()
        self._closing = threading.Event()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"reconcile/{__version__}"
        self._thread = threading.Thread(target=self._run, name="reconcile-notify", daemon=True)
        if urls:
            self._thread.start()

    def send(self, notification: Notification) -> None:
        """Queue a notification for every URL; returns at once."""
        if self.urls:
            self._queue.put(notification)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for up to ``timeout`` seconds (no more retry waits), then stop."""
        if not self.urls:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._closing.set()
        self._thread.join(self.timeout + 1)
        left = self._queue.qsize()
        if left:
            log.warning("dropped %d notification(s) not delivered before exit", left)
        self._session.close()

    def _run(self) -> None:
        while True:
            notification = self._queue.get()
            if notification is None:
                return
            for url in self.urls:
                self._deliver(url, notification)

    def _deliver(self, url: str, notification: Notification) -> None:
        shown = redact_url(url)
        wait = self.first_wait
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._session.post(
                    url, json=notification.body(), timeout=self.timeout, allow_redirects=False
                )
                reason = f"status {response.status_code}"
                if 200 <= response.status_code < 300:
                    self.delivered += 1
                    log.info("notified %s of %s", shown, notification.event)
                    return
            except requests.RequestException as error:
                reason = describe(error)
            if attempt == self.attempts or self._closing.is_set():
                break
            log.warning(
                "notification %s to %s failed (%s); retrying in %.1f s (attempt %d of %d)",
                notification.event,
                shown,
                reason,
                wait,
                attempt,
                self.attempts,
            )
            if self._closing.wait(wait):
                break
            wait = min(wait * 2, self.max_wait)
        self.failed += 1
        log.error(
            "notification %s to %s failed (%s); giving up after %d attempt(s)",
            notification.event,
            shown,
            reason,
            attempt,
        )
