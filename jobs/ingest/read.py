"""Read a (decompressed) file into columns of the planned dtypes.

The fast path hands polars the whole schema and lets its multithreaded parser do the work;
only when that fails do the slow scans run, to say which column, rows and values are wrong.
Files over STREAMING_BYTES are never held in memory: the plan is sunk straight to Parquet.
"""

from __future__ import annotations

from pathlib import Path

from jobs.ingest import read_csv, read_typed, times
from jobs.ingest.schema import Plan
from jobs.ingest.table import Finish, Table

STREAMING_BYTES = 512 << 20
"""Above this (uncompressed) size, stream to Parquet instead of reading into memory."""


def load(path: Path, fmt: str, plan: Plan, delimiter: str, *, streaming: bool, out: Path) -> Table:
    column = plan.time_column
    finish = Finish(streaming, out, plan.order, (
        lambda data: times.typed_time_column(data, column)) if column else None)
    if fmt == "csv":
        return read_csv.read(path, plan, delimiter, finish)
    return read_typed.read(path, fmt, plan, finish)
