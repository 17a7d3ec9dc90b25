"""The dataset's time column, as typed dates or datetimes.

Selectors' time windows and time-based splits need it typed. A time column read as text
(NDJSON and Parquet keep text as text; a CSV column polars could not parse as one format)
is parsed as ISO-8601, each value on its own, so spellings may mix within a file (the forms
are `dtypes.ISO_DESCRIBED`). A value with a UTC offset is converted to UTC, its instant
kept; like every datetime of ingest, it is stored as UTC without a zone. A column of dates
alone becomes `date`. A value that does not parse, or a time column of numbers or
booleans, rejects the file with the rows, the values and the forms accepted.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from jobs.ingest.dtypes import ISO_DATETIMES, ISO_DESCRIBED, from_polars, parse_iso_datetime
from jobs.ingest.issues import Issue, Rejected, examples, issue
from jobs.ingest.table import ROW

_WHAT = "the dataset's time column"


def typed_time_column(data: pl.LazyFrame, column: str | None) -> pl.LazyFrame:
    """`data` with its time column as dates or datetimes (Rejected if it cannot be)."""
    schema = data.collect_schema()
    if column is None or column not in schema:
        return data  # a missing time column is reported with the schema's issues
    dtype = from_polars(schema[column])
    if dtype in ("date", "datetime"):
        return data
    rule = {"time_column": column, "formats": list(ISO_DATETIMES)}
    if dtype != "string":
        raise Rejected(issue(
            "time_column", f"column '{column}' is {_WHAT}, but it holds {dtype} values: a "
            f"time column holds dates or datetimes, written as ISO-8601 text ({ISO_DESCRIBED})",
            column=column, rule={**rule, "dtype": dtype}))
    col = pl.col(column)
    as_date = col.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    as_datetime = parse_iso_datetime(col)
    counts = data.select(present=col.is_not_null().sum(), dates=as_date.is_not_null().sum(),
                         datetimes=as_datetime.is_not_null().sum()).collect().row(0, named=True)
    present = counts["present"]
    if present and counts["dates"] == present:
        return data.with_columns(as_date.alias(column))
    if counts["datetimes"] == present:
        return data.with_columns(as_datetime.alias(column))
    raise Rejected(_unparsed(data, column, col.is_not_null() & as_datetime.is_null(),
                             present - counts["datetimes"], present, rule))


def _unparsed(data: pl.LazyFrame, column: str, bad: pl.Expr, count: int, present: int,
              rule: dict[str, Any]) -> Issue:
    found = (data.with_row_index(ROW, offset=1).filter(bad).select(ROW, column).head(5)
             .collect())
    rows, values = found[ROW].to_list(), found[column].to_list()
    return issue(
        "time_column", f"column '{column}' is {_WHAT}, but {count} of its {present} values "
        f"are not ISO-8601 dates or datetimes: {examples(rows, values)}; accepted: "
        f"{ISO_DESCRIBED}", column=column, rows=rows, values=values,
        rule={**rule, "bad_count": count})


def missing_time_column(spec: dict[str, Any], got: dict[str, str]) -> list[Issue]:
    column = spec["time_column"]
    if not column or column in got:
        return []
    return [issue("time_column", f"{_WHAT} '{column}' is missing (columns: "
                  + ", ".join(f"'{c}'" for c in list(got)[:20]) + ")", column=column,
                  rule={"time_column": column})]
