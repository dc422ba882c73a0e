"""The HTML report of a plan or a drift check (``--format html``): one self-contained page.

The page is rendered by Jinja2 with autoescaping on, from :func:`report_data`: the
documented JSON of the plan (:meth:`Plan.to_data`, sensitive values masked) plus the
target, the time it was made and the unchanged ticket IDs. Values are shown by the
same rules as the text and Markdown plans (``render/_values.py``): one-line JSON, long
text as a unified diff, what changed inside a list or nested value below it (``inside``,
from the plan itself: the JSON plan does not hold field types), ``(sensitive)`` for
sensitive fields.

Its CSS and JavaScript are package files inlined into the page, allowed by the hashes
in a Content-Security-Policy that otherwise forbids everything (``default-src 'none'``):
the page fetches nothing, submits nothing, and works from a ``file://`` URL. Rows are
kept light for large plans: a ticket's fields sit in a ``<template>`` that the script
puts into the page only when the row is opened (or printed).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from datetime import datetime, timezone
from importlib import resources
from typing import Any, TextIO
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from reconcile import __version__
from reconcile.plan import Action, FieldChange, FieldSource, Plan, RequestBudget, ticket_sort_key
from reconcile.render._values import (
    NO_HISTORY_NOTE,
    Piece,
    drift_counts,
    found_by_key_note,
    inside_lines,
    is_long,
    last_editor,
    plan_counts,
    shown_pair,
    unified_diff,
)

CHUNK_ROWS = 250
"""Rows per chunk of the list: the unit the browser lays out, paints or skips."""
UNCHANGED = "unchanged"
CREATE = "create"

_STATUS_LABELS = {
    "plan": {
        CREATE: "to create",
        Action.UPDATE: "to update",
        UNCHANGED: "unchanged",
        Action.ERROR: "error",
    },
    "drift": {Action.UPDATE: "drifted", UNCHANGED: "in sync", Action.ERROR: "error"},
}
"""What each row status (a plan action, or unchanged) is called in a plan and in drift."""

_FILTERS = {
    "plan": (
        ("all", "All", ()),
        ("changes", "Changes", (CREATE, Action.UPDATE)),
        ("errors", "Errors", (Action.ERROR,)),
    ),
    "drift": (
        ("all", "All", ()),
        ("drifted", "Drifted", (Action.UPDATE,)),
        ("errors", "Errors", (Action.ERROR,)),
    ),
}
"""The filter buttons: value, label and the statuses they show (all statuses when empty)."""

_NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0010fffe\U0010ffff]"
)
"""Characters an HTML document may not hold as text (control characters, surrogates,
noncharacters): shown as ``\\uXXXX`` so a server's odd string stays visible and valid."""


def report_data(
    plan: Plan, *, drift: bool = False, created_at: datetime | None = None
) -> dict[str, Any]:
    """The data the page shows: :meth:`Plan.to_data` and where, when and what else.

    Adds ``kind`` (``plan`` or ``drift``), ``created_at`` (UTC, ISO 8601), ``target``
    (the base URL's host and port only, never its path or credentials; tenant; realm;
    or None), ``unchanged`` (the IDs of tickets that match) and ``plan_checksum`` (the
    checksum of ``--format json``, so the page can be matched to the JSON plan).
    """
    data = plan.to_data()
    made = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    data["kind"] = "drift" if drift else "plan"
    data["created_at"] = made.isoformat(timespec="seconds").replace("+00:00", "Z")
    data["target"] = None
    if plan.target is not None:
        data["target"] = {
            "host": _host(plan.target.base_url),
            "tenant_id": plan.target.tenant_id,
            "realm": plan.target.realm,
        }
    data["unchanged"] = list(plan.unchanged)
    data["plan_checksum"] = plan.checksum
    data["inside"] = _inside(plan)
    return data


def _inside(plan: Plan) -> dict[str, dict[str, list[list[Piece]]]]:
    """What changed inside list and nested values: ticket ID → field ID → lines of pieces
    (:func:`~reconcile.render._values.inside_lines`); only fields that have some."""
    inside: dict[str, dict[str, list[list[Piece]]]] = {}
    for change in plan.changes:
        for f in change.fields:
            lines = inside_lines(f)
            if lines:
                inside.setdefault(change.id, {})[f.field_id] = lines
    return inside


def render_html(
    plan: Plan,
    out: TextIO,
    *,
    drift: bool = False,
    created_at: datetime | None = None,
    budget: RequestBudget | None = None,
) -> None:
    """Write ``plan`` (or, with ``drift=True``, the drift report) as one HTML5 document.

    ``created_at`` is when the plan was made (default: now). ``budget`` is shown like
    in the text plan. This is the function ``reconcile watch`` serves its report with.
    """
    out.write(render_report(report_data(plan, drift=drift, created_at=created_at), budget))


def render_report(data: dict[str, Any], budget: RequestBudget | None = None) -> str:
    """The page for :func:`report_data`'s ``data``."""
    kind = data["kind"]
    drift = kind == "drift"
    summary = data["summary"]
    inside = data.get("inside", {})
    rows = [_change_row(change, drift, inside) for change in data["changes"]]
    rows += [_unchanged_row(ticket_id) for ticket_id in data["unchanged"]]
    rows.sort(key=lambda row: ticket_sort_key(row["id"]))
    labels = _STATUS_LABELS[kind]
    counts = [
        {"status": status, "label": labels[status], "count": summary.get(status, 0)}
        for status in labels
        if status != CREATE or summary.get(CREATE)
    ]
    filters = [
        {
            "value": value,
            "label": label,
            "statuses": " ".join(statuses),
            "count": sum(1 for r in rows if not statuses or r["status"] in statuses),
        }
        for value, label, statuses in _FILTERS[kind]
    ]
    if drift:
        headline = f"Drift: {drift_counts(summary)}."
    elif data["changes"]:
        headline = f"Plan: {plan_counts(summary)}."
    else:
        headline = "No changes. Live tickets match the manifests."
    assets = _assets()
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            kind=kind,
            drift=drift,
            headline=headline,
            target=data["target"],
            created_at=data["created_at"],
            version=__version__,
            counts=counts,
            filters=filters,
            rows=rows,
            chunk_size=CHUNK_ROWS,
            labels=labels,
            schema_drift=data.get("schema_drift", []),
            notes=[found_by_key_note(f["key"], f["id"]) for f in data.get("found_by_key", [])],
            budget=budget.describe() if budget is not None else None,
            checksum=data["plan_checksum"],
            history_note=NO_HISTORY_NOTE if drift and summary.get(Action.UPDATE) else None,
            style=assets.style,
            script=assets.script,
            csp=assets.csp,
        )
    )


def _change_row(
    change: dict[str, Any], drift: bool, inside: dict[str, dict[str, list[list[Piece]]]]
) -> dict[str, Any]:
    ticket_id = change.get("id") or f"{change.get('type')} {change.get('key')}"  # a create
    within = inside.get(change.get("id") or "", {})
    fields = [_field(item, drift, within) for item in change.get("fields") or ()]
    editor = None
    if drift:
        editor = last_editor(change.get("last_updated_by"), change.get("last_updated_at"))
    return {
        "id": ticket_id,
        "status": change["action"],
        "fields": fields,
        "error": change.get("error"),
        "editor": editor,
        "search": " ".join([ticket_id, *(f["name"] for f in fields)]).lower(),
    }


def _unchanged_row(ticket_id: str) -> dict[str, Any]:
    return {"id": ticket_id, "status": UNCHANGED, "search": ticket_id.lower()}


def _field(
    item: dict[str, Any], drift: bool, inside: dict[str, list[list[Piece]]]
) -> dict[str, Any]:
    """One field change as the page shows it, by the other formats' rules."""
    change = FieldChange(
        field_id=item["field_id"],
        name=item["name"],
        before=item.get("before"),
        after=item.get("after"),
        sensitive=bool(item.get("sensitive")),
        protected=bool(item.get("protected")),
    )
    labels = ("live", "declared") if drift else ("before", "after")
    diff = unified_diff(change.before, change.after, labels) if is_long(change) else []
    before, after = shown_pair(change)
    return {
        "name": change.name,
        "sensitive": change.sensitive,
        "protected": change.protected and not drift,
        "before": before if "before" in item else None,
        "after": after,
        "diff": [(_diff_class(line), line) for line in diff],
        "inside": [] if change.sensitive else inside.get(change.field_id, []),
        "source": _source(item.get("source")),
    }


def _diff_class(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


def _source(source: Any) -> str | None:
    """The policy a value comes from, worded as the text plan words it; None for a value
    from the ticket entry itself (the row already is that ticket)."""
    parsed = FieldSource.from_data(source)
    if parsed is None or parsed.policy is None:
        return None
    return parsed.describe()


def _host(base_url: str) -> str:
    """The host (and port) of a base URL: never its credentials, path or query."""
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or base_url
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _visible(value: Any) -> Any:
    """Jinja's ``finalize``: text the HTML parser takes as written, whatever a server sent."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _NOT_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reconcile.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_visible,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _Assets:
    """The page's inline CSS and JavaScript and the policy that allows exactly them."""

    def __init__(self, style: str, script: str):
        self.style = Markup(style)
        self.script = Markup(script)
        self.csp = (
            "default-src 'none'; "
            f"style-src {_hash(style)}; script-src {_hash(script)}; "
            "base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'"
        )


@functools.cache
def _assets() -> _Assets:
    folder = resources.files("reconcile.render") / "templates"
    style = (folder / "report.css").read_text(encoding="utf-8") + _filter_rules()
    script = (folder / "report.js").read_text(encoding="utf-8")
    return _Assets(style, script)


def _filter_rules() -> str:
    """The CSS that hides, under each filter (the list's ``data-filter``), the other rows.

    One attribute on the list switches the filter: far cheaper for the browser on a
    large plan than hiding thousands of rows one by one.
    """
    hidden = {
        value: ", ".join(f'[data-status="{status}"]' for status in statuses)
        for filters in _FILTERS.values()
        for value, _, statuses in filters
        if statuses
    }
    selectors = [f'.tickets[data-filter="{v}"] li:not({shown})' for v, shown in hidden.items()]
    return ",\n".join(selectors) + " { display: none; }\n"


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
