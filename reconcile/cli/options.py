"""Click options shared by the commands that talk to the tenant; opening a client for them.

The options carry no ``envvar``: :func:`reconcile.config.load_settings` owns the
precedence (flag > environment > reconcile.yaml > default) so it is the same for every
command and every setting. There is deliberately no ``--token`` flag: a token on the
command line shows in the process list; use ``--token-file`` or ``RECONCILE_TOKEN``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

import click

from reconcile.cli.output import progress_factory
from reconcile.client import TicketingClient, connect
from reconcile.config import CATALOG_TYPES, Settings, load_settings
from reconcile.lock import find_lock
from reconcile.manager import Manager
from reconcile.plan import Target
from reconcile.redact import RedactingFilter

F = TypeVar("F", bound=Callable[..., Any])

_HANDLER_NAME = "reconcile-verbose"

_CONNECTION_OPTIONS = (
    click.option(
        "--base-url", metavar="URL", help="API base URL [RECONCILE_BASE_URL; config base_url]."
    ),
    click.option(
        "--tenant-id", metavar="UUID", help="Tenant id [RECONCILE_TENANT_ID; config tenant_id]."
    ),
    click.option("--realm", metavar="NAME", help="Realm name [RECONCILE_REALM; config realm]."),
    click.option(
        "--catalog-type",
        type=click.Choice(CATALOG_TYPES),
        help="PATCH 'type' query value [RECONCILE_CATALOG_TYPE; default template].",
    ),
    click.option(
        "--config",
        metavar="FILE",
        help="Config file instead of the nearest reconcile.yaml [RECONCILE_CONFIG].",
    ),
    click.option(
        "--token-file",
        metavar="FILE",
        help="Read the bearer token from FILE [RECONCILE_TOKEN_FILE]; else RECONCILE_TOKEN, "
        "else client credentials (RECONCILE_CLIENT_ID, RECONCILE_CLIENT_SECRET).",
    ),
    click.option(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="Connect and read timeout of each request [RECONCILE_TIMEOUT; default 30].",
    ),
    click.option(
        "--ca-bundle",
        metavar="FILE",
        help="CA certificates to verify TLS with [REQUESTS_CA_BUNDLE; config ca_bundle].",
    ),
    click.option(
        "--allow-insecure-http",
        is_flag=True,
        default=None,
        help="Allow plain http:// to a host that is not loopback.",
    ),
    click.option(
        "--rate-limit",
        type=float,
        metavar="N",
        help="At most N requests per second across all workers [RECONCILE_RATE_LIMIT].",
    ),
    click.option(
        "-v",
        "--verbose",
        count=True,
        help="Log each request (method, path, status, time) to stderr; -vv adds urllib3.",
    ),
)


def connection_options(command: F) -> F:
    """Add the connection options to a click command (they arrive as keyword params)."""
    for option in reversed(_CONNECTION_OPTIONS):
        command = option(command)
    return command


def parallelism_option(command: F) -> F:
    """Add ``--parallelism N`` (default 10, RECONCILE_PARALLELISM, config parallelism)."""
    return click.option(
        "--parallelism",
        type=click.IntRange(min=1),
        metavar="N",
        help="Requests in flight at once [RECONCILE_PARALLELISM; default 10].",
    )(command)


def target_of(settings: Settings) -> Target:
    """The tenant a run talks to, as plans record it."""
    return Target(settings.base_url or "", settings.tenant_id or "", settings.realm or "")


@contextlib.contextmanager
def open_manager(params: dict[str, Any], *, write: bool) -> Iterator[tuple[Settings, Manager]]:
    """:func:`open_client`, then a :class:`Manager` over it for this run's settings.

    The client is closed when the ``with`` block ends, also on errors.
    """
    settings, client = open_client(params, write=write)
    with client:
        yield (
            settings,
            Manager(
                client,
                parallelism=settings.parallelism,
                target=target_of(settings),
                progress=progress_factory(),
                lock_file=find_lock(settings.config_path),
            ),
        )


def open_client(params: dict[str, Any], *, write: bool) -> tuple[Settings, TicketingClient]:
    """Load the settings, set up ``-v`` logging, get a token, preflight it; a ready client.

    ``write`` asks preflight to check that the token may update tickets, so a run that
    would fail at the first PATCH fails before any request instead.
    """
    setup_logging(params.get("verbose") or 0)
    settings = load_settings(params)
    return settings, connect(settings, write=write, env=os.environ)


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
    if verbosity <= 0:
        return
    for name in ("reconcile", "urllib3") if verbosity > 1 else ("reconcile",):
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RedactingFilter())
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if name == "reconcile":
            logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
