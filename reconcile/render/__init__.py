"""Renderers of a :class:`reconcile.plan.Plan`: text, JSON, Markdown, HTML onto a file handle."""

import importlib
from typing import Any

_MODULES = {
    "github_annotations": "github",
    "render_html": "html",
    "render_json": "json",
    "render_markdown": "markdown",
    "render_text": "text",
}
"""Each renderer is imported on first use (the HTML one brings Jinja2: issue 11's start-up)."""

__all__ = ["github_annotations", "render_html", "render_json", "render_markdown", "render_text"]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
