"""Click options shared by the commands (each declared once); opening a Manager for them.

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
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from reconcile.cli.output import progress_factory
from reconcile.config import FILE_KEYS, SPEC_BY_NAME, Settings, load_settings

if TYPE_CHECKING:
    from reconcile.client import TicketingClient
    from reconcile.manager import Manager, Shard

# The client and the Manager (requests, urllib3) and logging are imported when a command
# opens one: `validate` declares its options from here and must not pay for them.

F = TypeVar("F", bound=Callable[..., Any])


class GivenSettings(NamedTuple):
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


config_option = click.option(
    "--config",
    metavar="FILE",
    type=click.Path(),
    help="Config file instead of the nearest reconcile.yaml or pyproject.toml "
    "[tool.reconcile] [RECONCILE_CONFIG].",
)

_CONNECTION_OPTIONS = (
    setting_option("base_url"),
    setting_option("tenant_id"),
    setting_option("realm"),
    setting_option("catalog_type"),
    config_option,
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


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=str))
target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ID",
    help="Only this ticket (repeatable).",
)
journal_option = click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Append a write-ahead log of every write to FILE (for `reconcile undo`).",
)
auto_approve_option = click.option(
    "--auto-approve", is_flag=True, help="Do not ask for confirmation."
)
allow_protected_option = click.option(
    "--allow-protected", is_flag=True, help="Allow changes to protected fields."
)


def _shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    from reconcile.manager import Shard

    try:
        return Shard.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--shard") from None


shard_option = click.option(
    "--shard",
    metavar="I/N",
    callback=_shard,
    help="Only shard I of N: a stable hash partition of the declared tickets.",
)


def safety_options(command: F) -> F:
    """``--max-changes``, ``--max-change-ratio`` and ``--allow-protected``: apply's checks."""
    for option in (
        allow_protected_option,
        setting_option("max_change_ratio"),
        setting_option("max_changes"),
    ):
        command = option(command)
    return command


@contextlib.contextmanager
def open_manager(
    params: dict[str, Any], *, write: bool, journal: Path | None = None
) -> Iterator[tuple[Settings, Manager]]:
    """This run's settings and a :class:`Manager` over a ready client
    (:meth:`Manager.open`: the journal first, then token and preflight); ``-v`` logging.

    The client and the journal are closed when the ``with`` block ends, also on errors.
    """
    from reconcile.cli.logs import setup_logging
    from reconcile.cli.memory import keep_large_blocks_mapped
    from reconcile.manager import Manager

    keep_large_blocks_mapped()
    setup_logging(params.get("verbose") or 0)
    settings, secrets = settings_for(params)
    with Manager.open(
        settings, write=write, env=secrets, journal=journal, progress=progress_factory()
    ) as manager:
        yield settings, manager


def open_client(params: dict[str, Any], *, write: bool) -> tuple[Settings, TicketingClient]:
    """Load the settings, set up ``-v`` logging, get a token, preflight it; a ready client.

    ``write`` asks preflight to check that the token may update tickets, so a run that
    would fail at the first PATCH fails before any request instead.
    """
    from reconcile.cli.logs import setup_logging
    from reconcile.client import connect

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
