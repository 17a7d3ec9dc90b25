"""The append-only audit log: who changed what is served or decided, when and why.

Each entry is sealed into a hash chain as it is written (store/audit_chain.py): `verify`
finds an entry changed, removed or added behind the daemon's back, and `chained` hands the
entries with their hashes to an export a reviewer can check with no daemon."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from store import audit_chain
from store.audit_chain import ChainedEntry, ChainReport
from store.db import Store, utcnow
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, naive_utc, to_json

_COLUMNS = "id, occurred_at, actor, action, subject, reason, details"
_CHAINED = _COLUMNS + ", prev_hash, entry_hash"
CHUNK = 10_000
"""Entries read per store visit when walking the whole log (the lock is let go between)."""

# The newest committed entry's hash per open store, so an append need not look it up.
_heads: weakref.WeakKeyDictionary[Store, str] = weakref.WeakKeyDictionary()


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
    entry and its event together), or in one of its own; sealed onto the chain's head."""
    with store.transaction() as cur:
        tx = store.current()
        assert tx is not None
        prev = tx.extras.get("audit_head") or _heads.get(store) or _stored_head(cur)
        (entry_id,) = cur.execute("SELECT nextval('audit_id_seq')").fetchone()
        at, text = utcnow(), to_json(details)
        digest = audit_chain.entry_hash(entry_id, at, actor, action, subject, reason,
                                        from_json(text), prev)
        row = cur.execute(
            f"INSERT INTO audit_log ({_CHAINED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_COLUMNS}",
            [entry_id, at, actor, action, subject, reason, text, prev, digest],
        ).fetchone()
        tx.extras["audit_head"] = digest
        tx.after_commit.append(lambda: _heads.__setitem__(store, digest))
    return _entry(row)


def _stored_head(cur: duckdb.DuckDBPyConnection) -> str:
    row = cur.execute("SELECT entry_hash FROM audit_log WHERE entry_hash IS NOT NULL "
                      "ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else audit_chain.GENESIS


def seal_unsealed(cur: duckdb.DuckDBPyConnection) -> int:
    """Seal the entries written before the log was a chain (the migration that made it one
    runs this, in its transaction); how many were sealed."""
    rows = cur.execute(f"SELECT {_CHAINED} FROM audit_log WHERE entry_hash IS NULL "
                       "ORDER BY id").fetchall()
    links = list(audit_chain.sealed((_chained(r) for r in rows), _stored_head(cur)))
    if links:
        cur.executemany("UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE id = ?",
                        [[prev, digest, entry_id] for entry_id, prev, digest in links])
    return len(links)


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


def _chained(row: tuple) -> ChainedEntry:
    return ChainedEntry(row[0], aware(row[1]), row[2], row[3], row[4], row[5],
                        from_json(row[6]), row[7], row[8])


def chained(store: Store, *, since: datetime | None = None,
            after_id: int = 0) -> Iterator[ChainedEntry]:
    """Every entry (from `since` on, or after `after_id`) with its hashes, in id order, a
    chunk per store visit."""
    where, args = ["id > ?"], [after_id]
    if since is not None:
        where.append("occurred_at >= ?")
        args.append(naive_utc(since))
    while True:
        with store.reading() as cur:
            rows = cur.execute(f"SELECT {_CHAINED} FROM audit_log WHERE {' AND '.join(where)} "
                               f"ORDER BY id LIMIT {CHUNK}", args).fetchall()
        yield from (_chained(r) for r in rows)
        if len(rows) < CHUNK:
            return
        args[0] = rows[-1][0]


@dataclass(frozen=True)
class Verified:
    """The whole log checked: the chain's report, and the events that name an audit entry
    the log no longer has (the outbox keeps each change's event with its entry's id, so a
    removed last entry is found while its event is kept)."""

    chain: ChainReport
    orphan_events: list[tuple[int, int]]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.orphan_events


def verify(store: Store) -> Verified:
    report = audit_chain.check(chained(store))
    with store.reading() as cur:
        orphans = cur.execute(
            "SELECT e.id, e.audit_id FROM events e LEFT JOIN audit_log a ON a.id = e.audit_id "
            "WHERE e.audit_id IS NOT NULL AND a.id IS NULL ORDER BY e.id LIMIT 100").fetchall()
    return Verified(report, [(int(e), int(a)) for e, a in orphans])


def registered_by(store: Store, model: str, version: str) -> str | None:
    """Who trained or logged `model` `version`: the actor of its registration entry."""
    with store.reading() as cur:
        row = cur.execute(
            "SELECT actor FROM audit_log WHERE action IN ('model.register', 'model.log') "
            "AND subject = ? AND json_extract_string(details, '$.version') = ? "
            "ORDER BY id LIMIT 1", [f"model:{model}", version]).fetchone()
    return row[0] if row else None
