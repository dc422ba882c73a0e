"""The saved plan (``plan --out FILE``): writing, reading, validating and preparing it.

A saved plan is the reviewed :class:`~reconcile.plan.Plan` plus what applying it
needs: the target it was made for (base URL, tenant, realm), the manifests it was
made from and the directory they are relative to, a content checksum, and
sensitive values as salted digests, never in clear. ``apply --plan FILE`` reads it
back here, refuses what it must (another target, planning errors, a damaged or
malformed file), and takes the sensitive values from the manifests again, checked
against their digests. :meth:`reconcile.manager.Manager.apply_saved` is the one
library call that does all of it and writes.

The file's shape is declared once, as the JSON Schema :data:`SAVED_PLAN_SCHEMA`;
reading validates against it before building any object, so the builders below
trust what they read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.errors import PlanError, StalePlan
from reconcile.plan import (
    FORMAT_VERSION,
    Action,
    Digest,
    FieldChange,
    FieldSource,
    Plan,
    Selector,
    Target,
    TicketChange,
    TicketCreate,
    canonical_json,
    ticket_sort_key,
)

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from reconcile.manifest import DesiredTicket, Policy
    from reconcile.manifest.resolve import KeyFieldSetting
    from reconcile.schema import Schema

SAVED_PLAN_KIND = "reconcile-saved-plan"

_STRING = {"type": "string"}
_OPTIONAL_STRING = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": _STRING}

SAVED_PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "reconcile saved plan",
    "type": "object",
    "required": [
        "kind",
        "format_version",
        "created_at",
        "target",
        "manifests",
        "changes",
        "unchanged",
        "schema_drift",
        "plan_checksum",
        "checksum",
    ],
    "properties": {
        "kind": {"const": SAVED_PLAN_KIND},
        "format_version": {"const": FORMAT_VERSION},
        "created_at": _STRING,
        "target": {
            "type": "object",
            "required": ["base_url", "tenant_id", "realm"],
            "properties": {"base_url": _STRING, "tenant_id": _STRING, "realm": _STRING},
        },
        "base_dir": _STRING,
        "manifests": _STRINGS,
        "changes": {"type": "array", "items": {"$ref": "#/$defs/change"}},
        "creates": {"type": "array", "items": {"$ref": "#/$defs/create"}},
        "unchanged": _STRINGS,
        "schema_drift": _STRINGS,
        "plan_checksum": _STRING,
        "checksum": _STRING,
    },
    "$defs": {
        "change": {
            "type": "object",
            "required": ["id", "action", "fields"],
            "properties": {
                "id": _STRING,
                "action": {"enum": [Action.UPDATE.value, Action.ERROR.value]},
                "etag": _OPTIONAL_STRING,
                "fields": {"type": "array", "items": {"$ref": "#/$defs/field"}},
                "error": _OPTIONAL_STRING,
                "last_updated_by": _OPTIONAL_STRING,
                "last_updated_at": _OPTIONAL_STRING,
                "policies": {"type": "array", "items": {"$ref": "#/$defs/selector"}},
            },
            # An update is sent as it is: it needs the etag it is guarded by and at
            # least one field (the server must never get an empty ticketUpdate).
            "if": {"properties": {"action": {"const": Action.UPDATE.value}}},
            "then": {
                "required": ["etag"],
                "properties": {
                    "etag": {"type": "string", "minLength": 1},
                    "fields": {"minItems": 1},
                },
            },
        },
        "field": {
            "type": "object",
            "required": ["field_id", "name", "before", "after"],
            "properties": {
                "field_id": _STRING,
                "name": _STRING,
                "sensitive": {"type": "boolean"},
                "protected": {"type": "boolean"},
                "source": {
                    "type": "object",
                    "required": ["location"],
                    "properties": {"location": _STRING, "policy": _OPTIONAL_STRING},
                },
            },
            "if": {"required": ["sensitive"], "properties": {"sensitive": {"const": True}}},
            "then": {
                "properties": {
                    "before": {"$ref": "#/$defs/digest"},
                    "after": {"$ref": "#/$defs/digest"},
                }
            },
        },
        "create": {
            "type": "object",
            "required": ["key", "type", "type_id", "type_name", "key_field", "team", "fields"],
            "properties": {
                "action": {"const": Action.CREATE.value},
                "key": {"type": "string", "minLength": 1},
                "type": _STRING,
                "type_id": _STRING,
                "type_name": _STRING,
                "key_field": _STRING,
                "team": _OPTIONAL_STRING,
                "location": _OPTIONAL_STRING,
                "fields": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/$defs/create_field"},
                },
            },
        },
        "create_field": {
            "type": "object",
            "required": ["field_id", "name", "after"],
            "properties": {
                "field_id": _STRING,
                "name": _STRING,
                "sensitive": {"type": "boolean"},
            },
            "if": {"required": ["sensitive"], "properties": {"sensitive": {"const": True}}},
            "then": {"properties": {"after": {"$ref": "#/$defs/digest"}}},
        },
        "selector": {
            "type": "object",
            "required": ["policy", "type_id", "teams", "where"],
            "properties": {
                "policy": _STRING,
                "type_id": _STRING,
                "teams": {"type": ["array", "null"], "items": _OPTIONAL_STRING},
                "where": {"type": "object", "additionalProperties": {"type": "array"}},
            },
        },
        "digest": {
            "type": "object",
            "required": ["digest", "salt"],
            "properties": {"digest": {"type": "string", "pattern": "^sha256:"}, "salt": _STRING},
        },
    },
}
"""The saved plan's shape. ``before``/``after`` are any JSON, except digests when sensitive."""


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from a saved file, with the target and manifests it is bound to.

    ``base_dir`` is the directory the plan was made in, which relative ``manifests``
    are relative to (None in plans written before it was recorded: the current
    directory then). ``source`` names the file in messages.
    """

    plan: Plan
    target: Target
    manifests: tuple[str, ...]
    created_at: str
    plan_checksum: str
    base_dir: str | None = None
    source: str = "plan file"

    def check_applicable(self, target: Target) -> None:
        """Refuse (:class:`StalePlan`) a plan with planning errors or made for another target."""
        if self.plan.errors:
            failed = ", ".join(c.id for c in self.plan.errors)
            raise StalePlan(
                f"{self.source} holds tickets that could not be planned ({failed}); "
                "nothing was written: fix them and plan again"
            )
        if self.target != target:
            made = self.target
            raise StalePlan(
                f"{self.source} was made for {made.base_url} (tenant {made.tenant_id}, realm"
                f" {made.realm}); refusing to apply it to {target.base_url} (tenant"
                f" {target.tenant_id}, realm {target.realm})"
            )

    @property
    def has_sensitive(self) -> bool:
        """True when some value is a digest that the manifests must give back."""
        fields = [f for c in self.plan.changes for f in c.fields]
        fields += [f for c in self.plan.creates for f in c.fields]
        return any(isinstance(f.after, Digest) for f in fields)

    def manifest_paths(self) -> list[Path]:
        """The manifests as paths usable from here: relative ones against ``base_dir``.

        When ``base_dir`` no longer exists (the plan was made on another machine, or an
        older plan did not record it), relative paths are taken from the current
        directory, as they were then; the digests still check every sensitive value.
        """
        base = Path(self.base_dir) if self.base_dir else None
        if base is None or not base.is_dir():
            return [Path(m) for m in self.manifests]
        return [base / m for m in self.manifests]

    def fill_sensitive(
        self, desired: Iterable[DesiredTicket], policies: Sequence[Policy] = ()
    ) -> tuple[Plan, dict[str, str]]:
        """Put the manifests' sensitive values into the plan, checked against their digests.

        A value planned from a policy (its ``source`` names the policy) is taken from
        that policy's fields for the ticket's type, the others from the ticket entries.
        Returns the plan ready to apply and, per ticket ID (or create's name) left out
        of it, why it is stale (the ID is the key, not repeated in the message): a
        ticket whose sensitive value changed in the manifests (or is no longer
        declared) is not what was reviewed, so it is not written.
        """
        desired = list(desired)
        values = {d.id: d.values for d in desired if d.id is not None}
        rules = {
            (p.name, type_id): rule.values for p in policies for type_id, rule in p.rules.items()
        }
        by_key = {d.key: d.values for d in desired if d.key is not None}
        stale: dict[str, str] = {}
        creates: list[TicketCreate] = []
        for create in self.plan.creates:
            filled = _fill(create.fields, by_key.get(create.key, {}), {})
            if isinstance(filled, str):
                stale[create.name] = filled
            else:
                creates.append(replace(create, fields=filled))
        changes: list[TicketChange] = []
        for change in self.plan.changes:
            entry = values.get(change.id, {})
            by_policy = {s.policy: rules.get((s.policy, s.type_id), {}) for s in change.selectors}
            filled = _fill(change.fields, entry, by_policy)
            if isinstance(filled, str):
                stale[change.id] = filled
            else:
                changes.append(replace(change, fields=filled))
        return replace(self.plan, changes=tuple(changes), creates=tuple(creates)), stale


def _fill(
    fields: Sequence[FieldChange],
    entry: Mapping[str, Any],
    by_policy: Mapping[str, Mapping[str, Any]],
) -> tuple[FieldChange, ...] | str:
    """``fields`` with each sensitive digest replaced by the declared value it matches (from
    the ticket entry, or from the policy its ``source`` names), or why not: a sensitive
    value that changed in the manifests, or is no longer declared."""
    filled: list[FieldChange] = []
    for f in fields:
        policy = f.source.policy if f.source is not None else None
        declared = entry if policy is None else by_policy.get(policy, {})
        if not isinstance(f.after, Digest):
            filled.append(f)
        elif f.field_id in declared and f.after.matches(declared[f.field_id]):
            filled.append(replace(f, after=declared[f.field_id]))
        else:
            return (
                f"sensitive field {f.name!r} is not declared as it was when the plan was made; "
                "re-run plan"
            )
    return tuple(filled)


@dataclass(frozen=True)
class PreparedPlan:
    """A saved plan ready to write, and the tickets refused while preparing it."""

    plan: Plan
    refused: tuple[tuple[str, str], ...] = ()
    """``(ticket ID, why)`` of each ticket left out, sorted by ID."""


def prepare(saved: SavedPlan, schema: Schema, key_field: KeyFieldSetting = None) -> PreparedPlan:
    """Make a saved plan ready to apply: sensitive values back from its manifests.

    Tickets whose sensitive value in the manifests no longer matches the digest that
    was reviewed are left out, with why. Reads the manifests only when needed.
    """
    if not saved.has_sensitive:
        return PreparedPlan(saved.plan)
    # Imported here: manifest reading is only needed for sensitive values.
    from reconcile.manifest import load_manifest_set, resolve_policies, resolve_tickets

    manifests = load_manifest_set(saved.manifest_paths())
    declared = manifests.tickets
    from_policies = any(c.selectors for c in saved.plan.changes)
    policies = resolve_policies(manifests.policies, schema) if from_policies else []
    planned = {c.id for c in saved.plan.changes}
    keys = {c.key for c in saved.plan.creates}
    chosen = [t for t in declared if t.id in planned or (t.id is None and t.key in keys)]
    desired = resolve_tickets(chosen, schema, key_field)
    plan, stale = saved.fill_sensitive(desired, policies)
    refused = tuple((i, stale[i]) for i in sorted(stale, key=ticket_sort_key))
    return PreparedPlan(plan, refused)


def saved_data(
    plan: Plan,
    manifest_paths: Sequence[str | os.PathLike[str]],
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The saved-plan form of ``plan``, for :func:`load_saved_plan`.

    Non-sensitive values are kept as they are; sensitive ones become salted digests.
    ``manifests`` are recorded relative to ``base_dir`` (default: the current
    directory), which is recorded too, so ``apply --plan`` finds them from anywhere.
    ``checksum`` is an unkeyed SHA-256 of everything else in the file: it catches
    accidental damage (a truncated file, a stray hand edit), not a deliberate change,
    since anyone who edits the file can recompute it. It is no signature.
    """
    if plan.target is None:
        raise PlanError("cannot save a plan without its target (base URL, tenant, realm)")
    base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
    data: dict[str, Any] = {
        "kind": SAVED_PLAN_KIND,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "target": {
            "base_url": plan.target.base_url,
            "tenant_id": plan.target.tenant_id,
            "realm": plan.target.realm,
        },
        "base_dir": base.as_posix(),
        "manifests": [
            Path(os.path.relpath(Path(p).resolve(), base)).as_posix() for p in manifest_paths
        ],
        "summary": plan.summary,
        "changes": [c.to_data(saved=True) for c in plan.changes],
        "creates": [c.to_data(saved=True) for c in plan.creates],
        "unchanged": list(plan.unchanged),
        "schema_drift": list(plan.schema_drift),
        "plan_checksum": plan.checksum,
    }
    data["checksum"] = _content_checksum(data)
    return data


def write_saved_plan(
    plan: Plan, manifest_paths: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str]
) -> None:
    """Save ``plan`` to ``path`` (:func:`saved_data` as indented JSON); a PlanError if it cannot."""
    text = json.dumps(
        saved_data(plan, manifest_paths), indent=2, sort_keys=True, ensure_ascii=False
    )
    try:
        Path(path).write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise PlanError(f"{path}: cannot write the plan: {error.strerror}") from None


def read_saved_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a file written by ``plan --out``; a damaged or foreign file is a PlanError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlanError(f"{path}: not a saved plan: {error}") from None
    except RecursionError:
        raise PlanError(f"{path}: not a saved plan: JSON nested too deeply") from None
    return load_saved_plan(data, source=str(path))


def load_saved_plan(data: Any, source: str = "plan file") -> SavedPlan:
    """Read a saved plan (the parsed JSON of ``plan --out``), checking its version and shape.

    Raises :class:`PlanError` naming ``source`` and what is wrong: not a saved plan
    (e.g. the masked ``--format json`` output), another format version, a damaged file
    (a checksum that does not match: accidental damage only, the checksum is unkeyed),
    or an entry that does not fit :data:`SAVED_PLAN_SCHEMA` (an update without an etag
    or without fields is refused whatever the checksum says).
    """
    if not isinstance(data, dict):
        raise PlanError(f"{source}: not a saved plan (expected a JSON object)")
    if data.get("kind") != SAVED_PLAN_KIND:
        raise PlanError(
            f"{source}: not a saved plan; write one with `reconcile plan --out FILE` "
            f"(the --format json output masks sensitive values and cannot be applied)"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanError(
            f"{source}: format_version {version!r} is not supported (this reconcile reads "
            f"{FORMAT_VERSION}); re-run plan with this version"
        )
    try:
        intact = data.get("checksum") == _content_checksum(data)
    except RecursionError:
        raise PlanError(f"{source}: not a saved plan: JSON nested too deeply") from None
    if not intact:
        raise PlanError(f"{source}: checksum does not match: the file was edited or is damaged")
    problem = _first_problem(data)
    if problem is not None:
        raise PlanError(f"{source}: {problem}")
    target = Target(**{k: data["target"][k] for k in ("base_url", "tenant_id", "realm")})
    plan = Plan(
        changes=tuple(_change(item) for item in data["changes"]),
        creates=tuple(_create(item) for item in data.get("creates", [])),
        unchanged=tuple(data["unchanged"]),
        target=target,
        schema_drift=tuple(data["schema_drift"]),
    )
    return SavedPlan(
        plan=plan,
        target=target,
        manifests=tuple(data["manifests"]),
        created_at=data["created_at"],
        plan_checksum=data["plan_checksum"],
        base_dir=data.get("base_dir"),
        source=source,
    )


def _content_checksum(data: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in data.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical_json(rest).encode()).hexdigest()


def _change(item: dict[str, Any]) -> TicketChange:
    return TicketChange(
        id=item["id"],
        action=Action(item["action"]),
        etag=item.get("etag"),
        fields=tuple(_field_change(f) for f in item["fields"]),
        error=item.get("error"),
        last_updated_by=item.get("last_updated_by"),
        last_updated_at=item.get("last_updated_at"),
        selectors=tuple(Selector.from_data(s) for s in item.get("policies", ())),
    )


def _create(item: dict[str, Any]) -> TicketCreate:
    fields = []
    for f in item["fields"]:
        sensitive = bool(f.get("sensitive", False))
        after = Digest(**f["after"]) if sensitive else f["after"]
        fields.append(FieldChange(f["field_id"], f["name"], None, after, sensitive=sensitive))
    return TicketCreate(
        key=item["key"],
        type_id=item["type_id"],
        type_prefix=item["type"],
        type_name=item["type_name"],
        key_field=item["key_field"],
        team=item["team"],
        fields=tuple(fields),
        location=item.get("location"),
    )


def _field_change(item: dict[str, Any]) -> FieldChange:
    sensitive = bool(item.get("sensitive", False))
    before, after = item["before"], item["after"]
    if sensitive:
        before, after = Digest(**before), Digest(**after)
    return FieldChange(
        field_id=item["field_id"],
        name=item["name"],
        before=before,
        after=after,
        sensitive=sensitive,
        protected=bool(item.get("protected", False)),
        source=FieldSource.from_data(item.get("source")),
    )


_KINDS = {
    "string": "a string",
    "array": "a list",
    "object": "an object",
    "boolean": "true or false",
}


def _first_problem(data: dict[str, Any]) -> str | None:
    """The first way ``data`` does not fit :data:`SAVED_PLAN_SCHEMA`, as one line, or None."""
    # Imported here: only reading a saved plan needs a JSON Schema validator.
    from jsonschema import Draft202012Validator

    errors = Draft202012Validator(SAVED_PLAN_SCHEMA).iter_errors(data)
    first = min(errors, key=lambda e: [str(p) for p in e.absolute_path], default=None)
    return None if first is None else _describe(first)


def _describe(error: ValidationError) -> str:
    """A schema violation as ``where: what``, where ``where`` is e.g. ``changes[0].fields[1]``."""
    path: list[str | int] = list(error.absolute_path)
    validator, instance = str(error.validator), error.instance
    expected: Any = error.validator_value
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if "before" in path or "after" in path:
        # Only a sensitive field constrains its values: they must be digests.
        cut = min(path.index(k) for k in ("before", "after") if k in path)
        return _where(path[:cut], "a sensitive value is not stored as a digest")
    if validator == "required":
        key = next(k for k in expected if isinstance(instance, dict) and k not in instance)
        kind = _KINDS.get(schema.get("properties", {}).get(key, {}).get("type"), "given")
        return _where(path, f"{key!r} is missing or not {kind}")
    if not path:
        return f"not a saved plan: {validator} {expected!r}"
    *parents, key = path
    if isinstance(key, int):  # an item of a list
        if validator == "type" and expected == "object":
            return _where(path, "expected an object")
        return _where(parents[:-1], f"{parents[-1]!r} holds something other than strings")
    if validator == "type":
        kinds = [expected] if isinstance(expected, str) else [str(k) for k in expected]
        return _where(parents, f"{key!r} is not {' or '.join(_KINDS.get(k, k) for k in kinds)}")
    if validator == "enum":
        return _where(parents, f"unknown {key} {instance!r}")
    if validator in ("minLength", "minItems"):
        return _where(parents, f"an update with an empty {key!r} cannot be sent")
    return _where(parents, f"{key!r} is not valid")


def _where(path: Sequence[str | int], message: str) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return f"{where}: {message}" if where else message
