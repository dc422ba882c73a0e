"""The schema lock: the tenant's ticket types written to ``reconcile.lock.yaml``.

Committed beside the manifests, it lets ``validate`` check field names, types and
options offline, and lets ``plan`` tell *schema drift* (a field renamed, retyped,
removed, an option gone) apart from ticket changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.errors import ApiError, ConfigError

if TYPE_CHECKING:  # imported when a lock is read: `validate` without one does not need it
    from reconcile.schema import Field, Schema, TicketType

LOCK_NAME = "reconcile.lock.yaml"
LOCK_VERSION = 1
_HEADER = (
    "# Schema lock written by `reconcile schema pull`: the tenant's ticket types and fields.\n"
    "# Commit it with the manifests; `reconcile validate` checks against it offline and\n"
    "# `reconcile plan` reports schema drift against it. Re-run `schema pull` to update.\n"
)


def default_lock_path(config_path: Path | None, cwd: Path | None = None) -> Path:
    """``reconcile.lock.yaml`` beside ``reconcile.yaml`` when there is one, else in ``cwd``."""
    if config_path is not None:
        return config_path.parent / LOCK_NAME
    return (cwd or Path.cwd()) / LOCK_NAME


def find_lock(config_path: Path | None, cwd: Path | None = None) -> Path | None:
    """The lock file that applies, or None when there is none."""
    path = default_lock_path(config_path, cwd)
    return path if path.is_file() else None


def dump_lock(schema: Schema) -> str:
    """The lock file's text (stable: same schema, same bytes)."""
    import yaml  # here: most commands never write a lock, and PyYAML costs start-up time

    data = {"lock_version": LOCK_VERSION, "types": schema.to_data()}
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1000)
    return _HEADER + body


def write_lock(schema: Schema, path: Path) -> None:
    path.write_text(dump_lock(schema), encoding="utf-8")


def read_lock(path: Path) -> Schema:
    """Read a lock file; a missing, damaged or foreign file is a :class:`ConfigError`."""
    import yaml  # here: only a run with a lock file reads one

    from reconcile.schema import Schema

    try:
        data = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the schema lock: {error.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not a schema lock: {_first_line(error)}") from None
    if not isinstance(data, dict) or "types" not in data:
        raise ConfigError(f"{path}: not a schema lock (no 'types'); run `reconcile schema pull`")
    if data.get("lock_version") != LOCK_VERSION:
        raise ConfigError(
            f"{path}: schema lock version {data.get('lock_version')!r} is not supported "
            f"(expected {LOCK_VERSION}); run `reconcile schema pull`"
        )
    try:
        return Schema.from_api(data["types"])
    except ApiError as error:
        raise ConfigError(f"{path}: damaged schema lock: {error}") from None


def schema_drift(locked: Schema, live: Schema) -> list[str]:
    """What changed in the live schema since the lock, one message each, in lock order.

    Reported: a ticket type gone, a field removed, renamed, relabelled, retyped, made
    required, an option gone. Additions (new types, fields, options) break no manifest
    and are not drift.
    """
    messages: list[str] = []
    live_types = {t.id: t for t in live.types}
    by_prefix = {t.prefix: t for t in live.types}
    for was in locked.types:
        now = live_types.get(was.id) or by_prefix.get(was.prefix)
        if now is None:
            messages.append(f"ticket type {was.name!r} ({was.prefix}) is gone")
            continue
        if now.prefix != was.prefix:
            messages.append(
                f"ticket type {was.name!r}: prefix changed from {was.prefix} to {now.prefix}"
            )
        messages += _field_drift(was, now)
    return messages


def _field_drift(was: TicketType, now: TicketType) -> list[str]:
    messages: list[str] = []
    for old in was.fields:
        new = now.field_by_id(old.id)
        where = f"{was.prefix} field {old.name!r}"
        if new is None:
            messages.append(f"{where} ({old.id}) was removed")
            continue
        if new.name != old.name:
            messages.append(f"{where} was renamed to {new.name!r}")
        if new.label != old.label:
            messages.append(f"{where}: label {old.label!r} changed to {new.label!r}")
        if new.type != old.type:
            messages.append(f"{where} changed type from {old.type} to {new.type}")
        if new.required and not old.required:
            messages.append(f"{where} is now required")
        messages += _options_gone(where, old, new)
    return messages


def _options_gone(where: str, old: Field, new: Field) -> list[str]:
    if old.options is None or new.options is None:
        return []
    gone: Sequence[str] = [o for o in old.options if o not in new.options]
    return [f"{where}: option {option!r} is gone" for option in gone]


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


__all__ = [
    "LOCK_NAME",
    "default_lock_path",
    "dump_lock",
    "find_lock",
    "read_lock",
    "schema_drift",
    "write_lock",
]
