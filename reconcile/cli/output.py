"""Where output goes: stdout for results, stderr for progress and logs, CI integrations.

Every line the CLI writes passes through :class:`SafeStream` (installed by
:func:`safe_output` around a command): known secrets and JWT-shaped strings are masked
(:mod:`reconcile.redact`), control and invisible characters escaped, and in GitHub
Actions no line can act as a workflow command (:mod:`reconcile.render.safe`). Only
reconcile's own annotations (:func:`workflow_command`) and the token that
``reconcile sandbox token`` exists to print (:func:`write_raw`) go around it.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconcile.redact import scrub
from reconcile.render.safe import defuse_workflow_commands, escape_invisible

if TYPE_CHECKING:
    from reconcile.plan import Plan, RequestBudget

FORMATS = ("text", "json", "markdown", "html")


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


class SafeStream(io.TextIOBase):
    """A text stream that writes each line scrubbed of secrets, its control and invisible
    characters escaped, and (``github``) its workflow commands defused.

    Text is held until its line is complete (or the stream is flushed, as before a
    prompt), so a secret or a ``::`` split over two writes is still seen whole. Colour
    sequences stay only when the target is a terminal.
    """

    def __init__(self, target: TextIO, *, github: bool):
        super().__init__()
        self.target = target
        self.github = github
        self._pending = ""
        self._lock = threading.Lock()

    def _safe(self, text: str, *, defuse: bool) -> str:
        text = escape_invisible(scrub(text), keep_style=self.isatty())
        return defuse_workflow_commands(text) if defuse and self.github else text

    def write(self, text: str) -> int:
        if isinstance(text, bytes):  # click echoes shell completions as bytes
            text = text.decode(self.encoding, "replace")
        with self._lock:
            self._pending += text
            complete, newline, rest = self._pending.rpartition("\n")
            if newline:
                self._pending = rest
                self.target.write(self._safe(complete + newline, defuse=True))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.target.write(self._safe(self._pending, defuse=True))
                self._pending = ""
            self.target.flush()

    def command(self, line: str) -> None:
        """Write one of reconcile's own workflow command lines, scrubbed, not defused."""
        self.flush()
        self.target.write(self._safe(line, defuse=False) + "\n")
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    def fileno(self) -> int:
        return self.target.fileno()


@contextmanager
def safe_output() -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` through :class:`SafeStream` for a run."""
    if isinstance(sys.stdout, SafeStream):  # nested (the demo runs commands in-process)
        yield
        return
    saved = sys.stdout, sys.stderr
    github = in_github_actions()
    sys.stdout = SafeStream(saved[0], github=github)
    sys.stderr = SafeStream(saved[1], github=github)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


def workflow_command(line: str) -> None:
    """Write reconcile's own workflow command (an ``::error`` annotation) to stderr."""
    if isinstance(sys.stderr, SafeStream):
        sys.stderr.command(line)
    else:
        click.echo(line, err=True)


def write_raw(text: str) -> None:
    """Write ``text`` to stdout as it is: only for a value the command exists to print."""
    stream = sys.stdout.target if isinstance(sys.stdout, SafeStream) else sys.stdout
    sys.stdout.flush()
    stream.write(text + "\n")
    stream.flush()


def use_color() -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render(
    plan: Plan, fmt: str, *, drift: bool = False, budget: RequestBudget | None = None
) -> str:
    """The plan in one of ``FORMATS``, as a string; ``budget`` shows in text, Markdown, HTML."""
    # Each imported here: a command pays only for the renderer it uses (the HTML one
    # brings Jinja2, 20 ms).
    out = io.StringIO()
    if fmt == "json":
        from reconcile.render.json import render_json

        render_json(plan, out)
    elif fmt == "html":
        from reconcile.render.html import render_html

        render_html(plan, out, drift=drift, budget=budget)
    elif fmt == "markdown":
        from reconcile.render.markdown import render_markdown

        render_markdown(plan, out, drift=drift, budget=budget)
    else:
        from reconcile.render.text import render_text

        render_text(plan, out, color=use_color(), drift=drift, budget=budget)
    return out.getvalue()


def write_step_summary(plan: Plan, *, drift: bool = False) -> None:
    """Append the Markdown plan to ``$GITHUB_STEP_SUMMARY`` when running in GitHub Actions."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and target:
        with Path(target).open("a", encoding="utf-8") as summary:
            summary.write(escape_invisible(scrub(render(plan, "markdown", drift=drift))))
            summary.write("\n")


def show_plan(
    plan: Plan,
    fmt: str,
    *,
    html_path: Path | None = None,
    drift: bool = False,
    budget: RequestBudget | None = None,
) -> None:
    """Print ``plan`` in ``fmt``, add it to the GitHub step summary, and write its HTML
    report to ``html_path`` (``--html FILE``) when one is given."""
    click.echo(render(plan, fmt, drift=drift, budget=budget), nl=False)
    write_step_summary(plan, drift=drift)
    if html_path is None:
        return
    try:
        html_path.write_text(render(plan, "html", drift=drift), encoding="utf-8")
    except OSError as error:
        from reconcile.errors import PlanError

        raise PlanError(f"{html_path}: cannot write the HTML report: {error.strerror}") from None


def progress_factory() -> Callable[[int, str], Callable[[int], None]] | None:
    """A progress-bar maker for long runs on a terminal; None in CI or when piped."""
    interactive = sys.stderr.isatty() and sys.stdout.isatty()
    if not interactive or os.environ.get("CI"):
        return None

    def make(total: int, label: str) -> Callable[[int], None]:
        # The bar redraws its line with \r: it writes its own trusted label around SafeStream.
        stream = sys.stderr.target if isinstance(sys.stderr, SafeStream) else sys.stderr
        bar = click.progressbar(length=total, label=label, file=stream)
        bar.__enter__()
        done = [0]
        lock = threading.Lock()

        def tick(count: int) -> None:
            with lock:
                bar.update(count)
                done[0] += count
                if done[0] >= total:
                    bar.__exit__(None, None, None)

        return tick

    return make
