"""The metadata store: migrations from every earlier version, refusals, transactions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from store import audit
from store import jobs as job_repo
from store.db import latest_schema_version, migrations, open_store
from store.errors import Conflict, NotFound, StoreError

GOLDEN = Path(__file__).parent / "golden" / "schema.txt"


def schema_of(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'main' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    return "".join(f"{t}.{c} {d}{'' if n == 'YES' else ' NOT NULL'}\n" for t, c, d, n in rows)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fresh_store_matches_the_golden_schema(tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    open_store(db).close()
    actual = schema_of(db)
    assert actual == GOLDEN.read_text(), (
        "the schema differs from tests/golden/schema.txt.\n"
        "If the change is intended, add a migration (never edit a shipped one) and regenerate "
        "with: .venv/bin/python -m tests.regen_golden_schema"
    )


@pytest.mark.parametrize("start", range(latest_schema_version()))
def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    db = tmp_path / "meta.duckdb"
    old = open_store(db, upto=start)
    assert old.schema_version() == start
    if start >= 1:
        # Raw SQL with the columns of schema 1: the repositories speak the latest schema.
        with old.transaction() as cur:
            job_id = cur.execute(
                "INSERT INTO jobs (kind, params, state, idempotent, actor, created_at) "
                "VALUES ('selfcheck', '{\"seconds\": 1}', 'queued', true, 't', now()) "
                "RETURNING id"
            ).fetchone()[0]
            cur.execute(
                "INSERT INTO audit_log (occurred_at, actor, action, subject, reason) "
                "VALUES (now(), 't', 'test', 's', 'before upgrade')"
            )
    old.close()

    new = open_store(db)
    assert new.schema_version() == latest_schema_version()
    if start >= 1:
        assert job_repo.get_job(new, job_id).params == {"seconds": 1}
        assert audit.list_entries(new)[0].reason == "before upgrade"
        backup = db.with_name(f"meta.duckdb.pre-v{start + 1}.bak")
        assert backup.exists(), "an upgrade of a store with data keeps a backup"
    new.close()
    assert schema_of(db) == GOLDEN.read_text()


def test_migrations_are_numbered_without_gaps() -> None:
    assert [m.version for m in migrations()] == list(range(1, latest_schema_version() + 1))


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    store = open_store(db)
    with store.transaction() as cur:
        cur.execute("INSERT INTO schema_version VALUES (99, 'from_the_future', now())")
    store.checkpoint()
    store.close()
    before = digest(db)
    with pytest.raises(StoreError, match="schema version 99, newer"):
        open_store(db)
    assert digest(db) == before


def test_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    db.write_bytes(b"this is not a database" * 100)
    before = digest(db)
    with pytest.raises(StoreError, match="not a DuckDB database"):
        open_store(db)
    assert digest(db) == before
    assert not db.with_name("meta.duckdb.wal").exists()


def test_truncated_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    store = open_store(db)
    store.checkpoint()
    store.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError):
        open_store(db).close()


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "meta.duckdb")
    with pytest.raises(RuntimeError), store.transaction() as cur:
        cur.execute(
            "INSERT INTO audit_log (occurred_at, actor, action, subject) "
            "VALUES (now(), 'a', 'b', 'c')"
        )
        raise RuntimeError("boom")
    assert audit.list_entries(store) == []
    store.close()


def test_job_queue_order_and_state_changes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "meta.duckdb")
    a = job_repo.create_job(store, "selfcheck", {}, idempotent=True, actor="t")
    b = job_repo.create_job(store, "selfcheck", {}, idempotent=False, actor="t")
    assert job_repo.claim_next_queued(store).id == a.id
    assert job_repo.claim_next_queued(store).id == b.id
    assert job_repo.claim_next_queued(store) is None
    done = job_repo.finish_job(store, a.id, "succeeded", result={"ok": 1})
    assert done.state == "succeeded" and done.result == {"ok": 1} and done.ended_at
    with pytest.raises(Conflict, match="already succeeded"):
        job_repo.finish_job(store, a.id, "failed", error="late")
    interrupted = job_repo.interrupt_running(store, "crash")
    assert [j.id for j in interrupted] == [b.id]
    assert job_repo.get_job(store, b.id).state == "interrupted"
    with pytest.raises(NotFound):
        job_repo.get_job(store, 999)
    assert job_repo.count_by_state(store) == {"succeeded": 1, "interrupted": 1}
    store.close()
