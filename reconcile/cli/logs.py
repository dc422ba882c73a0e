"""Where log records go: stderr, through the redacting filter, as text or JSON lines.

``-v`` logs each request, ``-vv`` adds urllib3's own; ``reconcile.notice`` records (a
run waiting on something) always show; ``reconcile watch`` logs its cycles at INFO.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

from reconcile.redact import RedactingFilter

_HANDLER_NAME = "reconcile-verbose"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted, not when set up.

    Worker threads may log after an in-process run swapped or closed the stream
    it started with (click's test runner does).
    """

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        return None


def setup_logging(verbosity: int) -> None:
    """Send ``reconcile`` (and with -vv ``urllib3``) logs to stderr through the redacting filter.

    Below -vv urllib3's own retry warnings are silenced: ``reconcile.http`` reports
    retries itself. Replaces the handler of an earlier call, so repeated in-process runs
    (tests) do not double the output.
    """
    for name in ("reconcile", "urllib3"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbosity > 1 else logging.ERROR)
    notice = logging.getLogger("reconcile.notice")  # always shown: a run is waiting on it
    for handler in [h for h in notice.handlers if h.get_name() == _HANDLER_NAME]:
        notice.removeHandler(handler)
    notice.propagate = False
    notice.addHandler(_stderr_handler("reconcile: %(message)s"))
    if verbosity <= 0:
        return
    for name in ("reconcile", "urllib3") if verbosity > 1 else ("reconcile",):
        logger = logging.getLogger(name)
        logger.addHandler(_stderr_handler("%(name)s: %(message)s"))
        if name == "reconcile":
            logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


def _stderr_handler(form: str) -> logging.Handler:
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter(form))
    return handler


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_watch_logging(fmt: str) -> None:
    """The watch's INFO logs on stderr, as text or JSON; ``-v`` request logs follow suit."""
    formatter: logging.Formatter = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("reconcile.watch")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if fmt == "json":
        for name in ("reconcile", "urllib3"):
            for other in logging.getLogger(name).handlers:
                if other.get_name() == _HANDLER_NAME:
                    other.setFormatter(formatter)
