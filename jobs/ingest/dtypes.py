"""The dtype vocabulary of schemas, profiles and snapshots, and its only mapping to polars."""

from __future__ import annotations

import polars as pl

_POLARS: dict[str, pl.DataType] = {
    "int64": pl.Int64(),
    "float64": pl.Float64(),
    "bool": pl.Boolean(),
    "string": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}


def to_polars(name: str) -> pl.DataType:
    return _POLARS[name]


def from_polars(dtype: pl.DataType) -> str | None:
    """The vocabulary name a polars dtype is stored as; None when it has none (nested, binary)."""
    if dtype.is_integer():
        return "int64"
    if dtype.is_float() or dtype.is_decimal():
        return "float64"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype in (pl.String, pl.Null, pl.Time, pl.Duration) or isinstance(
        dtype, pl.Categorical | pl.Enum
    ):
        return "string"
    return None


def normalize(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column `name` of polars `dtype` as its vocabulary dtype (datetimes: UTC, no zone, µs)."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.dt.cast_time_unit("us") if dtype.time_unit != "us" else col
    target = _POLARS[from_polars(dtype) or "string"]
    return col if dtype == target else col.cast(target)


ISO_DATETIMES = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
"""ISO-8601 as chrono formats, tried in turn on each value: %#z takes Z, +HH:MM and +HHMM;
without an offset a value is UTC; a date alone is its midnight."""
ISO_DESCRIBED = ("YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] ('T' or a space) with an "
                 "optional Z, ±HH:MM or ±HHMM (without one: UTC)")


def parse_iso_datetime(expr: pl.Expr) -> pl.Expr:
    """ISO-8601 text as datetimes (UTC, no zone), each value in whichever ISO form it has:
    polars picks one format per column, so values written two ways would be lost."""
    text = expr.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    parsed = [text.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False)
              for f in ISO_DATETIMES]
    return pl.coalesce(parsed).dt.replace_time_zone(None)


def parse_text(expr: pl.Expr, name: str) -> pl.Expr:
    """Text parsed as dtype `name`; what does not parse becomes null (so it can be found)."""
    if name == "string":
        return expr
    if name in ("int64", "float64"):
        return expr.cast(_POLARS[name], strict=False)
    if name == "bool":
        return expr.str.to_lowercase().replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
        )
    if name == "date":
        return expr.str.to_date("%Y-%m-%d", strict=False)
    inferred = expr.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    return pl.coalesce(inferred.dt.replace_time_zone(None), parse_iso_datetime(expr))


def convert(expr: pl.Expr, source: str, target: str) -> pl.Expr:
    """A typed column converted between vocabulary dtypes; a value that would change is null."""
    if source == target:
        return expr
    if target == "string":
        return expr.cast(pl.String)
    if source == "string":
        return parse_text(expr, target)
    if source == "float64" and target == "int64":
        return pl.when(expr == expr.round()).then(expr.cast(pl.Int64, strict=False))
    return expr.cast(_POLARS[target], strict=False)
