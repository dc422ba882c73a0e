"""``reconcile watch``: the continuous reconcile loop, its endpoints and notifications.

Thin: settings, logging, signals and the lifetime of the client, journal, notifier and
endpoint server; the loop itself is :class:`reconcile.watch.Watcher`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reconcile.cli.options import (
    _HANDLER_NAME,
    _StderrHandler,
    connection_options,
    parallelism_option,
    setting_option,
    setup_logging,
    target_of,
)
from reconcile.cli.plan import paths_argument, shard_option, target_option
from reconcile.client import connect
from reconcile.config import Settings, listen_address, load_settings, manifest_paths
from reconcile.endpoints import EndpointServer
from reconcile.errors import ConfigError, ExitStatus
from reconcile.journal import Journal
from reconcile.lock import find_lock
from reconcile.manager import Shard
from reconcile.notify import Notifier
from reconcile.redact import RedactingFilter
from reconcile.watch import Watcher, WatchOptions

log = logging.getLogger("reconcile.watch")


@click.command()
@paths_argument
@setting_option("interval")
@setting_option("self_heal")
@setting_option("listen")
@setting_option("notify_urls")
@setting_option("state_dir")
@click.option("--once", is_flag=True, help="Run one cycle; exit 0 in sync, 2 drifted, 1 error.")
@setting_option("log_format")
@setting_option("max_changes")
@setting_option("max_change_ratio")
@click.option("--allow-protected", is_flag=True, help="Allow self-heal to change protected fields.")
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Append one JSON line per self-heal write to FILE (for reconcile undo).",
)
@target_option
@shard_option
@parallelism_option
@connection_options
def watch(
    paths: tuple[str, ...],
    once: bool,
    allow_protected: bool,
    journal_file: Path | None,
    targets: tuple[str, ...],
    shard: Shard | None,
    **params: Any,
) -> ExitStatus:
    """Compare the manifests in PATHS with the live tickets every interval; report, notify
    and (with --self-heal) apply."""
    setup_logging(params.get("verbose") or 0)
    settings = load_settings(params)
    _setup_watch_logging(settings.log_format)
    host, port = listen_address(settings.listen)
    options = WatchOptions(
        paths=tuple(manifest_paths(paths, settings)),
        interval=settings.interval,
        self_heal=settings.self_heal,
        max_changes=settings.max_changes,
        max_change_ratio=settings.max_change_ratio,
        allow_protected=allow_protected,
        targets=targets,
        shard=shard,
        state_dir=settings.state_dir,
    )
    stop = threading.Event()
    with (
        _journal(journal_file) as journal,
        connect(settings, write=settings.self_heal, env=os.environ) as client,
    ):
        notifier = Notifier(settings.notify_urls)
        watcher = Watcher(
            client,
            options,
            parallelism=settings.parallelism,
            target=target_of(settings),
            lock_file=find_lock(settings.config_path),
            key_field=settings.key_field,
            notifier=notifier,
            journal=journal,
            stop=stop,
        )
        server = None if once else _serve(watcher, host, port)
        try:
            with _stopping_on_signals(stop):
                _log_start(settings, options, server)
                report = watcher.run(once=once)
        finally:
            notifier.close()
            if server is not None:
                server.stop()
    if once and report is not None:
        return report.exit_status
    log.info("stopped: no write was started after the signal; writes in flight completed")
    return ExitStatus.OK


def _serve(watcher: Watcher, host: str, port: int) -> EndpointServer:
    try:
        return EndpointServer(watcher, host, port).start()
    except OSError as error:
        raise ConfigError(f"--listen {host}:{port}: cannot listen: {error.strerror}") from None


def _log_start(settings: Settings, options: WatchOptions, server: EndpointServer | None) -> None:
    mode = "self-heal" if options.self_heal else "report only"
    where = f"; endpoints on {server.url}" if server else ""
    log.info(
        "watching %s every %g s (%s)%s",
        ", ".join(options.paths),
        options.interval,
        mode,
        where,
    )
    if settings.notify_urls:
        log.info("notifying %d webhook(s)", len(settings.notify_urls))


@contextlib.contextmanager
def _journal(path: Path | None) -> Iterator[Journal | None]:
    if path is None:
        yield None
        return
    with Journal(path) as journal:
        yield journal


@contextlib.contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop``: no new write, the cycle in flight winds down."""

    def handle(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            log.info(
                "%s received: stopping after the writes in flight", signal.Signals(signum).name
            )
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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


def _setup_watch_logging(fmt: str) -> None:
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
