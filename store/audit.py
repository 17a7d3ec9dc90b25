"""The append-only audit log: who changed what is served or decided, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.rows import aware, from_json, to_json

_COLUMNS = "id, occurred_at, actor, action, subject, reason, details"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: Any


def append(
    store: Store,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str | None = None,
    details: Any = None,
) -> AuditEntry:
    """An entry, in the transaction this thread has open (a door writes the change, its
    entry and its event together), or in one of its own."""
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO audit_log (occurred_at, actor, action, subject, reason, details) "
            f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            [utcnow(), actor, action, subject, reason, to_json(details)],
        ).fetchone()
    return _entry(row)


def _entry(row: tuple) -> AuditEntry:
    return AuditEntry(row[0], aware(row[1]), row[2], row[3], row[4], row[5], from_json(row[6]))


def list_entries(
    store: Store,
    *,
    limit: int = 100,
    action: str | None = None,
    subject: str | None = None,
    after_id: int | None = None,
) -> list[AuditEntry]:
    where, args = [], []
    if action:
        where.append("action = ?")
        args.append(action)
    if subject:
        where.append("subject = ?")
        args.append(subject)
    if after_id is not None:
        where.append("id > ?")
        args.append(after_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with store.reading() as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM audit_log {clause} ORDER BY id DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
    return [_entry(r) for r in rows]
