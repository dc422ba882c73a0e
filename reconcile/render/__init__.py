"""Renderers of a :class:`reconcile.plan.Plan`: text, JSON and Markdown, each onto a file handle."""

from reconcile.render.github import github_annotations
from reconcile.render.json import render_json
from reconcile.render.markdown import render_markdown
from reconcile.render.text import render_text

__all__ = ["github_annotations", "render_json", "render_markdown", "render_text"]
