"""The human-readable plan and drift report, shaped like Terraform's plan output.

::

    + REQ onboarding-alice (create)
        + summary: "Onboard Alice"
    ~ REQ-0509
        ~ priority: "Low" → "High"
        ~ tags: ["freeze", "q3"] → ["freeze", "q4"]
            + "q4"  - "q3"
        ~ checklist: ["Order laptop", "Create account", "Ship"] → ["Ship", "Order laptop"]
            - "Create account" at 2
            ~ "Ship" moved 3 → 1
    ! REQ-9999: Ticket not found (REQ-9999)

    Plan: 1 to create, 1 to update, 3 unchanged, 1 failed.
"""

from __future__ import annotations

from typing import TextIO

from reconcile.plan import Action, FieldChange, Plan, RequestBudget, TicketChange, TicketCreate
from reconcile.render._values import (
    NO_HISTORY_NOTE,
    drift_counts,
    found_by_key_note,
    inside_lines,
    is_long,
    last_editor,
    plan_counts,
    show,
    shown_pair,
    unified_diff,
)

_RESET = "\x1b[0m"
_STYLES = {
    "change": "\x1b[33m",
    "error": "\x1b[31m",
    "add": "\x1b[32m",
    "del": "\x1b[31m",
    "hunk": "\x1b[36m",
    "move": "\x1b[33m",
    "more": "\x1b[2m",
    "bold": "\x1b[1m",
}
_INDENT = "    "


def render_text(
    plan: Plan,
    out: TextIO,
    *,
    color: bool = False,
    drift: bool = False,
    budget: RequestBudget | None = None,
) -> None:
    """Write ``plan`` as text; ``drift=True`` writes the drift report instead.

    ANSI colour only when ``color`` is true (the CLI decides: a TTY and no ``NO_COLOR``).
    """
    paint = _Paint(color)
    lines: list[str] = []
    if plan.schema_drift:
        lines.append(paint("error", "Schema drift:"))
        lines += [f"  ! {message}" for message in plan.schema_drift]
        lines.append("")
    for create in plan.creates:
        lines += _create(create, paint, drift)
        lines.append("")
    for change in plan.changes:
        lines += _ticket(change, paint, drift)
        lines.append("")
    for key, display_id in plan.found_by_key:
        lines.append(f"= {found_by_key_note(key, display_id)}")
    if plan.found_by_key:
        lines.append("")
    summary = plan.summary
    if drift:
        lines.append(paint("bold", f"Drift: {drift_counts(summary)}."))
        if summary["update"]:
            lines.append(NO_HISTORY_NOTE)
    elif plan.changes or plan.creates:
        lines.append(paint("bold", f"Plan: {plan_counts(summary)}."))
    else:
        lines.append(paint("bold", "No changes.") + " Live tickets match the manifests.")
    lines += [policy.describe() for policy in plan.policies]
    if budget is not None:
        lines.append(budget.describe())
    out.write("\n".join(lines) + "\n")


def _ticket(change: TicketChange, paint: _Paint, drift: bool) -> list[str]:
    if change.action != Action.UPDATE:
        return [paint("error", f"! {change.id}: {change.error}")]
    head = paint("change", "~") + f" {change.id}"
    if drift:
        editor = last_editor(change.last_updated_by, change.last_updated_at)
        if editor:
            head += f" (last updated by {editor})"
    return [head] + [line for f in change.fields for line in _field(f, paint, drift)]


def _create(create: TicketCreate, paint: _Paint, drift: bool) -> list[str]:
    """A ticket to create; in a drift report, a declared ticket that does not exist."""
    what = "declared, does not exist" if drift else "create"
    lines = [paint("add", "+") + f" {create.name} ({what})"]
    if create.team is not None:
        lines.append(f"{_INDENT}team: {show(create.team)}")
    for f in create.fields:
        value = "(sensitive)" if f.sensitive else show(f.after)
        lines.append(_INDENT + paint("add", "+") + f" {f.name}: {value}")
    return lines


def _field(change: FieldChange, paint: _Paint, drift: bool) -> list[str]:
    marker = _INDENT + paint("change", "~") + f" {change.name}:"
    note = " (protected)" if change.protected and not drift else ""
    if change.source is not None:
        note += f" (from {change.source.describe()})"
    if is_long(change):
        labels = ("live", "declared") if drift else ("before", "after")
        diff = unified_diff(change.before, change.after, labels)
        if diff:
            return [marker + note] + [_INDENT * 2 + _diff_line(line, paint) for line in diff]
    before, after = shown_pair(change)
    if change.sensitive:
        return [f"{marker} (sensitive){note}"]
    if drift:
        line = f"{marker} declared {after}, live {before}{note}"
    else:
        line = f"{marker} {before} → {after}{note}"
    inside = [
        _INDENT * 2 + "  ".join(paint(style, text) for style, text in pieces)
        for pieces in inside_lines(change)
    ]
    return [line, *inside]


def _diff_line(line: str, paint: _Paint) -> str:
    if line.startswith(("---", "+++")):
        return paint("bold", line)
    if line.startswith("@@"):
        return paint("hunk", line)
    if line.startswith("+"):
        return paint("add", line)
    if line.startswith("-"):
        return paint("del", line)
    return line


class _Paint:
    """Wraps text in an ANSI style, or leaves it alone when colour is off."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, style: str, text: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.enabled else text
