"""Where output goes: stdout for results, stderr for progress and logs, CI integrations."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from reconcile.plan import Plan, RequestBudget
from reconcile.render.html import render_html
from reconcile.render.json import render_json
from reconcile.render.markdown import render_markdown
from reconcile.render.text import render_text

FORMATS = ("text", "json", "markdown", "html")


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def use_color() -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render(
    plan: Plan, fmt: str, *, drift: bool = False, budget: RequestBudget | None = None
) -> str:
    """The plan in one of ``FORMATS``, as a string; ``budget`` shows in text, Markdown, HTML."""
    out = io.StringIO()
    if fmt == "json":
        render_json(plan, out)
    elif fmt == "html":
        render_html(plan, out, drift=drift, budget=budget)
    elif fmt == "markdown":
        render_markdown(plan, out, drift=drift, budget=budget)
    else:
        render_text(plan, out, color=use_color(), drift=drift, budget=budget)
    return out.getvalue()


def write_step_summary(plan: Plan, *, drift: bool = False) -> None:
    """Append the Markdown plan to ``$GITHUB_STEP_SUMMARY`` when running in GitHub Actions."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and target:
        with Path(target).open("a", encoding="utf-8") as summary:
            summary.write(render(plan, "markdown", drift=drift))
            summary.write("\n")


def progress_factory() -> Callable[[int, str], Callable[[int], None]] | None:
    """A progress-bar maker for long runs on a terminal; None in CI or when piped."""
    interactive = sys.stderr.isatty() and sys.stdout.isatty()
    if not interactive or os.environ.get("CI"):
        return None

    def make(total: int, label: str) -> Callable[[int], None]:
        bar = click.progressbar(length=total, label=label, file=sys.stderr)
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
