"""Value formatting shared by the text and Markdown renderers."""

from __future__ import annotations

import difflib
import json
from typing import Any

from reconcile.plan import SENSITIVE, FieldChange
from reconcile.render.safe import escape_invisible

LONG_TEXT = 80
"""Strings longer than this (or with a line break) are shown as a unified diff."""


def show(value: Any) -> str:
    """A value JSON-ish on one line: strings quoted, ``null``, lists in brackets."""
    return json.dumps(value, ensure_ascii=False, default=str)


def is_long(change: FieldChange) -> bool:
    """True when a field's values are best read as a unified diff (and may be shown)."""
    if change.sensitive:
        return False
    return any(
        isinstance(v, str) and ("\n" in v or len(v) > LONG_TEXT)
        for v in (change.before, change.after)
    )


def shown_pair(change: FieldChange) -> tuple[str, str]:
    """``before`` and ``after`` as shown on one line, masked when sensitive."""
    if change.sensitive:
        return SENSITIVE, SENSITIVE
    return show(change.before), show(change.after)


def unified_diff(before: Any, after: Any, labels: tuple[str, str]) -> list[str]:
    """The lines of a unified diff between two (long text) values, control characters escaped."""
    lines = difflib.unified_diff(
        _as_text(before).splitlines(),
        _as_text(after).splitlines(),
        fromfile=labels[0],
        tofile=labels[1],
        lineterm="",
    )
    return [escape_invisible(line) for line in lines]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else show(value)


def last_editor(by: str | None, at: str | None) -> str | None:
    """``jdoe at 2026-11-20T16:01:09Z``, or what is known of it, or None."""
    if by and at:
        return f"{by} at {at}"
    return by or (f"someone at {at}" if at else None)


def found_by_key_note(key: str, display_id: str) -> str:
    """What the plan says of a ticket found by its key whose id is not in the manifest."""
    return (
        f"{display_id} holds key {key!r}; its id is not yet in the manifest "
        "(`reconcile adopt --ids` writes it)"
    )


NO_HISTORY_NOTE = (
    "The API keeps no per-field history, so the last editor shown is the ticket's "
    "last editor, not necessarily who changed these fields."
)


def plan_counts(summary: dict[str, int]) -> str:
    text = f"{summary['update']} to update, {summary['unchanged']} unchanged"
    if summary.get("create"):
        text = f"{summary['create']} to create, " + text
    return text + (f", {summary['error']} failed" if summary["error"] else "")


def drift_counts(summary: dict[str, int]) -> str:
    text = f"{summary['update']} drifted, {summary['unchanged']} in sync"
    if summary.get("create"):
        text = f"{summary['create']} not created yet, " + text
    return text + (f", {summary['error']} failed" if summary["error"] else "")
