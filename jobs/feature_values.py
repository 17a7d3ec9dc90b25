"""The row path of jobs.features: one value to the float64 a model input takes (numbers,
flags, times and categories, strict by the input's dtype), rows to the matrix, and the
error that names the row and input at fault. The frame path (polars expressions) and the
column path (jobs/feature_columns.py) give the same numbers: tests/test_train_job.py
compares a frame's matrix with its rows'.

This file imports only numpy and the standard library: `mlops export --container` copies
it as it is beside the exported server, so a row gets the same numbers there as here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

DTYPES = ("int64", "float64", "bool", "string", "date", "datetime")
_NAN = math.nan
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


class FeatureError(ValueError):
    """A frame or row that does not fit the signature, naming the input (and the row, for
    rows)."""

    def __init__(self, message: str, *, input: str | None = None, row: int | None = None
                 ) -> None:
        super().__init__(message)
        self.input, self.row = input, row


_INT64 = (-(2**63), 2**63 - 1)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number_converter(name: str, dtype: str) -> Callable[[Any], float]:
    """Strict by the input's dtype: true is not a number, 2.5 is not an integer, and a
    number past what the feature can hold is an error, never a silent inf or rounding."""
    if dtype == "bool":
        def convert_bool(value: Any) -> float:
            if value is None:
                return _NAN
            if type(value) is bool or isinstance(value, np.bool_):
                return float(value)
            raise FeatureError(f"input {name!r}: expected true or false, got {shown(value)}",
                               input=name)

        return convert_bool
    integer = dtype == "int64"

    def convert(value: Any) -> float:
        if value is None:
            return _NAN
        kind = type(value)
        if kind is bool or isinstance(value, np.bool_) or not isinstance(value, numbers.Real):
            expected = "an integer" if integer else "a number"
            raise FeatureError(f"input {name!r}: expected {expected}, got {shown(value)}",
                               input=name)
        if integer:
            if value != value:  # NaN from a float column: missing, as in the frame path
                return _NAN
            if kind is not int and not isinstance(value, np.integer) and not (
                    math.isfinite(value) and float(value).is_integer()):
                raise FeatureError(f"input {name!r}: expected an integer, got {shown(value)}",
                                   input=name)
            if not _INT64[0] <= value <= _INT64[1]:
                raise FeatureError(f"input {name!r}: {shown(value)} does not fit a 64-bit "
                                   "integer", input=name)
        try:
            result = float(value)
        except OverflowError:
            raise FeatureError(f"input {name!r}: {shown(value)} is too large for a number",
                               input=name) from None
        return result

    return convert


def epoch_seconds(value: date | datetime | str) -> float:
    """Seconds since 1970-01-01 UTC as float64, exactly as the frame path computes them."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    else:
        value = datetime(value.year, value.month, value.day)
    return ((value - _EPOCH) // _MICROSECOND) / 1e6


def time_converter(name: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if value is None:
            return _NAN
        if not isinstance(value, date | str):
            raise FeatureError(f"input {name!r}: expected a date, datetime or ISO 8601 text, "
                               f"got {value!r}", input=name)
        try:
            return epoch_seconds(value)
        except ValueError as exc:
            raise FeatureError(f"input {name!r}: {value!r} is not an ISO 8601 date",
                               input=name) from exc

    return convert


_CATEGORY_TYPES = {"string": (str,), "int64": (int, np.integer), "bool": (bool, np.bool_)}


def category_converter(name: str, dtype: str, categories: list) -> Callable[[Any], float]:
    codes = {value: float(i) for i, value in enumerate(categories)}
    accepted = _CATEGORY_TYPES[dtype]
    kind = {"string": "text", "int64": "an integer", "bool": "true or false"}[dtype]

    def convert(value: Any) -> float:
        if value is None:
            return _NAN
        # bool is an int to Python (True == 1): an integer category never takes a boolean
        if not isinstance(value, accepted) or (dtype == "int64" and isinstance(value, bool)):
            raise FeatureError(f"input {name!r}: expected {kind}, got {value!r}", input=name)
        return codes.get(value, _NAN)

    return convert


def converter(item: Mapping[str, Any]) -> Callable[[Any], float]:
    """The converter of one input of a signature (`{name, dtype, categorical, categories}`)."""
    name, dtype = item["name"], item["dtype"]
    if dtype not in DTYPES:
        raise FeatureError(f"input {name!r}: unknown dtype {dtype!r}")
    if item.get("categorical"):
        return category_converter(name, dtype, item.get("categories") or [])
    if dtype in ("date", "datetime"):
        return time_converter(name)
    return number_converter(name, dtype)


Converters = Sequence[tuple[str, Callable[[Any], float]]]
"""(input name, converter) per input, in signature order."""


def rows_to_matrix(rows: Sequence[Any], converters: Converters) -> np.ndarray:
    """Rows (mappings of input name to value; extra keys ignored) -> the float64 matrix, one
    column per input; a FeatureError names the first row and input at fault."""
    try:
        values = [[convert(row[name]) for name, convert in converters] for row in rows]
    except (KeyError, TypeError, FeatureError):
        raise _row_error(rows, converters) from None
    if not values:
        return np.empty((0, len(converters)), dtype=np.float64)
    return np.array(values, dtype=np.float64)


def _row_error(rows: Sequence[Any], converters: Converters) -> FeatureError:
    """The first row at fault, found again slowly (the fast pass does not count rows)."""
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            return FeatureError(f"row {index}: expected an object of input name to value, "
                                f"got {type(row).__name__}", row=index)
        for name, convert in converters:
            if name not in row:
                return FeatureError(f"row {index}: input {name!r} is missing", input=name,
                                    row=index)
            try:
                convert(row[name])
            except FeatureError as exc:
                return FeatureError(f"row {index}: {exc}", input=name, row=index)
    return FeatureError("rows do not fit the signature")
