"""Secret redaction, in one place: the registry, the scrubber and the logging filter.

Every token source registers what it reads or fetches in :data:`SECRETS`.
:func:`scrub` masks those values, in the forms they travel in (as they are, URL-encoded
as in a token request's form body, base64 as in an HTTP Basic header), anything shaped
like a JWT and any bearer credential. It is applied to server messages as they are read, to
every log record (:class:`RedactingFilter`), and to every line the CLI writes (the
output streams of :mod:`reconcile.cli.output`): a second line of defence behind
never formatting a secret in the first place. :func:`mask_values` masks the values of
``sensitive`` fields in a server's message about their ticket.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    import logging

# base64, json and logging are imported where they are used: the CLI's output streams
# import this module on every start, ``reconcile --version`` included (issue 11).

REDACTED = "[redacted]"

MIN_SECRET_CHARS = 4
"""Registered values shorter than this are too common to mask."""

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
"""A bearer credential (RFC 6750 token68); short words ("Bearer token") are left alone."""


def encoded_forms(value: str) -> set[str]:
    """``value`` and the forms it is sent or echoed in: URL-encoded (``%40`` and ``+``
    for a space, as in a form body) and base64 (standard and URL-safe, with and without
    padding, as in an HTTP Basic header or a JWT part)."""
    import base64

    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    raw = value.encode("utf-8")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class SecretSet:
    """The secret strings of this process, and a scrubber that replaces them.

    Besides the registered values it masks anything shaped like a JWT or following
    ``Bearer``, so a token the process never saw (echoed by a server, given where a
    path or a tenant belongs) is masked too.
    """

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Register a secret and its encoded forms; values shorter than
        :data:`MIN_SECRET_CHARS` are ignored."""
        if not value or len(value) < MIN_SECRET_CHARS:
            return
        with self._lock:
            known = set(self._values) | encoded_forms(value)
            # Longest first, so that a value is masked whole before any part of it.
            self._values = tuple(sorted(known, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret, JWT-shaped string and bearer credential masked."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _JWT_SHAPE.sub(REDACTED, text)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


SECRETS = SecretSet()
"""The process-wide registry."""


def mask_values(text: str, values: Iterable[Any]) -> str:
    """``text`` with each of ``values`` masked: the values of the fields a manifest marks
    ``sensitive``, where a server's message about that ticket quotes them.

    Scoped to one message rather than registered in :data:`SECRETS`: a sensitive value
    is often an everyday word ("network", "High") that must stay readable elsewhere.
    A string or number is masked as it is, JSON-escaped and in its encoded forms; a
    list item by item.
    """
    import json

    forms: set[str] = set()
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                continue
            plain = str(item)
            forms |= encoded_forms(plain) | {json.dumps(plain)[1:-1]}
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= MIN_SECRET_CHARS:
            text = text.replace(form, REDACTED)
    return text


def scrub(text: str) -> str:
    """``text`` scrubbed by the process-wide registry (:meth:`SecretSet.scrub`)."""
    return SECRETS.scrub(text)


class RedactingFilter:
    """Masks known secrets, JWT-shaped strings and bearer credentials in a log record.

    It renders the message (and any traceback) once, scrubs it and stores the result,
    so no handler downstream can format a secret back in. A filter is any object with
    this ``filter`` method (``logging.Filterer.addFilter`` takes it as it takes a
    ``logging.Filter``); not subclassing one keeps ``logging`` out of start-up.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        import logging

        record.msg = SECRETS.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = SECRETS.scrub(record.exc_text)
        return True
