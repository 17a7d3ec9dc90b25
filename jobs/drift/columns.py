"""The rows of some data versions (their Parquet snapshots), read a column at a time.

A drift check needs one column at a time (its profile, its verdict) and a sample of whole
rows (the model's scores): holding every column of both sides at once took 0.57 GB per
million rows. Each snapshot's hash is checked once, on a thread of its own while the
columns are read; `checked()` waits for it, and the job calls it before it writes anything,
so nothing is concluded from a corrupt snapshot.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from jobs.context import JobContext

PREDICTION_SAMPLE = 100_000
READ_BYTES = 64 << 20
"""Columns are read together up to about this many bytes (8 a value): 1M rows, 8 columns
at once; 10M rows, one."""


def sample_positions(height: int) -> np.ndarray | None:
    """At most PREDICTION_SAMPLE rows, spread evenly (the same rows every time); None: all."""
    if height <= PREDICTION_SAMPLE:
        return None
    return np.linspace(0, height - 1, PREDICTION_SAMPLE).astype(np.int64)


class Rows:
    """Data versions' rows, in order; a column missing from a version is null there (as a
    diagonal concatenation of the versions would have it).

    `rows[name]` is one column, all rows. Columns asked for in the order given to `plan`
    are read several at a time (one read of many columns is faster than as many reads of
    one) up to READ_BYTES, each handed out once; as each is handed out its rows of the
    evenly spread sample are kept, so that `sample` reads nothing again."""

    def __init__(self, items: list[dict[str, Any]], ctx: JobContext) -> None:
        import polars as pl

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
        self._checks: list[Future[Path]] = [self._pool.submit(ctx.artifacts.verify, sha)
                                            for sha in (i["snapshot_sha"] for i in items)]
        self.paths = [ctx.artifacts.path(i["snapshot_sha"]) for i in items]
        self._schemas = [pl.read_parquet_schema(p) for p in self.paths]
        self._heights = [pl.scan_parquet(p).select(pl.len()).collect().item()
                         for p in self.paths]
        self.height = sum(self._heights)
        self.columns = list(dict.fromkeys(c for s in self._schemas for c in s))
        self._positions = sample_positions(self.height)
        self._order: list[str] = []
        self._batch: dict[str, Any] = {}
        self._sampled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def checked(self) -> None:
        """Wait for the snapshots' hashes: raises ArtifactError for a corrupt one."""
        for check in self._checks:
            check.result()
        self._pool.shutdown()

    def plan(self, names: list[str]) -> None:
        """The order in which columns will be asked for."""
        self._order = [n for n in names if n in self.columns]

    def __getitem__(self, name: str) -> Any:
        """One column, all rows (a polars Series)."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r} in the data")
        with self._lock:  # the columns' threads ask in turn; one reads for both
            if name not in self._batch:
                at = self._order.index(name) if name in self._order and (
                    name not in self._sampled) else None  # asked again: that one alone
                names = [name] if at is None else self._order[
                    at: at + max(1, READ_BYTES // (8 * max(self.height, 1)))]
                read = self.frame([n for n in names if n not in self._batch])
                self._batch.update((n, read[n]) for n in read.columns)
                del read
            column = self._batch.pop(name)
            if name not in self._sampled:
                self._sampled[name] = column if self._positions is None else column.gather(
                    self._positions)
        return column

    def counts(self, name: str) -> dict[str, int]:
        """The column's values (as text) and how often each occurs, nulls left out, by a
        streaming group-by of each version: memory grows with the distinct values, not the
        rows (10M rows of 5 cities: 0.17 s, 47 MB; a read and `value_counts`, 470 MB, and
        seconds on a busy machine)."""
        import polars as pl

        dtypes = {s[name] for s in self._schemas if name in s}
        if len(dtypes) > 1:  # the versions' dtypes differ: their concatenation decides
            found = self[name].cast(pl.String).drop_nulls().value_counts()
            return {str(k): int(v) for k, v in found.iter_rows()}
        total: dict[str, int] = {}
        for path, schema in zip(self.paths, self._schemas, strict=True):
            if name not in schema:
                continue
            found = (pl.scan_parquet(path).select(pl.col(name).cast(pl.String).alias("v"))
                     .drop_nulls().group_by("v").agg(pl.len().alias("n"))
                     .collect(engine="streaming"))
            for value, n in found.iter_rows():
                total[value] = total.get(value, 0) + int(n)
        return total

    def sample(self, names: list[str]) -> Any:
        """These columns at most PREDICTION_SAMPLE rows spread evenly (`sample_positions`)."""
        import polars as pl

        missing = [n for n in names if n in self.columns and n not in self._sampled]
        if missing:
            read = self.frame(missing, self._positions)
            self._sampled.update((n, read[n]) for n in read.columns)
        return pl.DataFrame([self._sampled[n] for n in names if n in self.columns])

    def frame(self, names: list[str], positions: np.ndarray | None = None) -> Any:
        """These columns (those the versions have) at these row positions (all rows: None),
        read a few at a time and gathered as read: only the rows kept stay in memory."""
        import polars as pl

        wanted = [n for n in names if n in self.columns]
        parts, start = [], 0
        for path, schema, height in zip(self.paths, self._schemas, self._heights,
                                        strict=True):
            at = None if positions is None else positions[
                (positions >= start) & (positions < start + height)] - start
            start += height
            if at is not None and len(at) == 0:
                continue
            columns = {}
            present = [n for n in wanted if n in schema]
            per_read = max(1, READ_BYTES // (8 * max(height, 1)))
            for first in range(0, len(present), per_read):
                read = pl.read_parquet(path, columns=present[first:first + per_read])
                for name in read.columns:
                    columns[name] = read[name] if at is None else read[name].gather(at)
                del read
            kept = height if at is None else len(at)
            parts.append(pl.DataFrame([columns[n] if n in columns else pl.repeat(
                None, kept, eager=True).alias(n) for n in wanted], height=kept))
        if not parts:
            return pl.DataFrame({n: [] for n in wanted})
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
