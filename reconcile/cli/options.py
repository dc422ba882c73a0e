"""Click options shared by the commands that talk to the tenant; opening a client for them.

Every option that sets a setting is built from its entry in :data:`reconcile.config.SPECS`
(:func:`setting_option`): flag, metavar, help, and in the help its variables, config
key and default, so the command line and the settings cannot drift apart. The options
carry no ``envvar`` and no type: :func:`reconcile.config.load_settings` owns the
precedence (flag > environment > config file > default) and checks each value once,
whatever its source. There is deliberately no ``--token`` flag: a token on the command
line shows in the process list; use ``--token-file`` or ``RECONCILE_TOKEN``.

A caller that already holds its settings (``reconcile demo``) hands them to a command
as a :class:`GivenSettings` in the click context's ``obj``; the command then reads no
flag, variable or config file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

import click

from reconcile.cli.output import progress_factory
from reconcile.client import TicketingClient, connect
from reconcile.config import FILE_KEYS, SPEC_BY_NAME, Settings, load_settings
from reconcile.lock import find_lock
from reconcile.manager import Manager
from reconcile.plan import Target
from reconcile.redact import RedactingFilter

F = TypeVar("F", bound=Callable[..., Any])

_HANDLER_NAME = "reconcile-verbose"


@dataclass(frozen=True)
class GivenSettings:
    """Settings handed to commands by their caller, instead of read from flags, the
    environment and the config file; ``secrets`` holds the variables the token and the
    client secret are read from (``RECONCILE_TOKEN``, ``RECONCILE_CLIENT_SECRET``...)."""

    settings: Settings
    secrets: Mapping[str, str]


def setting_option(name: str) -> Callable[[F], F]:
    """The click option of setting ``name``, as its entry in ``SPECS`` declares it."""
    spec = SPEC_BY_NAME[name]
    if spec.flag is None:
        raise ValueError(f"setting {name} has no flag")
    help_text = f"{spec.help} [{_sources(spec)}]."
    if spec.is_flag:
        return click.option(spec.flag, name, is_flag=True, default=None, help=help_text)
    return click.option(
        spec.flag,
        name,
        metavar=spec.metavar,
        multiple=spec.multiple,
        type=click.Path() if spec.is_path else None,  # for completion; checks nothing
        shell_complete=_complete(spec.choices) if spec.choices else None,
        help=help_text,
    )


def _sources(spec: Any) -> str:
    """Where else the setting comes from, for its help: variables, config key, default."""
    parts = [", ".join(spec.env)] if spec.env else []
    if spec.name in FILE_KEYS:  # a secret (a webhook URL) is never read from the config file
        parts.append(f"config {spec.name}")
    default = spec.default
    if default not in (None, False, (), ""):
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        parts.append(f"default {shown}")
    return "; ".join(parts)


def _complete(choices: tuple[str, ...]) -> Callable[..., list[str]]:
    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    return complete


_CONNECTION_OPTIONS = (
    setting_option("base_url"),
    setting_option("tenant_id"),
    setting_option("realm"),
    setting_option("catalog_type"),
    click.option(
        "--config",
        metavar="FILE",
        type=click.Path(),
        help="Config file instead of the nearest reconcile.yaml or pyproject.toml "
        "[tool.reconcile] [RECONCILE_CONFIG].",
    ),
    setting_option("token_file"),
    setting_option("timeout"),
    setting_option("ca_bundle"),
    setting_option("allow_insecure_http"),
    setting_option("rate_limit"),
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
    """Add ``--parallelism N`` (its entry in ``SPECS``)."""
    return setting_option("parallelism")(command)


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
                key_field=settings.key_field,
            ),
        )


def open_client(params: dict[str, Any], *, write: bool) -> tuple[Settings, TicketingClient]:
    """Load the settings, set up ``-v`` logging, get a token, preflight it; a ready client.

    ``write`` asks preflight to check that the token may update tickets, so a run that
    would fail at the first PATCH fails before any request instead.
    """
    setup_logging(params.get("verbose") or 0)
    settings, secrets = settings_for(params)
    return settings, connect(settings, write=write, env=secrets)


def settings_for(params: Mapping[str, Any]) -> tuple[Settings, Mapping[str, str]]:
    """This run's settings, and where its secrets are read: the :class:`GivenSettings`
    of the click context if the caller handed some, else flags, environment and file."""
    context = click.get_current_context(silent=True)
    given = context.find_object(GivenSettings) if context is not None else None
    if given is not None:
        return given.settings, given.secrets
    return load_settings(params), os.environ


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
