"""A webhook that nothing answers: retried, then given up, with its URL redacted."""

from __future__ import annotations

import logging
import socket

import pytest

from reconcile.notify import Notification, Notifier


def test_an_unreachable_webhook_is_retried_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/T0SECRET/B0SECRET/unreachable-hook"
    notifier = Notifier((url,), attempts=2, first_wait=0.01)
    with caplog.at_level(logging.INFO, logger="reconcile.notify"):
        notifier.send(Notification("error", "reconcile watch: a test"))
        notifier.close()
    assert notifier.failed == 1 and notifier.delivered == 0
    assert "retrying in 0.0 s (attempt 1 of 2)" in caplog.text
    assert "giving up after 2 attempt(s)" in caplog.text
    assert "unreachable-hook" not in caplog.text
