"""``reconcile watch``: the continuous reconcile loop, its endpoints and notifications.

Thin: options, logging and signals; the loop and what it lives with (client, journal,
notifier, endpoint server) are :func:`reconcile.watch.open_watcher`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from reconcile.cli.applying import stop_on_signals
from reconcile.cli.logs import setup_logging, setup_watch_logging
from reconcile.cli.options import (
    connection_options,
    journal_option,
    parallelism_option,
    paths_argument,
    safety_options,
    setting_option,
    shard_option,
    target_option,
)
from reconcile.config import listen_address, load_settings, manifest_paths
from reconcile.errors import ExitStatus
from reconcile.manager import Shard
from reconcile.watch import WatchOptions, open_watcher

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
@safety_options
@journal_option
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
    setup_watch_logging(settings.log_format)
    listen = listen_address(settings.listen)
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
        open_watcher(
            settings,
            options,
            journal=journal_file,
            listen=None if once else listen,
            stop=stop,
            env=os.environ,
        ) as (watcher, server),
        stop_on_signals(stop, on_signal=lambda signum: _stopping(stop, signum)),
    ):
        mode = "self-heal" if options.self_heal else "report only"
        where = f"; endpoints on {server.url}" if server else ""
        log.info(
            "watching %s every %g s (%s)%s", ", ".join(options.paths), options.interval, mode, where
        )
        if settings.notify_urls:
            log.info("notifying %d webhook(s)", len(settings.notify_urls))
        report = watcher.run(once=once)
    if once and report is not None:
        return report.exit_status
    log.info("stopped: no write was started after the signal; writes in flight completed")
    return ExitStatus.OK


def _stopping(stop: threading.Event, signum: int) -> None:
    if not stop.is_set():
        log.info("%s received: stopping after the writes in flight", signal.Signals(signum).name)
