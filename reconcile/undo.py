"""Undo an apply from its journal: put back the values it overwrote, where they still hold.

``apply --journal FILE`` writes an intent before every write and its outcome after
(:mod:`reconcile.journal`). Undo considers every write that landed or may have landed
(an ``unknown`` outcome, or an intent the run was killed before answering); writes that
provably did not land (``etag_mismatch``, ``failed``) are ignored.

Per field, the writes that may have landed are followed back from the last one while
each one's ``before`` is the previous one's ``after``: a chain of the apply's own writes.
The value to restore is the ``before`` of the chain's first write, i.e. the value that
chain overwrote; where a foreign write came in between (the next ``before`` is not the
previous ``after``), the chain starts after it, so the foreign value is what is
restored, never the ``before`` of an earlier write it replaced. A write that may have
landed and that the chain does not follow is skipped: it did not land, or its value
was overwritten by someone else already.

A field is restored only when it holds a value the chain may have left (the last
write's ``after``, or an earlier one's when the later writes may not have landed); a
ticket where another writer changed such a field since is reported, not written. The
restoring changes form an ordinary :class:`~reconcile.plan.Plan` whose ``before`` values
are the live ones, applied in saved-plan mode: each PATCH is guarded by the etag read
here, and after a lost race it is re-sent only while the fields still hold those
values. Sensitive values are journaled as digests, so those fields are reported, never
restored; created tickets cannot be deleted through the API, so they are reported too.

A journal is bound to the target (base URL, tenant, realm) its runs wrote to: undo
refuses one made against another target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconcile.errors import ApiError, StalePlan
from reconcile.journal import Action as WriteAction
from reconcile.journal import FieldWrite, JournalFile, WriteRecord, target_of
from reconcile.manager import Manager
from reconcile.plan import Action, FieldChange, Plan, Target, TicketChange, ticket_sort_key
from reconcile.schema import Field, Schema
from reconcile.ticket import LiveTicket


@dataclass(frozen=True)
class UndoPlan:
    """The restoring changes, and one message per ticket or field that will not be restored."""

    plan: Plan
    refused: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """Writes whose outcome the journal does not know and that provably did not land."""


def check_target(journal: JournalFile, target: Target) -> None:
    """Refuse (:class:`StalePlan`) a journal one of whose runs wrote to another target."""
    for run in journal.foreign_runs(target):
        made = run.target
        raise StalePlan(
            f"{journal.path} was made for {made.base_url} (tenant {made.tenant_id}, realm"
            f" {made.realm}); refusing to undo it on {target.base_url} (tenant"
            f" {target.tenant_id}, realm {target.realm})"
        )


def plan_undo(manager: Manager, journal: JournalFile) -> UndoPlan:
    """Check the journal's target, read its tickets live (through ``manager``), and make
    the undo plan."""
    settings = manager.client.settings
    check_target(journal, target_of(settings.base_url, settings.tenant_id, settings.realm))
    ids = list(dict.fromkeys(w.ticket for w in _updates(journal) if w.ticket))
    live = manager.read_live(ids)
    return make_undo_plan(journal, manager.schema, live, manager.target)


def make_undo_plan(
    journal: JournalFile,
    schema: Schema,
    live: Mapping[str, LiveTicket | ApiError],
    target: Target | None = None,
) -> UndoPlan:
    """Compare the journal's writes with the live tickets (pure): what to restore, what not."""
    by_ticket: dict[str, list[WriteRecord]] = {}
    for write in _updates(journal):
        assert write.ticket is not None  # the reader refuses an update without a ticket
        by_ticket.setdefault(write.ticket, []).append(write)
    changes: list[TicketChange] = []
    unchanged: list[str] = []
    refused = _created(journal)
    not_landed: list[str] = []
    for ticket_id in sorted(by_ticket, key=ticket_sort_key):
        read = live.get(ticket_id)
        if not isinstance(read, LiveTicket):
            reason = str(read) if read is not None else "the ticket was not read"
            refused.append(f"{ticket_id}: not restored: {reason}")
            continue
        change, refusal, notes = _restore(ticket_id, by_ticket[ticket_id], read, schema)
        refused += [refusal, *notes] if refusal else notes
        if change is not None:
            changes.append(change)
        elif refusal is None:
            unchanged.append(ticket_id)
            not_landed += [
                f"{ticket_id}: the write at {w.where} had no known outcome; the ticket holds "
                "the values from before it: it did not land"
                for w in by_ticket[ticket_id]
                if w.landed is None
            ]
    plan = Plan(changes=tuple(changes), unchanged=tuple(unchanged), target=target)
    return UndoPlan(plan=plan, refused=tuple(refused), notes=tuple(not_landed))


def _updates(journal: JournalFile) -> list[WriteRecord]:
    """The updates that landed or may have landed, in the order they were sent."""
    return [w for w in journal.writes if w.action is WriteAction.UPDATE and w.landed is not False]


def _created(journal: JournalFile) -> list[str]:
    """One message per ticket the journal's runs created or may have created."""
    messages = []
    for write in journal.writes:
        if write.action is not WriteAction.CREATE or write.landed is False:
            continue
        key = f" (key {write.key})" if write.key else ""
        if write.landed and write.ticket:
            messages.append(
                f"{write.ticket}{key}: created by the apply, not removed: the API cannot "
                "delete tickets; remove it by hand if it should go"
            )
        else:
            messages.append(
                f"{write.where}: a ticket{key} may have been created (no answer came), not "
                "removed: the API cannot delete tickets; look for it by hand"
            )
    return messages


def _restore(
    ticket_id: str, writes: list[WriteRecord], live: LiveTicket, schema: Schema
) -> tuple[TicketChange | None, str | None, list[str]]:
    """The restoring change of one ticket (None: nothing to do or refused), the
    refusal, and notes on the sensitive fields left alone."""
    history: dict[str, list[tuple[FieldWrite, bool | None]]] = {}
    for write in writes:
        for f in write.fields:
            history.setdefault(f.field_id, []).append((f, write.landed))
    ticket_type = schema.type_for(ticket_id)
    restoring: list[FieldChange] = []
    moved: list[str] = []
    notes: list[str] = []
    for field_id, field_writes in history.items():
        name = field_writes[-1][0].name
        field = ticket_type.field_by_id(field_id) if ticket_type else None
        if field is None:
            moved.append(f"{name} (no longer a field of the ticket type)")
            continue
        if any(f.sensitive for f, _ in field_writes):
            notes.append(
                f"{ticket_id} field {name!r}: sensitive, not restored "
                "(the journal holds only a digest of its value); restore it by hand"
            )
            continue
        original, left = _chain(field_writes, field)
        have = field.value_in(live.data)
        if field.equal(original, have):
            continue
        if any(field.equal(value, have) for value in left):
            protected = any(f.protected for f, _ in field_writes)
            restoring.append(
                FieldChange(
                    field_id, field.name, have, original, protected=protected, field_type=field.type
                )
            )
        else:
            moved.append(name)
    if moved:
        refusal = (
            f"{ticket_id}: not restored: {', '.join(moved)} changed since the apply "
            "(another writer); review the ticket by hand"
        )
        return None, refusal, notes
    if not restoring:
        return None, None, notes
    change = TicketChange(
        id=ticket_id,
        action=Action.UPDATE,
        etag=live.etag,
        fields=tuple(restoring),
        last_updated_by=live.last_updated_by,
        last_updated_at=live.last_updated_at,
    )
    return change, None, notes


def _chain(writes: list[tuple[FieldWrite, bool | None]], field: Field) -> tuple[Any, list[Any]]:
    """Of one field's writes that may have landed (oldest first): the value to restore,
    and the values the apply may have left.

    The chain runs back from the last write while each write's ``after`` is the next
    one's ``before``. A write that landed but that the next one does not follow was
    overwritten by another writer: the chain stops there. A write that only may have
    landed and is not followed did not land or was overwritten: it is skipped.
    """
    chain = [writes[-1]]
    for write, landed in reversed(writes[:-1]):
        if field.equal(write.after, chain[-1][0].before):
            chain.append((write, landed))
        elif landed:
            break
    chain.reverse()
    last_landed = max((i for i, (_, landed) in enumerate(chain) if landed), default=0)
    return chain[0][0].before, [w.after for w, _ in chain[last_landed:]]
