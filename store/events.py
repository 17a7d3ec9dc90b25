"""The event outbox: events written in the transaction of the change they tell of, read back
by id (a client resuming, the daemon's own subscribers), pruned by count and age (telemetry
sooner); and the cursors of the daemon's own subscribers and of the pruning."""

from __future__ import annotations

from collections.abc import Collection
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


EXPIRED = "outbox.expired"
"""The cursor (in `event_cursors`) holding the newest id pruned by count or age: every id up
to it is gone, and a reader behind it has missed events. Telemetry pruned early leaves
holes above it, which a reader does not miss (numbers while something ran, not changes)."""


def prune(store: Store, *, keep: int, older_than: datetime,
          telemetry: Collection[str] = (), telemetry_older_than: datetime | None = None
          ) -> int:
    """Delete telemetry (`telemetry` types) before `telemetry_older_than`, then all but the
    newest `keep` events and those before `older_than`, never the newest one; moves
    `EXPIRED` up to what the second kind of pruning reached. Returns how many were
    deleted."""
    with store.transaction() as cur:
        kept = _cursor_in(cur, EXPIRED)
        expired = _expired_in(cur) if kept is None else kept
        high = cur.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        deleted = 0
        if telemetry and telemetry_older_than is not None:
            marks = ", ".join("?" for _ in telemetry)
            deleted += cur.execute(
                f"DELETE FROM events WHERE id < ? AND type IN ({marks}) AND occurred_at < ?",
                [high, *telemetry, naive_utc(telemetry_older_than)]).fetchone()[0]
        beyond = cur.execute("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?",
                             [keep]).fetchone()
        aged = cur.execute("SELECT max(id) FROM events WHERE occurred_at < ?",
                           [naive_utc(older_than)]).fetchone()[0]
        # The newest event always stays: its id is where the next start counts on from.
        cut = min(max(beyond[0] if beyond else 0, aged or 0), high - 1)
        if cut > 0:
            deleted += cur.execute("DELETE FROM events WHERE id <= ?", [cut]).fetchone()[0]
        if max(cut, expired) != kept:
            _set_cursor_in(cur, EXPIRED, max(cut, expired))
    return deleted


def expired_upto(store: Store) -> int:
    """Every id up to this one is gone from the outbox (0: none yet)."""
    with store.reading() as cur:
        return _expired_in(cur)


def _expired_in(cur: Any) -> int:
    found = _cursor_in(cur, EXPIRED)
    if found is not None:
        return found
    # An outbox pruned without holes until now (before the cursor): the oldest id less one.
    low, high = cur.execute("SELECT min(id), coalesce(max(id), 0) FROM events").fetchone()
    return (low - 1) if low is not None else int(high)


def _cursor_in(cur: Any, name: str) -> int | None:
    row = cur.execute("SELECT last_id FROM event_cursors WHERE name = ?", [name]).fetchone()
    return int(row[0]) if row else None


def _set_cursor_in(cur: Any, name: str, last_id: int) -> None:
    cur.execute("INSERT INTO event_cursors VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET last_id = excluded.last_id, updated_at = excluded.updated_at",
                [name, last_id, utcnow()])


def cursor(store: Store, name: str) -> int | None:
    with store.reading() as cur:
        return _cursor_in(cur, name)


def set_cursor(store: Store, name: str, last_id: int) -> None:
    with store.transaction() as cur:
        _set_cursor_in(cur, name, last_id)
