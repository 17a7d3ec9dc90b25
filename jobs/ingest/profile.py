"""A per-column profile rich enough for drift checks later without reading the data again.

All statistics of a batch of columns come from one `select` (one pass over the data), but
for data in memory the quantiles: quantiles.py finds them without a sort, columns side by
side (numpy lets go of the GIL).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from jobs.ingest import quantiles

QUANTILES = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]
_QUANTILES = pl.lit(QUANTILES)  # built once: a literal per column costs ~0.1 ms each
BINS = 20
MAX_CATEGORIES = 1000
TOP_TEXT = 20
BATCH = 2000
"""Columns per select in memory; a file too large for memory is profiled a column at a time
(a column of it is what has to be in memory to sort it for the quantiles)."""

KINDS = {"int64": "numeric", "float64": "numeric", "bool": "boolean", "string": "categorical",
         "date": "datetime", "datetime": "datetime"}


def safe(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def profile(data: pl.LazyFrame, schema: dict[str, str], n_rows: int, *, in_memory: bool
            ) -> dict[str, dict]:
    columns = list(schema.items())
    result: dict[str, dict] = {}
    size = BATCH if in_memory else 1
    for start in range(0, len(columns), size):
        batch = columns[start: start + size]
        if not in_memory and batch[0][1] == "string":
            row = _counted_text(data, batch[0][0], "0:")
        else:
            exprs = [e for i, (c, d) in enumerate(batch)
                     for e in _exprs(f"{i}:", pl.col(c), d, quantile=not in_memory)]
            # in memory either way: polars' streaming engine is quadratic in quantiles
            row = data.select(exprs).collect(engine="in-memory").row(0, named=True)
            if in_memory:
                row.update(_quantiles(data, batch))
        for i, (column, dtype) in enumerate(batch):
            result[column] = _assemble(f"{i}:", dtype, row, n_rows)
    return result


def _counted_text(data: pl.LazyFrame, column: str, p: str) -> dict[str, Any]:
    """Text stats of a file too large for memory, by a streaming group-by: memory grows with
    the distinct values, not the rows (a text column in memory takes 16 bytes a row)."""
    counts = (data.group_by(pl.col(column).alias("v")).agg(pl.len().alias("n"))
              .collect(engine="streaming"))
    nulls = counts.filter(pl.col("v").is_null())["n"].sum()
    present = counts.filter(pl.col("v").is_not_null()).sort(
        ["n", "v"], descending=[True, False])
    return {p + "nulls": nulls, p + "n_unique": present.height,
            p + "top": present.head(MAX_CATEGORIES).to_dicts()}


def _quantiles(data: pl.LazyFrame, batch: list[tuple[str, str]]) -> dict[str, list | None]:
    numeric = [(i, c) for i, (c, d) in enumerate(batch) if d in ("int64", "float64")]
    if not numeric:
        return {}
    frame = data.select(c for _, c in numeric).collect(engine="in-memory")

    def one(column: str) -> list[float] | None:
        values = frame[column]
        values = values.filter(values.is_finite()) if values.dtype.is_float() else (
            values.drop_nulls())
        return quantiles.linear(values.to_numpy(), QUANTILES) if len(values) else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = pool.map(one, [c for _, c in numeric])
        return {f"{i}:q": q for (i, _), q in zip(numeric, found, strict=True)}


def _exprs(p: str, col: pl.Expr, dtype: str, *, quantile: bool = True) -> list[pl.Expr]:
    exprs = [col.null_count().alias(p + "nulls")]
    if dtype in ("int64", "float64"):
        finite = col.filter(col.is_finite()) if dtype == "float64" else col
        exprs += [
            finite.min().alias(p + "min"),
            finite.max().alias(p + "max"),
            finite.mean().alias(p + "mean"),
            finite.std().alias(p + "std"),
            _hist(finite).alias(p + "hist"),
        ]
        if quantile:
            exprs.append(finite.quantile(_QUANTILES, "linear").alias(p + "q"))
        if dtype == "float64":
            exprs += [col.is_nan().sum().alias(p + "nan"), col.is_infinite().sum().alias(p + "inf")]
    elif dtype == "bool":
        exprs.append(col.sum().alias(p + "true"))
    elif dtype == "string":
        present = col.drop_nulls()
        # sorted inside one list so the counts are computed once, ties broken by value: the
        # same data always gives the same profile
        item = pl.element()
        top = present.alias("v").value_counts(name="n").implode().list.eval(
            item.sort_by([item.struct.field("n"), item.struct.field("v")],
                         descending=[True, False]).head(MAX_CATEGORIES))
        exprs += [present.n_unique().alias(p + "n_unique"), top.alias(p + "top")]
    else:
        exprs += [col.min().alias(p + "min"), col.max().alias(p + "max"),
                  _hist(col.dt.epoch("s")).alias(p + "hist")]
    return exprs


def _hist(values: pl.Expr) -> pl.Expr:
    return values.hist(bin_count=BINS, include_breakpoint=True).implode()


def _assemble(p: str, dtype: str, row: dict[str, Any], n_rows: int) -> dict[str, Any]:
    nulls = row[p + "nulls"]
    out: dict[str, Any] = {
        "dtype": dtype, "kind": KINDS[dtype], "count": n_rows - nulls, "nulls": nulls,
        "null_share": nulls / n_rows if n_rows else 0.0,
    }
    if dtype in ("int64", "float64"):
        out.update(
            min=safe(row[p + "min"]), max=safe(row[p + "max"]), mean=safe(row[p + "mean"]),
            std=safe(row[p + "std"]), nan_count=row.get(p + "nan", 0),
            inf_count=row.get(p + "inf", 0),
            quantiles={"probs": QUANTILES,
                       "values": [safe(v) for v in row[p + "q"] or [None] * len(QUANTILES)]},
            histogram=_histogram(row[p + "hist"], row[p + "min"], row[p + "max"]))
    elif dtype == "bool":
        trues = row[p + "true"] or 0
        out.update(true=trues, false=n_rows - nulls - trues)
    elif dtype == "string":
        top = {item["v"]: item["n"] for item in row[p + "top"]}
        out["n_unique"] = row[p + "n_unique"]
        if out["n_unique"] <= MAX_CATEGORIES:
            out["categories"] = top
        else:
            out.update(kind="text", top=dict(list(top.items())[:TOP_TEXT]))
    else:
        low, high = row[p + "min"], row[p + "max"]
        out.update(min=low.isoformat() if low is not None else None,
                   max=high.isoformat() if high is not None else None,
                   histogram=_histogram(row[p + "hist"], *_epoch(low, high)), epoch_unit="s")
    return out


def _epoch(low: Any, high: Any) -> tuple[float | None, float | None]:
    import datetime as dt

    def seconds(v: Any) -> float | None:
        if v is None:
            return None
        if not isinstance(v, dt.datetime):
            v = dt.datetime(v.year, v.month, v.day)
        return (v - dt.datetime(1970, 1, 1)).total_seconds()

    return seconds(low), seconds(high)


def _histogram(bins: list[dict] | None, low: Any, high: Any) -> dict[str, list] | None:
    """21 equal-width edges from min to max and 20 counts (polars' bins: right-closed)."""
    if not bins or low is None or high is None or not math.isfinite(low) or not math.isfinite(
            high):
        return None
    breaks = [b["breakpoint"] for b in bins]
    first = float(low) if high > low else breaks[0] - (breaks[1] - breaks[0])
    return {"edges": [first, *breaks], "counts": [b["count"] for b in bins]}
