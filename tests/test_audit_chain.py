"""The audit log is a hash chain no one can quietly edit (issue 14, part 4): an entry changed
or deleted directly in the store is found and named, by the daemon (`mlops audit verify`)
and on an exported file with no daemon (`mlops audit verify --file`)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import orjson
import pytest

from mlopsd.client.errors import ApiError
from store import audit
from store.audit_chain import GENESIS
from store.db import AUDIT_CHAIN_VERSION, open_store
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

EXAMPLES = Path(__file__).resolve().parents[1] / "examples/bikeshare"


def _entries(store, n: int) -> None:
    for i in range(n):
        audit.append(store, actor=f"someone-{i}", action="model.promote",
                     subject="model:riders", reason=f"why {i}",
                     details={"version": f"1.{i}.0", "score": 0.1 * i, "tags": ["a", "é"],
                              "none": None})


def test_entries_chain_and_a_changed_or_removed_entry_is_named(tmp_path: Path) -> None:
    store = open_store(tmp_path / "meta.duckdb")
    _entries(store, 6)
    found = audit.verify(store)
    assert found.ok and found.chain.entries == 6 and found.chain.last_id == 6
    head = found.chain.head
    rows = {r[0]: r[1:] for r in store._con.execute(
        "SELECT id, prev_hash, entry_hash FROM audit_log ORDER BY id").fetchall()}
    assert rows[1][0] == GENESIS and all(rows[i][0] == rows[i - 1][1] for i in range(2, 7))
    assert head == rows[6][1]

    # The store reopened: the chain goes on from its stored head.
    store.close()
    store = open_store(tmp_path / "meta.duckdb")
    _entries(store, 1)
    assert audit.verify(store).ok

    with store.transaction() as cur:
        cur.execute("UPDATE audit_log SET reason = 'nobody asked' WHERE id = 2")
        cur.execute("DELETE FROM audit_log WHERE id = 4")
        cur.execute("INSERT INTO audit_log (id, occurred_at, actor, action, subject) "
                    "VALUES (99, now(), 'intruder', 'model.promote', 'model:riders')")
    problems = dict(audit.verify(store).chain.problems)
    assert "changed after it was written" in problems[2]
    assert "does not link to entry 3" in problems[5] and "removed" in problems[5]
    assert "not sealed" in problems[99]
    assert set(problems) == {2, 5, 99}, problems  # entry 3 links to 2 as stored: not named


def test_a_removed_last_entry_is_found_by_its_event(tmp_path: Path) -> None:
    store = open_store(tmp_path / "meta.duckdb")
    _entries(store, 3)
    with store.transaction() as cur:
        cur.execute("INSERT INTO events VALUES (1, now(), 'model.promoted', '{}', 3)")
        cur.execute("DELETE FROM audit_log WHERE id = 3")
    found = audit.verify(store)
    assert found.chain.ok and not found.ok
    assert found.orphan_events == [(1, 3)]


def test_the_upgrade_seals_the_entries_an_older_release_wrote(tmp_path: Path) -> None:
    path = tmp_path / "meta.duckdb"
    old = open_store(path, upto=AUDIT_CHAIN_VERSION - 1)
    with old.transaction() as cur:
        for i in range(3):
            cur.execute("INSERT INTO audit_log (occurred_at, actor, action, subject, details) "
                        "VALUES (now(), 'cli', 'model.promote', 'model:riders', ?)",
                        [orjson.dumps({"i": i, "x": 1.5}).decode()])
    old.close()
    store = open_store(path)
    _entries(store, 2)
    found = audit.verify(store)
    assert found.ok and found.chain.entries == 5
    assert list(path.parent.glob("meta.duckdb.pre-v*.bak")), "the upgrade keeps a copy"


def _drop(d: DaemonProcess, name: str, n: int, lines: int) -> None:
    folder = d.home.inbox / "bikes"
    folder.mkdir(parents=True, exist_ok=True)
    text = (EXAMPLES / "bikeshare-2011-hourly.csv").read_text().splitlines(keepends=True)
    staged = d.home.root / name
    staged.write_text("".join(text[:lines]))
    staged.rename(folder / name)  # whole, as an upstream system drops it
    wait_until(lambda: _versions(d) >= n, timeout=60, what=f"bikes@{n}")


def _versions(d: DaemonProcess) -> int:
    assert d.client is not None
    try:
        return len(d.client.list_versions("bikes"))
    except ApiError:  # the dataset is made by the first commit
        return 0


@pytest.fixture
def audited(home: Path):
    """A daemon whose log holds real entries: two drops (dataset.create, data.commit)."""
    d = DaemonProcess(home).start()
    try:
        _drop(d, "a.csv", 1, lines=2000)
        _drop(d, "b.csv", 2, lines=1000)
        yield d
    finally:
        d.kill()


def test_verify_export_and_a_tampered_store_or_file(audited: DaemonProcess,
                                                    tmp_path: Path) -> None:
    d, home = audited, audited.home.root
    ok = run_mlops(home, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit chain: ok" in ok.stdout and "head " in ok.stdout

    export = tmp_path / "audit.jsonl"
    done = run_mlops(home, "audit", "export", "--out", str(export))
    assert done.returncode == 0, done.stderr
    head = done.stdout.strip()
    assert head in ok.stdout, "the export's head is the daemon's"
    assert "from the log's first entry" in done.stderr
    records = [orjson.loads(line) for line in export.read_text().splitlines()]
    actions = [r["action"] for r in records]
    assert actions[:2] == ["token.create", "daemon.start"], actions  # the owner's, at first start
    assert actions.count("data.commit") == 2, actions
    assert records[0]["prev_hash"] == GENESIS

    offline = run_mlops(home, "audit", "verify", "--file", str(export))
    assert offline.returncode == 0 and head in offline.stdout, offline.stdout

    as_csv = tmp_path / "audit.csv"
    assert run_mlops(home, "audit", "export", "--out", str(as_csv)).returncode == 0
    rows = list(csv.DictReader(as_csv.open()))
    assert [int(r["id"]) for r in rows] == [r["id"] for r in records]
    assert run_mlops(home, "audit", "verify", "--file", str(as_csv)).returncode == 0

    # A reviewer's copy edited: the entry is named.
    records[1]["reason"] = "nothing to see"
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(orjson.dumps(r).decode() + "\n" for r in records))
    bad = run_mlops(home, "audit", "verify", "--file", str(forged))
    assert bad.returncode == 1
    assert f"entry {records[1]['id']}: changed after it was written" in bad.stdout

    # The store edited while the daemon was down: the restarted daemon names the entry.
    d.stop()
    con = duckdb.connect(str(d.home.root / "meta.duckdb"))
    created = records[actions.index("dataset.create")]["id"]
    at = actions.index("data.commit")
    before, committed, after = (records[at + i]["id"] for i in (-1, 0, 1))
    con.execute("UPDATE audit_log SET actor = 'someone else' WHERE id = ?", [created])
    con.execute("DELETE FROM audit_log WHERE id = ?", [committed])
    con.close()
    d.start()
    broken = run_mlops(home, "audit", "verify")
    assert broken.returncode == 1, broken.stdout
    assert f"entry {created}: changed after it was written" in broken.stdout
    assert f"entry {after}: does not link to entry {before}" in broken.stdout
    assert "audit chain: BROKEN" in broken.stdout
    # The removed data.commit had an event: it names the missing entry too.
    assert f"names audit entry {committed}" in broken.stdout


def test_export_since_links_to_the_entry_before(audited: DaemonProcess,
                                                tmp_path: Path) -> None:
    home = audited.home.root
    assert audited.client is not None
    entries = list(reversed(list(audited.client.audit(limit=100))))
    since = entries[1].at
    out = tmp_path / "since.jsonl"
    done = run_mlops(home, "audit", "export", "--out", str(out), "--since", since.isoformat())
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["id"] == entries[1].id
    assert "linking to the entry before it by" in done.stderr
    bad_time = run_mlops(home, "audit", "export", "--out", str(out), "--since", "yesterday")
    assert bad_time.returncode == 2 and "--since 'yesterday': not a time" in bad_time.stderr
