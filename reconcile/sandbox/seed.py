"""``--seed FILE``: ticket types and tickets in the contract's shapes, from YAML or JSON.

```yaml
ticket_types:            # as GET /ticket-type answers (its "data" list)
  - {id: <uuid>, name: Service Request, prefix: REQ,
     fields: [{id, name, label, type, required, options}]}
tickets:                 # as GET /ticket/{objectId} answers
  - {object_id: REQ-0001, team: network, data: {<field-uuid>: value}}
```

In a ticket only ``data`` is needed: ``object_id`` defaults to the next number of the
first type, ``ticket_type_id`` follows the prefix, ``id`` and ``etag`` are derived from
the display ID, timestamps default to the load time. Values are checked like a PATCH
checks them; every problem is reported at once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from reconcile.sandbox.demo import demo_uuid
from reconcile.sandbox.fields import FIELD_TYPES, check_value
from reconcile.sandbox.options import SandboxError
from reconcile.sandbox.store import DISPLAY_ID, now

_PREFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_MAX_SHOWN = 10


def load_seed(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read and check a seed file; raise :class:`SandboxError` listing what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SandboxError(f"cannot read seed file {path}: {e.strerror or e}") from None
    try:
        document = _plain(yaml.safe_load(text))
    except yaml.YAMLError as e:
        raise SandboxError(f"seed file {path} is not YAML or JSON: {_first_line(e)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("ticket_types"), list):
        raise SandboxError(f"seed file {path}: expected a mapping with a 'ticket_types' list")
    problems: list[str] = []
    types = [_ticket_type(t, n, problems) for n, t in enumerate(document["ticket_types"], 1)]
    _unique("ticket types", [t and t["prefix"] for t in types], "the prefix", problems)
    _unique("ticket types", [t and t["id"] for t in types], "the id", problems)
    tickets_in = document.get("tickets") or []
    if not isinstance(tickets_in, list):
        problems.append("'tickets' is not a list")
        tickets_in = []
    tickets = _tickets(tickets_in, [t for t in types if t], problems)
    if problems:
        shown = "; ".join(problems[:_MAX_SHOWN])
        more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
        raise SandboxError(f"seed file {path}: {shown}{more}")
    return {"ticket_types": [t for t in types if t], "tickets": tickets}


def _unique(what: str, values: list[Any], key: str, problems: list[str]) -> None:
    """A problem for each value met again (None: an entry already refused)."""
    first: dict[Any, int] = {}
    for place, value in enumerate(values, 1):
        if value is None:
            continue
        if value in first:
            problems.append(f"{what} #{first[value]} and #{place} share {key} {value!r}")
        else:
            first[value] = place


def _plain(value: Any) -> Any:
    """YAML dates and times become the API's strings."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _ticket_type(item: Any, n: int, problems: list[str]) -> dict[str, Any] | None:
    where = f"ticket type #{n}"
    if not isinstance(item, dict):
        problems.append(f"{where} is not a mapping")
        return None
    prefix = item.get("prefix")
    if (
        not isinstance(prefix, str)
        or not prefix
        or not set(prefix) <= _PREFIX_CHARS
        or not prefix[0].isalpha()
    ):
        problems.append(f"{where}: 'prefix' must be upper-case letters and digits, like REQ")
        return None
    where = f"ticket type {prefix}"
    if not isinstance(item.get("id"), str):
        problems.append(f"{where}: no 'id'")
    fields = []
    for m, field in enumerate(item.get("fields") or [], 1):
        if not isinstance(field, dict) or not isinstance(field.get("id"), str):
            problems.append(f"{where}: field #{m} has no 'id'")
            continue
        if field.get("type") not in FIELD_TYPES:
            problems.append(f"{where}: field {field['id']} has type {field.get('type')!r}")
            continue
        wrong = [k for k in ("name", "label") if not isinstance(field.get(k, ""), str | None)]
        if not isinstance(field.get("required"), bool | None):
            wrong.append("required")
        if wrong:
            # Not made so by str() or bool(): YAML reads `no` as false, `required: "false"`
            # would be true.
            kinds = ", ".join(
                f"{k!r} ({'true or false' if k == 'required' else 'text'})" for k in wrong
            )
            problems.append(f"{where}: field {field['id']}: expected {kinds}")
            continue
        name = field.get("name") or field["id"]
        out = {
            "id": field["id"],
            "name": name,
            "label": field.get("label") or name,
            "type": field["type"],
            "required": field.get("required") or False,
        }
        if field["type"] in ("select", "multiselect"):
            options = field.get("options")
            if not isinstance(options, list) or not options:
                problems.append(f"{where}: field {name} ({field['type']}) needs 'options'")
                continue
            if not all(isinstance(o, str) for o in options):
                problems.append(
                    f"{where}: field {name}: 'options' must be strings (quote them in YAML)"
                )
                continue
            out["options"] = options
        fields.append(out)
    _unique(f"{where}: fields", [f["id"] for f in fields], "the id", problems)
    return {
        "id": item.get("id"),
        "name": str(item.get("name") or prefix),
        "prefix": prefix,
        "fields": fields,
    }


def _tickets(
    items: list[Any], types: list[dict[str, Any]], problems: list[str]
) -> list[dict[str, Any]]:
    by_prefix = {t["prefix"]: t for t in types}
    by_id = {t["id"]: t for t in types}
    numbers: dict[str, int] = {}
    for item in items:
        match = DISPLAY_ID.match(str(item.get("object_id", ""))) if isinstance(item, dict) else None
        if match:
            prefix, number = match.group(1), int(match.group(2))
            numbers[prefix] = max(numbers.get(prefix, 0), number)
    tickets, seen, stamp = [], set(), now()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(f"ticket #{n} is not a mapping")
            continue
        ticket_type = by_id.get(item.get("ticket_type_id"))  # type: ignore[arg-type]
        object_id = item.get("object_id")
        if object_id is None:
            ticket_type = ticket_type or (types[0] if types else None)
            if ticket_type is None:
                problems.append(f"ticket #{n}: no ticket type to number it by")
                continue
            number = numbers.get(ticket_type["prefix"], 0) + 1
            numbers[ticket_type["prefix"]] = number
            object_id = f"{ticket_type['prefix']}-{number:04d}"
        match = DISPLAY_ID.match(str(object_id))
        if not match:
            problems.append(f"ticket #{n}: object_id {object_id!r} is not like REQ-0001")
            continue
        where = f"ticket {object_id}"
        if object_id in seen:
            problems.append(f"{where} appears twice")
            continue
        seen.add(object_id)
        if ticket_type is None or ticket_type["prefix"] != match.group(1):
            ticket_type = by_prefix.get(match.group(1))
        if ticket_type is None:
            problems.append(f"{where}: no ticket type has the prefix {match.group(1)}")
            continue
        data = item.get("data") or {}
        team = item.get("team")
        if not isinstance(data, dict):
            problems.append(f"{where}: 'data' is not a mapping")
            continue
        if team is not None and not isinstance(team, str):
            problems.append(f"{where}: 'team' must be a string or null")
        fields = {f["id"]: f for f in ticket_type["fields"]}
        for key, value in data.items():
            reason = (
                "is not a field of its type"
                if key not in fields
                else check_value(fields[key], value)
            )
            if reason:
                problems.append(f"{where}: field {key} {reason}")
        tickets.append(
            {
                "id": str(item.get("id") or demo_uuid(f"seed:ticket:{object_id}")),
                "object_id": object_id,
                "ticket_type_id": ticket_type["id"],
                "team": team,
                "etag": str(item.get("etag") or demo_uuid(f"seed:etag:{object_id}")),
                "data": data,
                "createdAt": item.get("createdAt") or stamp,
                "lastUpdatedAt": item.get("lastUpdatedAt") or item.get("createdAt") or stamp,
                "lastUpdatedBy": item.get("lastUpdatedBy") or "seed",
            }
        )
    return tickets
