"""Tokens: a name, a role and the SHA-256 of the secret (never the secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Store, utcnow
from store.rows import aware

_COLUMNS = "name, role, secret_hash, created_at, created_by, revoked_at, revoked_by"


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    secret_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None


def _token(r: tuple) -> Token:
    return Token(r[0], r[1], r[2], aware(r[3]), r[4], aware(r[5]), r[6])


def list_tokens(store: Store) -> list[Token]:
    with store.reading() as cur:
        return [_token(r) for r in cur.execute(
            f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, name").fetchall()]


def get(store: Store, name: str) -> Token | None:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM tokens WHERE name = ?", [name]).fetchone()
    return _token(row) if row else None


def insert(store: Store, *, name: str, role: str, secret_hash: str, by: str) -> Token:
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL) "
            f"RETURNING {_COLUMNS}", [name, role, secret_hash, utcnow(), by]).fetchone()
    return _token(row)


def replace_secret(store: Store, name: str, secret_hash: str) -> None:
    with store.transaction() as cur:
        cur.execute("UPDATE tokens SET secret_hash = ?, revoked_at = NULL, revoked_by = NULL "
                    "WHERE name = ?", [secret_hash, name])


def revoke(store: Store, name: str, *, by: str) -> Token:
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE name = ? "
            f"RETURNING {_COLUMNS}", [utcnow(), by, name]).fetchone()
    return _token(row)
