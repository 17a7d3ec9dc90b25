"""Column dtypes for data that has no schema yet: from a sample, or from all of a text column."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jobs.ingest.dtypes import from_polars, parse_text

SAMPLE_ROWS = 10_000
SAMPLE_BYTES = 4 << 20

# tried in order on text columns; the first that takes every value wins
_TEXT_CANDIDATES = ("int64", "float64", "bool", "date", "datetime")


def text_dtype(values: pl.Series) -> str:
    """The narrowest dtype every non-null text value parses as ('string' if none)."""
    present = values.drop_nulls()
    if present.len() == 0:
        return "string"
    frame = present.to_frame("v")
    for name in _TEXT_CANDIDATES:
        if frame.select(parse_text(pl.col("v"), name).null_count()).item() == 0:
            return name
    return "string"


def csv_sample(path: Path, delimiter: str) -> dict[str, str | None]:
    """Dtypes guessed from the first rows: a name per column, None when it was all empty.

    polars' own date detection (try_parse_dates) is slow on thousands of rows, so polars infers
    numbers and booleans and text columns are then tried as dates here; a failure to read the
    sample just means the whole file is inferred instead ({}).
    """
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES + 1)
    cut = len(head) > SAMPLE_BYTES
    if cut:
        head = head[: head.rfind(b"\n") + 1]
    try:
        frame = pl.read_csv(head, separator=delimiter, infer_schema_length=SAMPLE_ROWS,
                            n_rows=SAMPLE_ROWS + 1)
    except pl.exceptions.PolarsError:
        return {}
    if cut or frame.height > SAMPLE_ROWS:
        frame = frame.head(frame.height - 1)  # the last row may be cut inside a quoted field
    guessed: dict[str, str | None] = {}
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        if column.null_count() == column.len():
            guessed[name] = None
        elif dtype == pl.String:
            found = text_dtype(column)
            guessed[name] = found if found in ("date", "datetime") else "string"
        else:
            guessed[name] = from_polars(dtype) or "string"
    return guessed
