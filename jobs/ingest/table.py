"""The data of a file once read: in memory, or (large files) already written as Parquet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jobs.ingest import snapshot
from jobs.ingest.dtypes import from_polars, normalize
from jobs.ingest.issues import Rejected, issue
from jobs.ingest.vocab import DTYPES

ROW = "__ingest_row"
"""A temporary row-number column (1-based) for finding the rows an issue names."""


@dataclass
class Table:
    data: pl.LazyFrame
    """The coerced data: over the frame in memory, or over the Parquet already written."""
    frame: pl.DataFrame | None
    written: Path | None
    schema: dict[str, str]

    @property
    def engine(self) -> str:
        """The polars engine for queries on `data`. Its default (streaming) engine gets
        quadratic in the number of quantile expressions (10,000 columns: minutes)."""
        return "in-memory" if self.frame is not None else "streaming"


class Finish:
    """Runs a read plan: collect it, or (large files) sink it to `out` as Parquet; `prepare`
    is the last step before (it may read the data to check it, and raise Rejected)."""

    def __init__(self, streaming: bool, out: Path, order: Callable[[list[str]], list[str]],
                 prepare: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None):
        self.streaming, self.out, self.order, self.prepare = streaming, out, order, prepare

    def __call__(self, plan: pl.LazyFrame) -> Table:
        plan = plan.select(self.order(plan.collect_schema().names()))
        if self.streaming:
            (self.prepare(plan) if self.prepare else plan).sink_parquet(
                self.out, **snapshot.OPTIONS)
            data = pl.scan_parquet(self.out)
            return Table(data, None, self.out, vocabulary(data))
        frame = plan.collect(engine="in-memory")
        if self.prepare:  # on the data read once, in memory
            frame = self.prepare(frame.lazy()).collect(engine="in-memory")
        return Table(frame.lazy(), frame, None, vocabulary(frame.lazy()))


def vocabulary(data: pl.LazyFrame) -> dict[str, str]:
    return {c: from_polars(t) or "string" for c, t in data.collect_schema().items()}


def normalized(plan: pl.LazyFrame) -> pl.LazyFrame:
    """Every column in its vocabulary dtype; Rejected for columns that have none."""
    schema = plan.collect_schema()
    unsupported = [(c, t) for c, t in schema.items() if from_polars(t) is None]
    if unsupported:
        raise Rejected(*(issue(
            "dtype", f"column '{c}' holds {t} values, which ingest does not support "
            f"(supported: {', '.join(DTYPES)}); flatten or convert it upstream", column=c,
            rule={"dtype": str(t)}) for c, t in unsupported))
    return plan.select(normalize(c, t).alias(c) for c, t in schema.items())


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
