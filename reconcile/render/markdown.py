"""The plan (or drift report) as GitHub-flavoured Markdown, for pull requests and job summaries.

A summary line, then per ticket a table of short values (with a ``changed inside``
column when a list or nested value changed: ``+ "q4"`` ``- "q3"``) and a collapsible
``<details>`` diff per long value. GitHub refuses comments over 65,536 characters,
so a long document is cut at a ticket boundary with a note that says how many
tickets are left out and gives the checksum of the full plan JSON.
"""

from __future__ import annotations

import html
import re
from typing import TextIO

from reconcile.plan import (
    SENSITIVE,
    Action,
    FieldChange,
    Plan,
    RequestBudget,
    TicketChange,
    TicketCreate,
)
from reconcile.render._values import (
    NO_HISTORY_NOTE,
    drift_counts,
    found_by_key_note,
    inside_lines,
    is_long,
    plan_counts,
    show,
    shown_pair,
    unified_diff,
)

GITHUB_COMMENT_LIMIT = 65536


def render_markdown(
    plan: Plan,
    out: TextIO,
    *,
    drift: bool = False,
    limit: int = GITHUB_COMMENT_LIMIT,
    budget: RequestBudget | None = None,
) -> None:
    """Write ``plan`` as Markdown of at most ``limit`` characters."""
    head = _head(plan, drift, budget)
    blocks = [_create(create, drift) for create in plan.creates]
    blocks += [_ticket(change, drift) for change in plan.changes]
    tail = f"_{NO_HISTORY_NOTE}_\n" if drift and plan.has_changes else ""
    out.write(_fit(head, blocks, tail, plan, limit))


def _head(plan: Plan, drift: bool, budget: RequestBudget | None) -> str:
    summary = plan.summary
    if drift:
        lines = [f"**Drift:** {drift_counts(summary)}."]
    elif plan.changes or plan.creates:
        lines = [f"**Plan:** {plan_counts(summary)}."]
    else:
        lines = ["**No changes.** Live tickets match the manifests."]
    if plan.policies:
        lines.append("")
        lines += [f"- {_escape_text(policy.describe())}" for policy in plan.policies]
    if budget is not None:
        lines.append("")
        lines.append(_escape_text(budget.describe()))
    if plan.schema_drift:
        lines += ["", "**Schema drift**", ""]
        lines += [f"- {_escape_text(message)}" for message in plan.schema_drift]
    if plan.found_by_key:
        lines.append("")
        lines += [f"- {_escape_text(found_by_key_note(k, i))}" for k, i in plan.found_by_key]
    return "\n".join(lines) + "\n\n"


def _fit(head: str, blocks: list[str], tail: str, plan: Plan, limit: int) -> str:
    """The document, or as many whole ticket blocks as fit with a truncation note."""
    document = head + "".join(blocks) + tail
    if len(document) <= limit:
        return document
    checksum = plan.checksum
    total = len(blocks)

    def note(left_out: int) -> str:
        return (
            f"> **Truncated:** {left_out} of {total} tickets are not shown, to stay under "
            f"{limit} characters. The full plan JSON has checksum `{checksum}` (`sha256sum` "
            f"of `reconcile plan --format json`; the saved plan's `plan_checksum`).\n\n"
        )

    size = len(head) + len(tail)
    kept = 0
    for block in blocks:
        if size + len(block) + len(note(total - kept - 1)) > limit:
            break
        size += len(block)
        kept += 1
    document = head + "".join(blocks[:kept]) + note(total - kept) + tail
    return document[:limit]


def _ticket(change: TicketChange, drift: bool) -> str:
    if change.action != Action.UPDATE:
        message = (change.error or "").replace("\n", " ")
        return f"#### ! `{change.id}`\n\n**Error:** {_code(message)}\n\n"
    lines = [f"#### ~ `{change.id}`", ""]
    if drift:
        by, at = change.last_updated_by, change.last_updated_at
        if by or at:
            editor = f"Last updated by {_code(by) if by else 'someone'}"
            lines += [editor + (f" at {_code(at)}." if at else "."), ""]
    short = [f for f in change.fields if not _shows_as_diff(f)]
    if short:
        sourced = any(f.source is not None for f in short)
        inside = {id(f): _inside(f) for f in short}
        detailed = any(inside.values())
        head = "| field | declared | live |" if drift else "| field | before | after |"
        lines.append(
            head + (" changed inside |" if detailed else "") + (" from |" if sourced else "")
        )
        lines.append("|---|---|---|" + ("---|" if detailed else "") + ("---|" if sourced else ""))
        for f in short:
            before, after = _cell_values(f)
            first, second = (after, before) if drift else (before, after)
            row = f"| {_field_name(f, drift)} | {first} | {second} |"
            row += f" {inside[id(f)]} |" if detailed else ""
            lines.append(row + (f" {_source(f)} |" if sourced else ""))
        lines.append("")
    for f in change.fields:
        if _shows_as_diff(f):
            lines += _details(f, drift)
    return "\n".join(lines) + "\n"


def _create(create: TicketCreate, drift: bool) -> str:
    what = "declared, does not exist" if drift else "create"
    lines = [f"#### + {_escape_text(create.type_prefix)} {_code(create.key)} ({what})", ""]
    if create.team is not None:
        lines += [f"Team: {_code(create.team)}.", ""]
    lines += ["| field | value |", "|---|---|"]
    for f in create.fields:
        value = SENSITIVE if f.sensitive else _cell(_code(show(f.after)))
        lines.append(f"| {_cell(_escape_text(f.name))} | {value} |")
    return "\n".join(lines) + "\n\n"


def _shows_as_diff(change: FieldChange) -> bool:
    return is_long(change) and bool(unified_diff(change.before, change.after, ("", "")))


def _cell_values(change: FieldChange) -> tuple[str, str]:
    if change.sensitive:
        return SENSITIVE, SENSITIVE
    before, after = shown_pair(change)
    return _cell(_code(before)), _cell(_code(after))


def _inside(change: FieldChange) -> str:
    """What changed inside a list or nested value, one code span per change."""
    return "<br>".join(
        " ".join(_cell(_code(text)) for _, text in pieces) for pieces in inside_lines(change)
    )


def _field_name(change: FieldChange, drift: bool) -> str:
    name = _cell(_escape_text(change.name))
    return f"{name} (protected)" if change.protected and not drift else name


def _source(change: FieldChange) -> str:
    """Where the declared value comes from: the ticket entry's or the policy's file:line."""
    return _cell(_escape_text(change.source.describe())) if change.source else ""


def _details(change: FieldChange, drift: bool) -> list[str]:
    labels = ("live", "declared") if drift else ("before", "after")
    diff = "\n".join(unified_diff(change.before, change.after, labels))
    fence = "`" * max(3, _longest_run(diff, "`") + 1)
    protected = " (protected)" if change.protected and not drift else ""
    origin = f" (from {html.escape(change.source.describe())})" if change.source else ""
    summary = (
        f"<code>{html.escape(change.name)}</code>{protected}{origin}: long value, shown as a diff"
    )
    return [
        f"<details><summary>{summary}</summary>",
        "",
        f"{fence}diff",
        diff,
        fence,
        "",
        "</details>",
        "",
    ]


def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    """Make text safe inside a table cell: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+\-!~])")


def _escape_text(text: str) -> str:
    """Plain text that Markdown shows as written (no emphasis, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)
