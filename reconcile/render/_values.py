"""Value formatting shared by the text and Markdown renderers."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from reconcile.plan import SENSITIVE, FieldChange
from reconcile.render.safe import escape_invisible
from reconcile.value_diff import ItemChange, ItemKind, changes_inside

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


INSIDE_LIMIT = 20
"""At most this many changes inside one value are listed; a note counts the rest."""

Piece = tuple[str, str]
"""One change inside a value as shown: its style (``add``, ``del``, ``move``,
``change`` or ``more``) and its text, control characters escaped."""

_STYLES = {
    ItemKind.ADDED: "add",
    ItemKind.REMOVED: "del",
    ItemKind.MOVED: "move",
    ItemKind.CHANGED: "change",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def inside_lines(change: FieldChange) -> list[list[Piece]]:
    """What changed inside a list or nested value, below its ``before → after`` line.

    A multiselect is one line, ``+ "q4"  - "q3"`` (pieces joined by two spaces); an
    ordered list or a nested value is one line per change, ``+ "x" at 3``, ``~ "c"
    moved 3 → 1``, ``~ a.b: 1 → 2`` (list positions count from 1: a removed or moved
    item's first position is in the old list, an inserted or moved one's in the new
    list). Nothing for a sensitive field, a scalar, or a value added or cleared whole.
    """
    if change.sensitive:
        return []
    items = changes_inside(change.field_type, change.before, change.after)
    pieces = [_piece(item) for item in items[:INSIDE_LIMIT]]
    if len(items) > INSIDE_LIMIT:
        pieces.append(("more", f"… {len(items) - INSIDE_LIMIT} more"))
    if not pieces:
        return []
    if change.field_type == "multiselect":
        return [pieces]
    return [[piece] for piece in pieces]


def _piece(item: ItemChange) -> Piece:
    value = show(item.value)
    if item.kind is ItemKind.MOVED:
        assert item.before_at is not None and item.after_at is not None
        text = f"~ {value} moved {item.before_at + 1} → {item.after_at + 1}"
    elif item.kind is ItemKind.CHANGED:
        text = f"~ {_path_text(item.path)}: {show(item.old)} → {value}"
    else:
        sign = "+" if item.kind is ItemKind.ADDED else "-"
        at = item.after_at if item.kind is ItemKind.ADDED else item.before_at
        if item.path:
            text = f"{sign} {_path_text(item.path)}: {value}"
        elif at is not None:
            text = f"{sign} {value} at {at + 1}"
        else:
            text = f"{sign} {value}"
    return _STYLES[item.kind], escape_invisible(text)


def _path_text(path: tuple[str | int, ...]) -> str:
    """``a.b[1]``: keys that are identifiers bare, other keys quoted, indexes from 0."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{show(part)}]"
    return text


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
