"""Column dtypes for data that has no schema yet: from a sample, or from all of a text column."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jobs.ingest.dtypes import from_polars, parse_text

SAMPLE_ROWS = 10_000
SAMPLE_BYTES = 4 << 20

# tried in order on text columns; the first that takes every value wins
TEXT_CANDIDATES = ("int64", "float64", "bool", "date", "datetime")


def text_dtype(values: pl.Series, candidates: tuple[str, ...] = TEXT_CANDIDATES) -> str:
    """The first of `candidates` every non-null text value parses as ('string' if none)."""
    present = values.drop_nulls().to_frame("v")
    if present.height == 0:
        return "string"
    for name in candidates:
        # most text is not a date: a few values usually tell, before all of them are parsed
        if all(part.select(parse_text(pl.col("v"), name).null_count()).item() == 0
               for part in (present.head(20), present)):
            return name
    return "string"


def csv_sample(path: Path, delimiter: str) -> dict[str, str | None]:
    """Dtypes guessed from the first rows: a name per column, None when it was all empty.

    polars' own date detection (try_parse_dates) is slow on thousands of rows, so polars infers
    numbers and booleans, and what it calls text is then tried here as floats (it takes "nan"
    and "inf" for text) and as dates. A sample that fails to read means the whole file is
    inferred instead ({}).
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
            # polars has ruled out integers and booleans, and takes "nan" or "inf" for text
            guessed[name] = text_dtype(column, ("float64", "date", "datetime"))
        else:
            guessed[name] = from_polars(dtype) or "string"
    return guessed
