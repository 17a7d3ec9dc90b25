"""The store's part of a backup: a consistent copy of the metadata file, and what that copy
says (its schema version, the audit chain's head, what each model serves), read from the
copy itself so the facts and the data are of the same instant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from store.db import Store


@dataclass(frozen=True)
class CopyFacts:
    schema_version: int
    audit_head: str | None
    audit_entries: int
    aliases: dict[str, dict[str, str]]
    """model → alias → version."""


def consistent_copy(store: Store, dest: Path) -> CopyFacts:
    store.copy_to(dest)
    con = duckdb.connect(str(dest), read_only=True)
    try:
        (schema,) = con.execute("SELECT max(version) FROM schema_version").fetchone()
        head = con.execute("SELECT entry_hash FROM audit_log ORDER BY id DESC LIMIT 1"
                           ).fetchone()
        (entries,) = con.execute("SELECT count(*) FROM audit_log").fetchone()
        aliases: dict[str, dict[str, str]] = {}
        for model, alias, version in con.execute(
                "SELECT model, alias, version FROM model_aliases ORDER BY model, alias"
        ).fetchall():
            aliases.setdefault(model, {})[alias] = version
    finally:
        con.close()
    return CopyFacts(int(schema), head[0] if head else None, int(entries), aliases)
