"""The append-only audit log: who changed what is served or decided, when and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.pages import Key, Order, Page, fetch_page
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


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page_entries(store: Store, *, action: str | None = None, subject: str | None = None,
                 after: Sequence[Any] | None = None, limit: int = 100) -> Page[AuditEntry]:
    """The audit log, newest first, a page at a time (see store.pages)."""
    where, args = [], []
    if action:
        where.append("action = ?")
        args.append(action)
    if subject:
        where.append("subject = ?")
        args.append(subject)
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "audit_log", where, args, NEWEST_FIRST, after, limit,
                          _entry)


def list_entries(store: Store, *, limit: int = 100, action: str | None = None,
                 subject: str | None = None) -> list[AuditEntry]:
    return page_entries(store, action=action, subject=subject, limit=limit).items
