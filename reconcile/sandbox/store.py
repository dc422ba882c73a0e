"""SQLite storage of ticket types and tickets, with the etag compare-and-swap.

One connection, in autocommit mode, behind one lock: every statement is short, and a
write is a single ``UPDATE ... WHERE object_id = ? AND etag = ?`` whose row count tells
whether the caller's etag was still current. Of N writers holding the same etag,
exactly one sees a row count of 1.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

DISPLAY_ID = re.compile(r"^([A-Z][A-Z0-9]*)-([0-9]{4,})\Z")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_types (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    object_id TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    number INTEGER NOT NULL,
    ticket_type_id TEXT NOT NULL,
    team TEXT,
    etag TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT,
    last_updated_at TEXT,
    last_updated_by TEXT
);
CREATE INDEX IF NOT EXISTS tickets_order ON tickets (prefix, number);
"""
_COLUMNS = (
    "id, object_id, ticket_type_id, team, etag, data, created_at, last_updated_at, last_updated_by"
)


def now() -> str:
    """The current UTC time as the API writes it: ``2026-11-20T16:01:09Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_etag() -> str:
    return str(uuid.uuid4())


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _scalar(value: Any) -> str:
    """``dumps(value)``; a string by the C quoting ``dumps`` itself uses (non-ASCII kept)."""
    return encode_basestring(value) if type(value) is str else dumps(value)


def _ticket_json(row: tuple[Any, ...]) -> str:
    """``dumps(_ticket(row))``, without decoding and encoding ``data`` again: the column
    already holds it as ``dumps`` wrote it."""
    return (
        f'{{"id":{_scalar(row[0])},"object_id":{_scalar(row[1])},'
        f'"ticket_type_id":{_scalar(row[2])},"team":{_scalar(row[3])},'
        f'"etag":{_scalar(row[4])},"data":{row[5]},"createdAt":{_scalar(row[6])},'
        f'"lastUpdatedAt":{_scalar(row[7])},"lastUpdatedBy":{_scalar(row[8])}}}'
    )


def _ticket(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "object_id": row[1],
        "ticket_type_id": row[2],
        "team": row[3],
        "etag": row[4],
        "data": json.loads(row[5]),
        "createdAt": row[6],
        "lastUpdatedAt": row[7],
        "lastUpdatedBy": row[8],
    }


class Store:
    """Ticket types (kept in memory too: they never change while serving) and tickets."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
        )
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._load_types()

    def _load_types(self) -> None:
        rows = self._conn.execute("SELECT body FROM ticket_types ORDER BY position").fetchall()
        self.types: list[dict[str, Any]] = [json.loads(body) for (body,) in rows]
        self.types_by_id = {t["id"]: t for t in self.types}
        self.fields_by_type = {
            t["id"]: {f["id"]: f for f in t.get("fields", [])} for t in self.types
        }

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def empty(self) -> bool:
        """True while no ticket type is stored (a fresh database)."""
        return not self.types

    # ------------------------------------------------------------------ seeding

    def add_types(self, types: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            start = len(self.types)
            rows = [(t["id"], start + n, t["prefix"], dumps(t)) for n, t in enumerate(types)]
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT INTO ticket_types VALUES (?, ?, ?, ?)", rows)
            self._conn.execute("COMMIT")
            self._load_types()

    def add_tickets(self, tickets: Iterable[dict[str, Any]]) -> int:
        """Insert tickets in the contract's shape (all keys present); return how many."""
        rows = []
        for t in tickets:
            prefix, number = DISPLAY_ID.match(t["object_id"]).groups()  # type: ignore[union-attr]
            rows.append(
                (
                    t["object_id"],
                    t["id"],
                    prefix,
                    int(number),
                    t["ticket_type_id"],
                    t["team"],
                    t["etag"],
                    dumps(t["data"]),
                    t["createdAt"],
                    t["lastUpdatedAt"],
                    t["lastUpdatedBy"],
                )
            )
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT INTO tickets (object_id, id, prefix, number, ticket_type_id, team,"
                    " etag, data, created_at, last_updated_at, last_updated_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.IntegrityError:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return len(rows)

    def next_numbers(self) -> dict[str, int]:
        """Each type prefix's next display number (1 for a type without tickets)."""
        with self._lock:
            rows = self._conn.execute("SELECT prefix, MAX(number) FROM tickets GROUP BY prefix")
            found = dict(rows.fetchall())
        return {t["prefix"]: found.get(t["prefix"], 0) + 1 for t in self.types}

    # ------------------------------------------------------------------ reads

    def get(self, object_id: str) -> dict[str, Any] | None:
        row = self._row(object_id)
        return _ticket(row) if row else None

    def get_json(self, object_id: str) -> str | None:
        """``dumps(get(object_id))``, at a fraction of the cost (the GET route's answer)."""
        row = self._row(object_id)
        return _ticket_json(row) if row else None

    def _row(self, object_id: str) -> tuple[Any, ...] | None:
        with self._lock:
            return self._conn.execute(  # type: ignore[no-any-return]
                f"SELECT {_COLUMNS} FROM tickets WHERE object_id = ?", (object_id,)
            ).fetchone()

    def page(self, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """One page (from 1) of tickets ordered by prefix, then display number; and the total."""
        rows, total = self._page_rows(page, size)
        return [_ticket(r) for r in rows], total

    def page_json(self, page: int, size: int) -> tuple[bytearray, int]:
        """``page``'s tickets as ``dumps`` would write their list, UTF-8; and the total.

        Encoded ticket by ticket into one buffer, each row dropped once written: a page
        of 500 is held about once, not as rows, texts, their join and its encoding."""
        rows, total = self._page_rows(page, size)
        rows.reverse()
        encoded = bytearray(b"[")
        while rows:
            encoded += _ticket_json(rows.pop()).encode()
            if rows:
                encoded += b","
        encoded += b"]"
        return encoded, total

    def _page_rows(self, page: int, size: int) -> tuple[list[tuple[Any, ...]], int]:
        offset = (page - 1) * size
        with self._lock:
            total = self._conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
            if offset >= total:  # also keeps huge page numbers away from SQLite's integers
                return [], total
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM tickets ORDER BY prefix, number LIMIT ? OFFSET ?",
                (size, offset),
            ).fetchall()
        return rows, total

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]

    # ------------------------------------------------------------------ writes

    def create(
        self, ticket_type: dict[str, Any], team: str | None, data: dict[str, Any], by: str
    ) -> tuple[str, str]:
        """Insert a new ticket with the type's next display ID; return (object_id, etag)."""
        prefix, etag, at = ticket_type["prefix"], new_etag(), now()
        with self._lock:
            (last,) = self._conn.execute(
                "SELECT COALESCE(MAX(number), 0) FROM tickets WHERE prefix = ?", (prefix,)
            ).fetchone()
            object_id = f"{prefix}-{last + 1:04d}"
            self._conn.execute(
                "INSERT INTO tickets (object_id, id, prefix, number, ticket_type_id, team,"
                " etag, data, created_at, last_updated_at, last_updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    object_id,
                    str(uuid.uuid4()),
                    prefix,
                    last + 1,
                    ticket_type["id"],
                    team,
                    etag,
                    dumps(data),
                    at,
                    at,
                    by,
                ),
            )
        return object_id, etag

    def compare_and_swap(
        self, object_id: str, etag: str, data: dict[str, Any], by: str
    ) -> str | None:
        """Write ``data`` if the ticket's etag is still ``etag``; return the new etag, or None."""
        new, at = new_etag(), now()
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE tickets SET data = ?, etag = ?, last_updated_at = ?, last_updated_by = ?"
                " WHERE object_id = ? AND etag = ?",
                (dumps(data), new, at, by, object_id, etag),
            )
        return new if cursor.rowcount == 1 else None
