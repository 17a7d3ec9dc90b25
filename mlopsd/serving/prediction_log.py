"""Logging predictions off the request path.

A request hands its entry to a bounded queue and returns; a writer thread turns entries
into one row per scored row and inserts them in batches (one transaction per batch). When
the queue is full the entry is dropped and counted, and the sampling rate halves so that
the log keeps a fair sample of traffic instead of stalling requests; it climbs back as the
queue drains. A request never waits on the store and never fails because of the log.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from store import predictions as prediction_repo
from store.db import Store

log = logging.getLogger("mlops.serving.log")

_BATCH_ROWS = 20_000


@dataclass
class Entry:
    request_id: str
    model: str
    version: str
    served_as: str
    at: datetime
    latency_ms: float
    records: Any
    """The input rows (a list of dicts), or a callable that builds them."""
    answer: dict[str, Any]
    first_row: int = 0
    """Row index of the first row (a stream logs each line as its own entry)."""
    ignored: list[str] = field(default_factory=list)
    """Input columns the model does not use."""
    unseen: dict[str, int] = field(default_factory=dict)
    """Per categorical input, the rows with a category the model never saw."""


class PredictionLogger:
    def __init__(self, store: Store, *, sample: float = 1.0, queue_size: int = 10_000,
                 max_rows: int = 200_000, flush_s: float = 0.2) -> None:
        self.store = store
        self.sample = sample
        self.rate = sample
        self.offered = self.logged_rows = self.dropped = self.unsampled = 0
        self._queue: queue.Queue[Entry | None] = queue.Queue(queue_size)
        self._queue_size = queue_size
        self._max_rows = max_rows
        self._queued_rows = 0
        """Rows waiting, whatever the number of entries: memory is bounded by rows (a
        10,000-row request holds 10,000 input dicts until it is written)."""
        self._rows_lock = threading.Lock()
        self.input_issues: dict[str, dict[str, dict[str, int]]] = {}
        """Per model, what its requests sent that it could not use, counted for every
        request offered (sampled or not): per column, the requests that sent a column it
        ignores (`ignored_columns`) and the rows with a category it never saw
        (`unseen_categories`)."""
        self._flush_s = flush_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the writer."""
        if self._thread.is_alive():
            self._stopped.set()
            self._queue.put(None)
            self._thread.join(timeout=10)

    def offer(self, entry: Entry) -> None:
        self.offered += 1
        if entry.ignored or entry.unseen:
            self._count_issues(entry)
        if self.rate < 1.0 and random.random() >= self.rate:
            self.unsampled += 1
            return
        rows = len(entry.answer.get("predictions", ()))
        with self._rows_lock:
            full = self._queued_rows + rows > self._max_rows
            if not full:
                self._queued_rows += rows
        try:
            if full:
                raise queue.Full
            self._queue.put_nowait(entry)
        except queue.Full:
            if not full:
                with self._rows_lock:
                    self._queued_rows -= rows
            self.dropped += 1
            self.rate = max(0.01, self.rate / 2)

    def _count_issues(self, entry: Entry) -> None:
        with self._rows_lock:
            issues = self.input_issues.setdefault(
                entry.model, {"ignored_columns": {}, "unseen_categories": {}})
            ignored, unseen = issues["ignored_columns"], issues["unseen_categories"]
            for column in entry.ignored:
                ignored[column] = ignored.get(column, 0) + 1
            for column, rows in entry.unseen.items():
                unseen[column] = unseen.get(column, 0) + rows

    def stats(self) -> dict[str, Any]:
        with self._rows_lock:
            issues = {model: {kind: dict(counts) for kind, counts in found.items()}
                      for model, found in self.input_issues.items()}
        return {"offered": self.offered, "logged_rows": self.logged_rows,
                "dropped": self.dropped, "unsampled": self.unsampled,
                "sample_rate": self.rate, "queued": self._queue.qsize(),
                "queued_rows": self._queued_rows, "input_issues": issues}

    # --- the writer -----------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._flush_s)
            except queue.Empty:
                self._recover()
                continue
            batch: list[Entry] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
                # Let entries gather: one commit per interval, not one per request (a commit
                # costs ~1 ms of fsync and holds the store lock the control API also needs).
                self._stopped.wait(self._flush_s)
            rows = 0
            while rows < _BATCH_ROWS:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    stopping = True
                    continue
                batch.append(entry)
                rows += len(entry.answer.get("predictions", ()))
            if batch:
                self._write(batch)
            self._recover()

    def _recover(self) -> None:
        """Sample more again (doubling) once the queue is mostly empty."""
        if self.rate < self.sample and self._queue.qsize() <= self._queue_size // 4:
            self.rate = min(self.sample, self.rate * 2)

    def _write(self, batch: list[Entry]) -> None:
        with self._rows_lock:
            self._queued_rows -= sum(len(e.answer.get("predictions", ())) for e in batch)
        columns = prediction_repo.PredictionColumns()
        try:
            for entry in batch:
                _expand(entry, columns)
            self.logged_rows += prediction_repo.insert_predictions(self.store, columns)
        except Exception:
            # The log must never take serving down; what was lost is counted.
            self.dropped += len(batch)
            log.exception("could not write %s prediction log entries", len(batch))


def _expand(entry: Entry, columns: prediction_repo.PredictionColumns) -> None:
    records = entry.records() if callable(entry.records) else entry.records
    answer = entry.answer
    predictions = answer.get("predictions", [])
    labels = answer.get("labels")
    for i, prediction in enumerate(predictions):
        output: dict[str, Any] = {"prediction": prediction}
        if labels is not None:
            output["label"] = labels[i]
        columns.request_id.append(entry.request_id)
        columns.row_index.append(entry.first_row + i)
        columns.model.append(entry.model)
        columns.version.append(entry.version)
        columns.served_as.append(entry.served_as)
        columns.predicted_at.append(entry.at)
        columns.latency_ms.append(entry.latency_ms)
        columns.inputs.append(orjson.dumps(records[i], default=str).decode()
                              if i < len(records) else "null")
        columns.output.append(orjson.dumps(output).decode())
