"""Renderers of a :class:`reconcile.plan.Plan`: text, JSON, Markdown, HTML onto a file handle."""

from reconcile.render.github import github_annotations
from reconcile.render.html import render_html
from reconcile.render.json import render_json
from reconcile.render.markdown import render_markdown
from reconcile.render.text import render_text

__all__ = ["github_annotations", "render_html", "render_json", "render_markdown", "render_text"]
