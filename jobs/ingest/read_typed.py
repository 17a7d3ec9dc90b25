"""Parquet and NDJSON: the file has its own types; they are normalised, then the dataset's
declared dtypes are enforced. Where reading fails, the diagnostics say why and where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from jobs.ingest import infer, text
from jobs.ingest.dtypes import convert
from jobs.ingest.issues import Issue, Rejected, examples, issue
from jobs.ingest.schema import Plan
from jobs.ingest.table import ROW, Finish, Table, first_line, normalized, vocabulary


def read(path: Path, fmt: str, plan: Plan, finish: Finish) -> Table:
    if fmt == "parquet" and (problem := _parquet_marker_issue(path)):
        raise Rejected(problem)
    scans: list[Callable[[], pl.LazyFrame]]
    if fmt == "parquet":
        scans = [lambda: pl.scan_parquet(path)]
    else:
        scans = [lambda: pl.scan_ndjson(path, infer_schema_length=infer.SAMPLEROWS),
                 lambda: pl.scan_ndjson(path, infer_schema_length=None)]
    failure: BaseException | None = None
    for scan in scans:
        try:
            data = normalized(scan())
            if not finish.streaming:
                data = data.collect(engine="in-memory").lazy()  # read once, check in memory
            return finish(_coerce(data, plan))
        except (FileNotFoundError, Rejected):
            raise
        except Exception as exc:
            failure = exc
    problem = text.find_invalid_utf8(path) if fmt == "ndjson" else None
    if problem is None and fmt == "ndjson":
        problem = text.bad_json_line_issue(path)
    raise Rejected(problem or issue(
        "read", f"the file could not be read as {fmt}: {first_line(failure or Exception())}"))


def _parquet_marker_issue(path: Path) -> Issue | None:
    with path.open("rb") as f:
        head = f.read(4)
        size = f.seek(0, 2)
        f.seek(max(0, size - 4))
        tail = f.read(4)
    if size >= 12 and head == b"PAR1" and tail == b"PAR1":
        return None
    where = "start" if head != b"PAR1" else "end"
    return issue(
        "parquet", "the file is not a complete Parquet file: the 'PAR1' marker is missing "
        f"at its {where} (truncated, or another format named .parquet)")


def _coerce(data: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """Typed columns into the planned dtypes where the plan says so.

    Declared dtypes are enforced (values that would change are errors); integers widen to
    floats silently; any other difference stays, to be reported as a schema change.
    """
    source = vocabulary(data)
    moves = {
        c: (s, plan.wanted[c]) for c, s in source.items()
        if c in plan.wanted and s != plan.wanted[c]
        and (plan.is_declared(c) or (s, plan.wanted[c]) == ("int64", "float64"))
    }
    if not moves:
        return data
    lost = [
        (convert(pl.col(c), s, t).is_null() & pl.col(c).is_not_null()).sum().alias(c)
        for c, (s, t) in moves.items()
    ]
    counts = data.select(lost).collect().row(0, named=True)
    problems = []
    for column, count in counts.items():
        if count:
            s, t = moves[column]
            problems.append(_lossy(data, column, s, t, count))
    if problems:
        raise Rejected(*problems)
    return data.with_columns(convert(pl.col(c), s, t).alias(c) for c, (s, t) in moves.items())


def _lossy(data: pl.LazyFrame, column: str, source: str, target: str, count: int) -> Issue:
    col = pl.col(column)
    found = (
        data.with_row_index(ROW, offset=1)
        .filter(col.is_not_null() & convert(col, source, target).is_null())
        .select(ROW, col.cast(pl.String))
        .head(5)
        .collect()
    )
    rows, values = found[ROW].to_list(), found[column].to_list()
    return issue(
        "dtype",
        f"column '{column}' is {source} in the file and its values do not all fit the "
        f"declared {target}: {examples(rows, values)}"
        + (f" ({count} values in all)" if count > len(rows) else ""),
        column=column, rows=rows, values=values,
        rule={"dtype": target, "declared": True, "bad_count": count})
