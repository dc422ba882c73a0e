"""Policies over live tickets: which tickets each selects, and the desired tickets they make.

Pure: takes the resolved policies, the explicit ticket entries and the live tickets
read for the run, and returns desired tickets, so the diff treats a matched ticket
like a listed one. Explicit entries win over policies for the fields they set; two
policies that set one field of one ticket to different values are a
:class:`~reconcile.errors.ManifestError` naming both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconcile.errors import ManifestError, Problem
from reconcile.manifest import DesiredTicket, Location, Policy, PolicyRule
from reconcile.plan import FieldSource, Plan, PolicySummary, Selector
from reconcile.schema import Schema, TicketType
from reconcile.ticket import LiveTicket

_SHOWN_TICKETS = 5


@dataclass(frozen=True)
class Expansion:
    """The desired tickets of a run with policies applied, and what each policy matched."""

    desired: list[DesiredTicket]
    matched: dict[str, list[str]]
    """Policy name → display IDs of the live tickets it selects."""


def selector(policy: Policy, rule: PolicyRule) -> Selector:
    return Selector(
        policy=policy.name,
        type_id=rule.type.id,
        teams=policy.teams,
        where=tuple(sorted(rule.where.items())),
    )


def ticket_type_of(live: LiveTicket, schema: Schema) -> TicketType | None:
    """The live ticket's type: by its ``ticket_type_id``, else by its display ID's prefix."""
    if live.ticket_type_id is not None:
        return next((t for t in schema.types if t.id == live.ticket_type_id), None)
    return schema.type_for(live.object_id)


def expand(
    desired: Sequence[DesiredTicket],
    policies: Sequence[Policy],
    live: Iterable[LiveTicket],
    schema: Schema,
) -> Expansion:
    """Apply the policies to every live ticket they select, under the explicit entries.

    Tickets no policy selects keep their explicit entry as it is; a selected ticket
    without one gets a desired ticket of the policies' values alone.
    """
    explicit = {d.id: d for d in desired if d.id is not None}
    matched: dict[str, list[str]] = {p.name: [] for p in policies}
    merged: dict[str, DesiredTicket] = {}
    conflicts: dict[_Conflict, list[str]] = {}
    for ticket in live:
        ticket_type = ticket_type_of(ticket, schema)
        if ticket_type is None:
            continue
        hits: list[tuple[Policy, PolicyRule]] = []
        for policy in policies:
            rule = policy.rules.get(ticket_type.id)
            if rule is not None and selector(policy, rule).matches(ticket, ticket_type):
                hits.append((policy, rule))
                matched[policy.name].append(ticket.object_id)
        if hits:
            merged[ticket.object_id] = _merge(
                ticket, ticket_type, explicit.get(ticket.object_id), hits, conflicts
            )
    if conflicts:
        raise ManifestError(_conflict_problems(conflicts))
    result = [merged.pop(d.id, d) if d.id else d for d in desired] + list(merged.values())
    return Expansion(result, matched)


def _merge(
    live: LiveTicket,
    ticket_type: TicketType,
    entry: DesiredTicket | None,
    hits: list[tuple[Policy, PolicyRule]],
    conflicts: dict[_Conflict, list[str]],
) -> DesiredTicket:
    values: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    sources: dict[str, FieldSource] = {}
    sensitive: set[str] = set()
    protected: set[str] = set()
    set_by: dict[str, Policy] = {}
    explicit = entry.values if entry is not None else {}
    for policy, rule in hits:
        sensitive |= rule.sensitive
        protected |= rule.protected
        for field_id, value in rule.values.items():
            if field_id in explicit:
                continue  # the ticket entry wins
            earlier = set_by.get(field_id)
            if earlier is not None:
                known = ticket_type.fields_by_id[field_id]
                if not known.equal(values[field_id], value):
                    key = _Conflict(
                        earlier.name,
                        locations[field_id],
                        policy.name,
                        rule.locations[field_id],
                        known.name,
                    )
                    conflicts.setdefault(key, []).append(live.object_id)
                continue
            set_by[field_id] = policy
            values[field_id] = value
            locations[field_id] = rule.locations[field_id]
            sources[field_id] = FieldSource(str(rule.locations[field_id]), policy.name)
    selectors = tuple(selector(policy, rule) for policy, rule in hits)
    if entry is None:
        first = hits[0][0]
        return DesiredTicket(
            id=live.object_id,
            location=first.location,
            type=ticket_type,
            values=values,
            sensitive=frozenset(sensitive),
            protected=frozenset(protected),
            locations=locations,
            sources=sources,
            selectors=selectors,
        )
    return replace(
        entry,
        values={**values, **entry.values},
        sensitive=entry.sensitive | sensitive,
        protected=entry.protected | protected,
        locations={**locations, **entry.locations},
        sources=sources,
        selectors=selectors,
    )


@dataclass(frozen=True)
class _Conflict:
    """Two policies that set one field to different values (of the tickets listed with it)."""

    first: str
    first_at: Location
    second: str
    second_at: Location
    field: str


def _conflict_problems(conflicts: dict[_Conflict, list[str]]) -> list[Problem]:
    problems = []
    for conflict, tickets in conflicts.items():
        first = conflict.first_at
        shown = ", ".join(tickets[:_SHOWN_TICKETS])
        more = f" and {len(tickets) - _SHOWN_TICKETS} more" if len(tickets) > _SHOWN_TICKETS else ""
        problems.append(
            Problem(
                location=str(first),
                message=(
                    f"policy {conflict.first!r} and policy {conflict.second!r} (at "
                    f"{conflict.second_at}) set field {conflict.field!r} of {shown}{more} "
                    "to different values; make them agree or narrow a selection"
                ),
                path=first.path,
                line=first.line,
            )
        )
    return problems


def summarize(plan: Plan, policies: Sequence[Policy], matched: dict[str, list[str]]) -> Plan:
    """The plan with, per policy, how many tickets it matched and how many it changes."""
    changed: dict[str, set[str]] = {p.name: set() for p in policies}
    for change in plan.updates:
        for field_change in change.fields:
            source = field_change.source
            if source is not None and source.policy in changed:
                changed[source.policy].add(change.id)
    summaries = tuple(
        PolicySummary(p.name, str(p.location), len(matched[p.name]), len(changed[p.name]))
        for p in policies
    )
    return replace(plan, policies=summaries)
