"""The event outbox: events written in the transaction of the change they tell of, read back
by id (a client resuming, the daemon's own subscribers), pruned by count and age; and the
cursors of the daemon's own subscribers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.rows import aware, from_json, naive_utc, to_json

_COLUMNS = "id, occurred_at, type, data, audit_id"


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: datetime
    type: str
    data: dict[str, Any]
    audit_id: int | None


def _event(row: tuple) -> StoredEvent:
    return StoredEvent(row[0], aware(row[1]), row[2], from_json(row[3]), row[4])


def insert_in(cur: Any, events: list[StoredEvent]) -> None:
    """Within the caller's transaction: one statement for any number of events."""
    if not events:
        return
    cur.execute(
        "INSERT INTO events SELECT * FROM (SELECT unnest(?) AS id, unnest(?) AS occurred_at, "
        "unnest(?) AS type, unnest(?)::JSON AS data, unnest(?) AS audit_id)",
        [[e.id for e in events], [naive_utc(e.at) for e in events], [e.type for e in events],
         [to_json(e.data) for e in events], [e.audit_id for e in events]])


def after(store: Store, after_id: int, limit: int) -> list[StoredEvent]:
    """The events with an id above `after_id`, oldest first."""
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                           [after_id, limit]).fetchall()
    return [_event(r) for r in rows]


def newest(store: Store, limit: int) -> list[StoredEvent]:
    """The newest `limit` events, oldest first."""
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM events ORDER BY "
                           "id DESC LIMIT ?) ORDER BY id", [limit]).fetchall()
    return [_event(r) for r in rows]


def bounds(store: Store) -> tuple[int | None, int]:
    """(oldest id kept or None when empty, newest id ever written as far as the table
    knows: 0 when empty)."""
    with store.reading() as cur:
        low, high = cur.execute("SELECT min(id), coalesce(max(id), 0) FROM events").fetchone()
    return low, int(high)


def prune(store: Store, *, keep: int, older_than: datetime) -> int:
    """Delete all but the newest `keep` events and those before `older_than` (never the
    newest one); what is kept is always the newest ids without a hole. Returns how many
    were deleted."""
    with store.transaction() as cur:
        high = cur.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        aged = cur.execute("SELECT max(id) FROM events WHERE occurred_at < ?",
                           [naive_utc(older_than)]).fetchone()[0]
        # The newest event always stays: its id is where the next start counts on from.
        cut = min(max(high - keep, aged or 0), high - 1)
        if cut <= 0:
            return 0
        deleted = cur.execute("DELETE FROM events WHERE id <= ? RETURNING id",
                              [cut]).fetchall()
    return len(deleted)


def cursor(store: Store, name: str) -> int | None:
    with store.reading() as cur:
        row = cur.execute("SELECT last_id FROM event_cursors WHERE name = ?",
                          [name]).fetchone()
    return int(row[0]) if row else None


def set_cursor(store: Store, name: str, last_id: int) -> None:
    with store.transaction() as cur:
        cur.execute("INSERT INTO event_cursors VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET last_id = excluded.last_id, updated_at = excluded.updated_at",
                    [name, last_id, utcnow()])
