"""Group commit for whole runs: the SDK sends a short run as one request at its end, and a
script that makes hundreds of them in a row would otherwise pay a DuckDB transaction each
(~4 ms: statements and a commit), most of the time it takes.

A whole run is appended to a journal file (length, CRC-32, JSON; fsync: ~0.2 ms) and only
then acknowledged. A writer thread applies what has gathered to the store in one
transaction every few milliseconds, then deletes the journal segment it came from. Reads of
runs call `sync()` first, which applies whatever is pending at once: a client always reads
what it was told is stored. On start, segments left by a crash are applied (runs already in
the store are skipped); a torn last record was never acknowledged and is dropped.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from pathlib import Path

import duckdb
import orjson

from mlopsd.client.events import RunEnded, RunStarted
from mlopsd.runtime.events import EventBus
from store import runs as run_repo
from store.db import Store
from store.errors import Conflict

log = logging.getLogger("mlops.run_journal")

_HEADER = struct.Struct("<II")  # length, crc32 of the JSON bytes
_APPLY_EVERY_S = 0.02


class RunJournal:
    def __init__(self, store: Store, folder: Path, bus: EventBus) -> None:
        self.store, self.folder, self.bus = store, folder, bus
        self._lock = threading.Lock()  # appends and segment swaps
        self._apply_lock = threading.Lock()  # one applier at a time
        self._pending: list[run_repo.NewRun] = []
        self._pending_ids: set[str] = set()
        self._segment = 0
        self._file: object | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-journal", daemon=True)

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._recover()
        self._open_segment()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.sync()
        with self._lock:
            self._close_segment(delete=not self._pending)

    # --- writing --------------------------------------------------------------------------

    def append(self, run: run_repo.NewRun) -> run_repo.Run:
        """Durable when this returns; in the store within milliseconds (or at `sync`)."""
        data = orjson.dumps(run.to_json())
        record = _HEADER.pack(len(data), zlib.crc32(data)) + data
        with self._lock:
            # Only the journal's own pending ids are checked here: a look-up in the store
            # would wait for the applier's transaction and undo the point of the journal.
            # A run already stored under this id (a retried request) is skipped when the
            # journal is applied.
            if run.id in self._pending_ids:
                raise Conflict(f"a run with id {run.id} exists already")
            assert self._file is not None
            self._file.write(record)  # type: ignore[attr-defined]
            self._file.flush()  # type: ignore[attr-defined]
            os.fsync(self._file.fileno())  # type: ignore[attr-defined]
            self._pending.append(run)
            self._pending_ids.add(run.id)
        self._wake.set()
        return run.record()

    def sync(self) -> None:
        """Apply everything acknowledged so far, now."""
        self._apply()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            # Let runs that arrive back to back gather: one transaction for all of them.
            self._stop.wait(_APPLY_EVERY_S)
            try:
                self._apply()
            except Exception:
                log.exception("applying journalled runs failed; they stay in the journal "
                              "and are retried")
                self._stop.wait(1.0)
                self._wake.set()

    def _apply(self) -> None:
        with self._apply_lock:
            with self._lock:
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._close_segment(delete=False)
                self._open_segment()
            try:
                _insert(self.store, self.bus, batch)
            except Exception:
                with self._lock:  # keep them for the next try, in order
                    self._pending[:0] = batch
                raise
            with self._lock:
                self._pending_ids.difference_update(r.id for r in batch)
                current = self._segment
            # Every segment before the current one is applied now (including any kept by an
            # earlier failed try).
            for path in self.folder.glob("runs-*.journal"):
                if int(path.stem.split("-")[1]) < current:
                    path.unlink(missing_ok=True)

    # --- segments -------------------------------------------------------------------------

    def _segment_path(self, n: int) -> Path:
        return self.folder / f"runs-{n:08d}.journal"

    def _open_segment(self) -> None:
        self._segment += 1
        self._file = open(self._segment_path(self._segment), "ab")  # noqa: SIM115

    def _close_segment(self, *, delete: bool) -> Path | None:
        if self._file is None:
            return None
        self._file.close()  # type: ignore[attr-defined]
        self._file = None
        path = self._segment_path(self._segment)
        if delete:
            path.unlink(missing_ok=True)
        return path

    def _recover(self) -> None:
        segments = sorted(self.folder.glob("runs-*.journal"))
        if segments:
            self._segment = max(int(p.stem.split("-")[1]) for p in segments)
        runs = [run for path in segments for run in _read(path)]
        fresh = [r for r in runs if not run_repo.run_exists(self.store, r.id)]
        if fresh:
            _insert(self.store, self.bus, fresh)
            log.info("applied %s journalled run(s) left by the last run of the daemon",
                     len(fresh))
        for path in segments:
            path.unlink()


def _insert(store: Store, bus: EventBus, runs: list[run_repo.NewRun]) -> None:
    """The runs and their events (`run.started`, `run.ended`) in one transaction."""
    try:
        with store.transaction() as cur:
            run_repo.insert_new_runs(cur, runs)
            for run in runs:
                _announce(bus, run)
    except duckdb.ConstraintException:
        # Two journalled runs cannot share an id (append refuses it); a clash means one was
        # stored meanwhile by the other path: apply them one by one, skipping that one.
        for run in runs:
            try:
                with store.transaction() as cur:
                    run_repo.insert_new_run(cur, run)
                    _announce(bus, run)
            except duckdb.ConstraintException:
                log.warning("journalled run %s was already stored; skipped", run.id)


def _announce(bus: EventBus, run: run_repo.NewRun) -> None:
    bus.publish(RunStarted(run_id=run.id, experiment=run.experiment, model=run.model))
    bus.publish(RunEnded(run_id=run.id, state=run.state))


def _read(path: Path) -> list[run_repo.NewRun]:
    data = path.read_bytes()
    runs, at = [], 0
    while at + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, at)
        body = data[at + _HEADER.size: at + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            log.warning("%s: a torn record at byte %s (never acknowledged) is dropped",
                        path.name, at)
            break
        runs.append(run_repo.NewRun.from_json(orjson.loads(body)))
        at += _HEADER.size + length
    return runs
