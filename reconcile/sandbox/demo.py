"""The demo tenant: three ticket types, a few dozen tickets, three clients; and load data.

Everything here is deterministic: UUIDs and etags are derived from names, values come
from a ``random.Random`` with a fixed seed, timestamps are fixed. Tests may rely on it.

- ``REQ`` Service Request: 28 fields, every field type of the contract. ``REQ-0509``
  is the vendor doc's example (team ``network``; its description field has the doc's
  UUID ``459cf0c6-ae1c-4ba2-8116-3b8b38207528``).
- ``CTC`` Change: 16 fields. ``PMT`` Payment: 14 fields.
- Every type has a text field ``external_ref`` ("External reference"), the demo's
  ``key_field``; no seeded ticket sets it.
- Teams: network, service-desk, finance, infrastructure, security, and null.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from reconcile.sandbox.options import Client

DEMO_WRITER = Client(
    client_id="reconcile-writer",
    secret="writer-secret",
    roles=("ticket_writer",),
    teams=("network", "service-desk"),
)
"""May update tickets of team network or service-desk, or of no team."""
DEMO_ADMIN = Client(
    client_id="reconcile-admin",
    secret="admin-secret",
    roles=("ticket_admin",),
)
"""May update any ticket."""
DEMO_READER = Client(
    client_id="reconcile-reader",
    secret="reader-secret",
    scope="openid tickets:read",
)
"""May read only (scope ``tickets:read``, no realm role)."""
DEMO_CLIENTS = (DEMO_WRITER, DEMO_ADMIN, DEMO_READER)

DESCRIPTION_FIELD_ID = "459cf0c6-ae1c-4ba2-8116-3b8b38207528"
"""The vendor doc's example field: the description of REQ tickets."""
DUE_DATE_FIELD_ID = "8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10"
"""The manifest format's example field: the due date of REQ tickets."""
KEY_FIELD = "external_ref"
"""The text field of every demo type that holds a declared ticket's key (``key_field``)."""

TEAMS = ("network", "service-desk", "finance", "infrastructure", "security", None)
PEOPLE = (
    "jdoe",
    "a.mueller",
    "kim.nguyen",
    "s.okafor",
    "l.rossi",
    "m.garcia",
    "p.novak",
    "y.tanaka",
    "r.haddad",
    "e.lindqvist",
    "sa-tenant-3f2c9b",
    "c.dubois",
)


def demo_uuid(name: str) -> str:
    """A UUID (version 4 layout) derived from ``name``: stable across runs."""
    digest = hashlib.sha256(f"reconcile-sandbox:{name}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def person_id(login: str) -> str:
    """The UUID that ``reference`` fields use for a person."""
    return demo_uuid(f"person:{login}")


def _field(prefix: str, name: str, label: str, type_: str, **extra: Any) -> dict[str, Any]:
    field_id = extra.pop("id", None) or demo_uuid(f"field:{prefix}:{name}")
    field = {"id": field_id, "name": name, "label": label, "type": type_}
    if "options" in extra:
        field["options"] = list(extra.pop("options"))
    field["required"] = bool(extra.pop("required", False))
    return field


PRIORITIES = ("Low", "Medium", "High", "Critical")
COST_CENTERS = ("CC-1000 IT", "CC-2100 Finance", "CC-3300 Operations", "CC-4200 Sales")


def _req_fields() -> list[dict[str, Any]]:
    f = lambda *a, **k: _field("REQ", *a, **k)  # noqa: E731
    return [
        f("summary", "Summary", "text", required=True),
        f("description", "Description", "richtext", id=DESCRIPTION_FIELD_ID),
        f("priority", "Priority", "select", options=PRIORITIES, required=True),
        f(
            "status",
            "Status",
            "select",
            required=True,
            options=("New", "In Progress", "Waiting for Customer", "Resolved", "Closed"),
        ),
        f(
            "category",
            "Category",
            "select",
            options=("Hardware", "Software", "Access", "Network", "Facilities"),
        ),
        f(
            "tags",
            "Tags",
            "multiselect",
            options=("freeze", "q4", "vip", "security", "onboarding", "offboarding", "audit"),
        ),
        f("due_date", "Due Date", "date", id=DUE_DATE_FIELD_ID),
        f("requested_at", "Requested At", "datetime"),
        f("estimated_hours", "Estimated Hours", "number"),
        f("approved", "Approved", "boolean"),
        f("requester", "Requester", "reference", required=True),
        f("assignee", "Assignee", "reference"),
        f("watchers", "Watchers", "array"),
        f("location", "Location", "text"),
        f("cost_center", "Cost Center", "select", options=COST_CENTERS),
        f("impact", "Impact", "select", options=("Low", "Medium", "High")),
        f("urgency", "Urgency", "select", options=("Low", "Medium", "High")),
        f("resolution_notes", "Resolution Notes", "richtext"),
        f("sla_breached", "SLA Breached", "boolean"),
        f("customer_visible", "Customer Visible", "boolean"),
        f("related_change", "Related Change", "reference"),
        f("attachment_count", "Attachments", "number"),
        f("environment", "Environment", "select", options=("Production", "Staging", "Development")),
        f("checklist", "Checklist", "array"),
        f("first_response_at", "First Response At", "datetime"),
        f("quantity", "Quantity", "number"),
        f(
            "affected_services",
            "Affected Services",
            "multiselect",
            options=("Email", "VPN", "Wi-Fi", "ERP", "CRM", "Printing", "Telephony"),
        ),
        f(KEY_FIELD, "External reference", "text"),
    ]


def _ctc_fields() -> list[dict[str, Any]]:
    f = lambda *a, **k: _field("CTC", *a, **k)  # noqa: E731
    return [
        f("title", "Title", "text", required=True),
        f("description", "Description", "richtext"),
        f("risk", "Risk", "select", options=("Low", "Medium", "High"), required=True),
        f("change_type", "Change Type", "select", options=("Standard", "Normal", "Emergency")),
        f(
            "status",
            "Status",
            "select",
            options=("Draft", "Assessment", "Approved", "Scheduled", "Implemented", "Closed"),
        ),
        f("window_start", "Window Start", "datetime"),
        f("window_end", "Window End", "datetime"),
        f("planned_date", "Planned Date", "date"),
        f("cab_approved", "CAB Approved", "boolean"),
        f("approver", "Approver", "reference"),
        f("affected_cis", "Affected CIs", "array"),
        f(
            "services",
            "Services",
            "multiselect",
            options=("Email", "VPN", "Wi-Fi", "ERP", "CRM", "DNS", "Backup"),
        ),
        f("rollback_plan", "Rollback Plan", "richtext"),
        f("downtime_minutes", "Downtime (minutes)", "number"),
        f("tags", "Tags", "multiselect", options=("freeze", "q4", "maintenance", "security")),
        f(KEY_FIELD, "External reference", "text"),
    ]


def _pmt_fields() -> list[dict[str, Any]]:
    f = lambda *a, **k: _field("PMT", *a, **k)  # noqa: E731
    return [
        f("payee", "Payee", "text", required=True),
        f("amount", "Amount", "number", required=True),
        f("currency", "Currency", "select", options=("EUR", "USD", "GBP", "CHF"), required=True),
        f("due_date", "Due Date", "date"),
        f("paid", "Paid", "boolean"),
        f("paid_at", "Paid At", "datetime"),
        f("invoice_number", "Invoice Number", "text"),
        f("approver", "Approver", "reference"),
        f("cost_center", "Cost Center", "select", options=COST_CENTERS),
        f("line_items", "Line Items", "array"),
        f("notes", "Notes", "richtext"),
        f("flags", "Flags", "multiselect", options=("recurring", "urgent", "disputed", "foreign")),
        f("description", "Description", "richtext"),
        f(KEY_FIELD, "External reference", "text"),
    ]


def demo_ticket_types() -> list[dict[str, Any]]:
    """The three demo ticket types, in the GET ticket-type shape."""
    return [
        {
            "id": demo_uuid("type:REQ"),
            "name": "Service Request",
            "prefix": "REQ",
            "fields": _req_fields(),
        },
        {"id": demo_uuid("type:CTC"), "name": "Change", "prefix": "CTC", "fields": _ctc_fields()},
        {"id": demo_uuid("type:PMT"), "name": "Payment", "prefix": "PMT", "fields": _pmt_fields()},
    ]


# ---------------------------------------------------------------------------- values

_TEXT = {
    "summary": (
        "Laptop won't boot after BIOS update",
        "VPN drops every 10 minutes",
        "New starter: accounts and hardware",
        "Access to the finance share",
        "Printer on 3rd floor jams",
        "Wi-Fi dead zone in meeting room Ørsted",
        "Mailbox quota exceeded",
        "Replace broken monitor",
        "Reset MFA device",
        "Request a second screen",
        "Install Visio for the design team",
        "Badge does not open the garage door",
        "CRM is slow in the mornings",
        "Leaver: revoke all access for m.weiß",
        "Move desk phone to new office",
        "Shared calendar not syncing on iOS",
    ),
    "title": (
        "Upgrade core switch firmware",
        "Rotate TLS certificates on the edge proxies",
        "Migrate DNS to the new resolvers",
        "Patch ERP database (CVE-2026-1234)",
        "Decommission the old backup array",
        "Enable MFA for all VPN users",
        "Increase ERP app-server memory",
        "Re-IP the Wi-Fi controller",
    ),
    "payee": (
        "Acme Office Supplies GmbH",
        "Nordlicht Cleaning AB",
        "Café Müller & Söhne",
        "Globex Cloud Services Ltd",
        "Initech Consulting",
        "Société Générale de Café",
        "Umbrella Facility Management",
        "Tōkyō Translation K.K.",
    ),
    "location": ("HQ, 3rd floor", "Berlin office", "Remote", "Data centre FRA-2", "Lyon, bât. B"),
    "invoice_number": tuple(f"INV-2026-{n:05d}" for n in (113, 871, 1204, 2290, 3312, 4409)),
}
_ARRAYS = {
    "watchers": (
        "jdoe@example.com",
        "kim.nguyen@example.com",
        "it-ops@example.com",
        "a.mueller@example.com",
        "servicedesk@example.com",
    ),
    "checklist": (
        "Confirm with requester",
        "Order hardware",
        "Image the device",
        "Hand over",
        "Close the loop with the manager",
    ),
    "affected_cis": (
        "sw-core-01",
        "sw-core-02",
        "edge-proxy-a",
        "edge-proxy-b",
        "erp-db-01",
        "dns-res-1",
        "wlc-01",
    ),
    "line_items": (
        "Consulting, 2 days",
        "Licence renewal",
        "Travel expenses",
        "Hardware: 3× docking station",
        "Support contract Q4",
    ),
}
_PARAGRAPHS = (
    "The user reports that the problem started after Monday's update.",
    'Error shown: "Connection reset by peer" — happens on both Wi-Fi and cable.',
    "Steps tried:\n1. Rebooted\n2. Cleared the cache\n3. Re-installed the client",
    "Please coordinate with the network team before changing anything.",
    "Café Zürich's card terminal is affected too (naïve retry didn't help).",
    "Customer says: 'it worked fine last week'.",
    "Approved by the cost-centre owner; budget line 4711.",
    "Tracking in the vendor portal under case #88213 ✓",
)


class ValueMaker:
    """Realistic values for each field type, from a seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def value(self, field: dict[str, Any]) -> Any:
        rng, name, kind = self.rng, field["name"], field["type"]
        if kind == "text":
            return rng.choice(_TEXT.get(name) or _TEXT["summary"])
        if kind == "richtext":
            count = rng.randint(1, 3)
            return "\n".join(f"<p>{p}</p>" for p in rng.sample(_PARAGRAPHS, count))
        if kind == "number":
            if name == "amount":
                return round(rng.uniform(20, 25000), 2)
            if name == "estimated_hours":
                return rng.randint(1, 80) / 2
            return rng.randint(0, 240)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "date":
            return (datetime(2026, 11, 1) + timedelta(days=rng.randint(0, 120))).strftime(
                "%Y-%m-%d"
            )
        if kind == "datetime":
            moment = datetime(2026, 10, 1, tzinfo=timezone.utc) + timedelta(
                minutes=15 * rng.randint(0, 8000)
            )
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if kind == "select":
            return rng.choice(field["options"])
        if kind == "multiselect":
            return rng.sample(field["options"], rng.randint(1, min(3, len(field["options"]))))
        if kind == "reference":
            return person_id(rng.choice(PEOPLE))
        if kind == "array":
            pool = _ARRAYS.get(name) or _ARRAYS["checklist"]
            return rng.sample(pool, rng.randint(1, min(3, len(pool))))
        return None

    def data(self, ticket_type: dict[str, Any], count: int) -> dict[str, Any]:
        """Values for the required fields and up to ``count`` fields in all."""
        # No seeded ticket was created from git, so none holds a key.
        fields = [f for f in ticket_type["fields"] if f["name"] != KEY_FIELD]
        required = [f for f in fields if f.get("required")]
        optional = [f for f in fields if not f.get("required")]
        extra = max(0, min(len(optional), count - len(required)))
        chosen = {f["id"] for f in required + self.rng.sample(optional, extra)}
        return {f["id"]: self.value(f) for f in fields if f["id"] in chosen}


def _ticket(
    ticket_type: dict[str, Any],
    number: int,
    team: str | None,
    data: dict[str, Any],
    created: datetime,
    updated: datetime,
    by: str,
    etag: str | None = None,
    ticket_id: str | None = None,
) -> dict[str, Any]:
    object_id = f"{ticket_type['prefix']}-{number:04d}"
    return {
        "id": ticket_id or demo_uuid(f"ticket:{object_id}"),
        "object_id": object_id,
        "ticket_type_id": ticket_type["id"],
        "team": team,
        "etag": etag or demo_uuid(f"etag:{object_id}"),
        "data": data,
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastUpdatedAt": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastUpdatedBy": by,
    }


_DEMO_RANGES = {"REQ": range(501, 517), "CTC": range(50, 60), "PMT": range(40, 50)}
_REQ_0509_DESCRIPTION = (
    "<p>Core switch <b>sw-core-01</b> drops packets during backups.</p>\n"
    '<p>Observed: "RX CRC errors" on Te1/0/48 — started after the 4.2 upgrade.</p>\n'
    "<p>Contact: Zoë Ångström (network on-call) ☎ +49 30 1234567</p>"
)


def demo_tickets(ticket_types: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo tickets: REQ-0501..0516, CTC-0050..0059, PMT-0040..0049."""
    rng = random.Random(509)
    maker = ValueMaker(rng)
    start = datetime(2026, 10, 5, 8, 30, tzinfo=timezone.utc)
    tickets = []
    for index, ticket_type in enumerate(ticket_types):
        prefix = ticket_type["prefix"]
        for position, number in enumerate(_DEMO_RANGES.get(prefix, ())):
            team = TEAMS[(position + index) % len(TEAMS)]
            if prefix == "PMT" and position % 3 != 2:
                team = "finance"
            data = maker.data(ticket_type, rng.randint(6, 14))
            created = start + timedelta(hours=7 * position + 31 * index, minutes=rng.randint(0, 59))
            updated = created + timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
            tickets.append(
                _ticket(ticket_type, number, team, data, created, updated, rng.choice(PEOPLE))
            )
    by_id = {t["object_id"]: t for t in tickets}
    if "REQ-0509" in by_id:
        by_id["REQ-0509"]["team"] = "network"
        by_id["REQ-0509"]["data"][DESCRIPTION_FIELD_ID] = _REQ_0509_DESCRIPTION
    return tickets


def generate_tickets(
    ticket_types: list[dict[str, Any]], count: int, next_numbers: dict[str, int], seed: int = 0
) -> Iterator[dict[str, Any]]:
    """``count`` more tickets for load work, spread over the types, about 20 fields each.

    ``next_numbers`` maps each prefix to its next display number and is advanced.
    """
    if not ticket_types:
        return
    rng = random.Random(seed)
    maker = ValueMaker(rng)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for n in range(count):
        ticket_type = ticket_types[n % len(ticket_types)]
        prefix = ticket_type["prefix"]
        number = next_numbers.get(prefix, 1)
        next_numbers[prefix] = number + 1
        moment = start + timedelta(seconds=37 * n)
        yield _ticket(
            ticket_type,
            number,
            TEAMS[rng.randrange(len(TEAMS))],
            maker.data(ticket_type, 20),
            moment,
            moment,
            "sa-tenant-loadgen",
            etag=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            ticket_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
