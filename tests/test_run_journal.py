"""The whole-run journal: an acknowledged run is never lost, whatever the moment of a crash,
and a torn record (never acknowledged) is dropped."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import orjson

from mlopsd.runtime.events import EventBus
from mlopsd.runtime.run_journal import RunJournal
from store import run_search
from store import runs as run_repo
from store.db import Store, open_store

CHILD = """
import os, sys
from pathlib import Path
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.run_journal import RunJournal
from store import runs as run_repo
from store.db import open_store
store = open_store(Path(sys.argv[1]))
bus = EventBus()
bus.attach(store)
journal = RunJournal(store, Path(sys.argv[2]), bus)
journal.start()
for i in range(200):
    journal.append(run_repo.new_run(run_id=f"{i:032x}", experiment="crash", state="finished",
                                    params={"i": i}, metrics=[("loss", 1 / (i + 1), 0, None)]))
    print(i, flush=True)  # acknowledged
os._exit(0)  # no clean-up at all: as if killed
"""


def test_every_acknowledged_run_survives_a_crash(tmp_path: Path) -> None:
    db, folder = tmp_path / "meta.duckdb", tmp_path / "journal"
    open_store(db).close()
    out = subprocess.run([sys.executable, "-c", CHILD, str(db), str(folder)],
                         capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    acknowledged = len(out.stdout.split())
    assert acknowledged == 200
    store = open_store(db)
    journal = RunJournal(store, folder, _bus(store))
    journal.start()
    try:
        found = run_search.search_runs(store, experiment="crash", limit=1000).items
        assert len(found) == acknowledged
        run = run_repo.get_run(store, f"{7:032x}")
        assert run.state == "finished" and run.params == {"i": "7"}
        assert run.metrics == {"loss": 1 / 8}
        assert len(list(folder.glob("*.journal"))) == 1, "applied segments are gone"
    finally:
        journal.stop()
        store.close()


def test_a_torn_record_is_dropped_and_the_rest_applied(tmp_path: Path) -> None:
    db, folder = tmp_path / "meta.duckdb", tmp_path / "journal"
    store = open_store(db)
    journal = RunJournal(store, folder, _bus(store))
    journal.start()
    for i in range(3):
        journal.append(run_repo.new_run(run_id=f"{i:032x}", experiment="torn",
                                        state="finished"))
    journal.stop()
    # A crash in the middle of an append leaves a partial record at the end of a segment.
    segment = folder / "runs-00000099.journal"
    whole = run_repo.new_run(run_id=f"{9:032x}", experiment="torn", state="finished")
    data = orjson.dumps(whole.to_json())
    record = struct.pack("<II", len(data), zlib.crc32(data)) + data
    segment.write_bytes(record + record[: len(record) // 2])
    journal = RunJournal(store, folder, _bus(store))
    journal.start()
    try:
        ids = {r.id for r in run_search.search_runs(store, experiment="torn").items}
        assert ids == {f"{i:032x}" for i in (0, 1, 2, 9)}
        assert not segment.exists()
    finally:
        journal.stop()
        store.close()


def _bus(store: Store) -> EventBus:
    bus = EventBus()
    bus.attach(store)
    return bus
