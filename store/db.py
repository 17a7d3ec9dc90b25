"""Opening the DuckDB metadata store, its numbered migrations and its transactions.

Only the daemon process calls `open_store`. One connection is shared by the daemon's
threads; each transaction takes a lock and a cursor of its own, because a DuckDB
connection is not thread-safe and funnelling writes through one lock also avoids
write-write conflicts (see ../shared/TRAPS.md).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from store.errors import DiskFull, StoreError, is_disk_full

log = logging.getLogger("mlops.store")

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# DuckDB writes this magic at byte 8 of every database file it creates.
_DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """All shipped migrations, in version order; versions are 1, 2, 3… without gaps."""
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {expected:04d} is missing (found {migration.name})")
    return found


CHECKPOINT_THRESHOLD = "4MB"
"""The write-ahead log's size at which DuckDB checkpoints (its default is 16 MB). Until a
checkpoint, what was appended since (the prediction log, mostly) is held in memory as well:
at 80 requests/s the daemon's memory rose ~1.5 MiB a minute and fell ~16 MiB at each
checkpoint (the soak, `duckdb_memory()` sampled); at 4 MB the swing is a quarter of that."""

MEMORY_LIMIT = "1GB"
"""DuckDB's buffer pool (default: 80% of the machine's memory). It keeps the blocks of the
tables it has read, so without a bound the daemon's memory would follow the store's size
as the prediction log grows. Only the daemon's own queries use it (jobs read files, not
the store); a query that needs more spills to disk."""

AUDIT_CHAIN_VERSION = 12
"""The migration that made the audit log a hash chain: the entries already there are sealed
in it (a step in Python, after its SQL)."""


def latest_schema_version() -> int:
    return len(migrations())


def utcnow() -> datetime:
    """Naive UTC: the store keeps TIMESTAMP columns in UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Transaction:
    """The transaction open on a thread: its cursor, and what runs around its commit."""

    cur: duckdb.DuckDBPyConnection
    before_commit: list[Callable[[], None]] = field(default_factory=list)
    """Run inside the transaction just before COMMIT (e.g. the outbox's one INSERT)."""
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    """Run after COMMIT, still under the store's lock: what they see is in commit order."""
    after_rollback: list[Callable[[], None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    """Room for a part that adds to every transaction (the event outbox keeps its list)."""


class Store:
    """A migrated metadata store. Create it with `open_store`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._con = con
        self._lock = threading.RLock()
        self._local = threading.local()
        self.path = path

    def current(self) -> Transaction | None:
        """The transaction this thread has open, if any."""
        return getattr(self._local, "tx", None)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One store transaction: everything inside commits together or not at all.

        A transaction opened while this thread has one open joins it: a service writes its
        change, the audit entry and the event through repository functions that each say
        `with store.transaction()`, and they commit as one."""
        with self._lock:
            joined = self.current()
            if joined is not None:
                yield joined.cur
                return
            tx = Transaction(self._con.cursor())
            self._local.tx = tx
            committed = False
            try:
                tx.cur.execute("BEGIN TRANSACTION")
                try:
                    yield tx.cur
                    for hook in tx.before_commit:
                        hook()
                except BaseException:
                    tx.cur.execute("ROLLBACK")
                    raise
                tx.cur.execute("COMMIT")
                committed = True
            except duckdb.Error as exc:
                if is_disk_full(exc):
                    raise DiskFull("the disk holding the metadata store is full (no space "
                                   "left to write its log): nothing was changed; free space "
                                   "and retry") from exc
                raise
            finally:
                self._local.tx = None
                tx.cur.close()
                for hook in tx.after_commit if committed else tx.after_rollback:
                    try:
                        hook()
                    except Exception:  # the transaction stands; a hook's failure is its own
                        log.exception("after the store transaction")

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for reads that need no transaction of their own (inside this thread's
        open transaction, its cursor: the reads see what it wrote)."""
        with self._lock:
            joined = self.current()
            if joined is not None:
                yield joined.cur
                return
            cur = self._con.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def schema_version(self) -> int:
        with self.reading() as cur:
            return _schema_version(cur)

    def copy_to(self, dest: Path) -> None:
        """A consistent copy of the store as one file, while the daemon runs: every commit
        is checkpointed into the file, which is copied (and fsync'd) before any other
        transaction may begin. Writers wait for the copy (about a second per GB)."""
        with self._lock:
            with self._con.cursor() as cur:
                cur.execute("CHECKPOINT")
            tmp = dest.with_name(dest.name + ".tmp")
            shutil.copyfile(self.path, tmp)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(dest)

    def checkpoint(self) -> None:
        with self.reading() as cur:
            cur.execute("CHECKPOINT")

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    # A cursor closed at once: an unconsumed result on the shared connection would keep a
    # transaction open, and CHECKPOINT then refuses to run.
    with con.cursor() as cur:
        exists = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchall()
        if exists[0][0] == 0:
            return 0
        rows = cur.execute("SELECT max(version) FROM schema_version").fetchall()
    return int(rows[0][0]) if rows[0][0] is not None else 0


def _check_is_duckdb_file(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB gets a chance to touch it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        head = f.read(16)
    if head[8:12] != _DUCKDB_MAGIC:
        raise StoreError(
            f"{path} is not a DuckDB database (corrupt or replaced?); "
            "refusing to open it, nothing was changed. Restore it from a backup "
            "(meta.duckdb.pre-v*.bak beside it) or move it away to start afresh."
        )


def _apply(con: duckdb.DuckDBPyConnection, migration: Migration) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        if migration.version == 1:
            con.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)"
            )
        con.execute(migration.sql)
        if migration.version == AUDIT_CHAIN_VERSION:
            from store.audit import seal_unsealed  # it imports this module

            seal_unsealed(con)
        con.execute(
            "INSERT INTO schema_version VALUES (?, ?, ?)",
            [migration.version, migration.name, utcnow()],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _backup(path: Path, version: int) -> Path:
    backup = path.with_name(f"{path.name}.pre-v{version + 1}.bak")
    tmp = backup.with_name(backup.name + ".tmp")
    shutil.copyfile(path, tmp)
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    tmp.replace(backup)
    return backup


def open_store(path: Path, *, upto: int | None = None) -> Store:
    """Open (creating if absent) and migrate the store at `path`.

    `upto` stops migrating at that schema version; tests use it to build stores as every
    earlier release left them. Before migrating a store that already holds data, a copy is
    kept as `meta.duckdb.pre-vN.bak`, so a failed upgrade loses nothing.
    """
    path = Path(path)
    _check_is_duckdb_file(path)
    target = latest_schema_version() if upto is None else upto
    try:
        con = duckdb.connect(str(path))
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    except duckdb.Error as exc:
        raise StoreError(f"cannot open the metadata store {path}: {exc}") from exc
    try:
        current = _schema_version(con)
        latest = latest_schema_version()
        if current > latest:
            raise StoreError(
                f"{path} has schema version {current}, newer than this mlops "
                f"understands ({latest}); refusing to start, nothing was changed. "
                "Run the newer mlops release that wrote it."
            )
        pending = [m for m in migrations() if current < m.version <= target]
        if pending and current > 0:
            con.execute("CHECKPOINT")
            _backup(path, current)
        for migration in pending:
            _apply(con, migration)
        if pending:
            con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"cannot use the metadata store {path}: {exc}") from exc
    except BaseException:
        con.close()
        raise
    return Store(con, path)
