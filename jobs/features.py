"""Model inputs: the one way a frame (or request rows) becomes LightGBM's input matrix.

Training builds the signature from its training rows (`signature_from_frame`) and its
matrices with `to_matrix`; serving calls `to_matrix` with the same signature, so a row scored
alone gets the same float64 numbers, hence the same prediction, as in a training batch.

Encoding, per input of the signature:
- numbers and booleans → float64 (true 1.0, false 0.0);
- date / datetime → float epoch seconds (µs since 1970-01-01 UTC ÷ 1e6; zone-aware values are
  taken in UTC, strings are read as ISO 8601);
- categorical (string columns, and columns named categorical) → the value's position in the
  signature's FIXED sorted category list (the unique training values), as a float;
- null, NaN, and a category not in the list → NaN, which LightGBM treats as missing.

A value of the wrong kind (text where a number is expected, a float for an integer category)
is a `FeatureError` naming the input, the same for frames and rows. Treat a signature as
immutable once it has been used: the lookup tables built from it are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from jobs.feature_columns import columns_to_matrix
from jobs.feature_values import (
    FeatureError,
    converter,
    rows_to_matrix,
    shown,
    time_converter,
)

_SMALL = 64
"""Frames up to this many rows are encoded row by row in Python (a polars select costs
~0.5 ms whatever its size; the row path ~20 µs a row), when their dtypes convert to Python
values exactly; lists of more rows are encoded column by column (jobs/feature_columns.py)."""


# -- the signature ---------------------------------------------------------------------------


def signature_from_frame(frame: Any, features: Sequence[str],
                         categorical: Iterable[str] = ()) -> dict[str, Any]:
    """{"inputs": [{name, dtype, categorical, categories}]} for `features` of a polars frame.

    String columns are always categorical; `categorical` adds integer or boolean columns.
    Categories are the sorted unique non-null values of the frame (give it the training rows).
    """
    from jobs.ingest.dtypes import from_polars

    extra = set(categorical)
    missing = [name for name in (*features, *sorted(extra)) if name not in frame.schema]
    if missing:
        raise FeatureError(f"no column {missing[0]!r} in the frame")
    outside = sorted(extra - set(features))
    if outside:
        raise FeatureError(f"categorical column {outside[0]!r} is not one of the features")
    inputs = []
    for name in features:
        polars_dtype = frame.schema[name]
        dtype = from_polars(polars_dtype)
        if dtype is None:
            raise FeatureError(f"column {name!r} is {polars_dtype}, which cannot be a model input")
        is_categorical = dtype == "string" or name in extra
        categories = None
        if is_categorical:
            if dtype not in ("string", "int64", "bool"):
                raise FeatureError(f"column {name!r} is {dtype}: only string, integer and boolean "
                                   "columns can be categorical")
            column = frame.get_column(name)
            if dtype == "string" and column.dtype != _polars().String:
                try:
                    column = column.cast(_polars().String)
                except _polars().exceptions.InvalidOperationError:  # a duration, for one
                    raise FeatureError(f"column {name!r} is {polars_dtype}, whose values "
                                       "cannot be read as categories") from None
            categories = sorted(column.drop_nulls().unique().to_list())
        inputs.append({"name": name, "dtype": dtype, "categorical": is_categorical,
                       "categories": categories})
    return {"inputs": inputs}


def _polars() -> Any:
    import polars

    return polars


# -- rows → matrix ---------------------------------------------------------------------------


class _Encoder:
    """Lookup tables and converters of one signature, built once."""

    def __init__(self, signature: Mapping[str, Any]) -> None:
        self.signature = signature  # kept so its id() cannot be reused while cached
        self.inputs = list(signature["inputs"])
        self.names = [item["name"] for item in self.inputs]
        self.codes: list[dict[Any, float] | None] = [
            {value: float(i) for i, value in enumerate(item["categories"] or [])}
            if item["categorical"] else None for item in self.inputs]
        self.pairs = [(item["name"], converter(item)) for item in self.inputs]
        self._fits: dict[tuple, bool] = {}

    def fits_rows(self, dtypes: tuple) -> bool:
        """Whether a small frame with these input dtypes may take the row path (its values
        convert exactly in Python); a dtype that fits no input is a FeatureError here."""
        fits = self._fits.get(dtypes)
        if fits is None:
            fits = all(map(_exact_in_python, dtypes))
            if fits:
                _check_frame_dtypes(dict(zip(self.names, dtypes, strict=True)), self)
            if len(self._fits) < 64:
                self._fits[dtypes] = fits
        return fits

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if len(rows) > _SMALL:
            matrix = self._by_columns(rows)
            if matrix is not None:
                return matrix
        return rows_to_matrix(rows, self.pairs)

    def _by_columns(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
        try:
            columns = {name: [row[name] for row in rows] for name in self.names}
        except (KeyError, TypeError):
            return None  # the row path names the row at fault
        return columns_to_matrix(columns, len(rows), self.inputs, self.codes)


_CACHE: OrderedDict[int, _Encoder] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()  # serving encodes from many threads


def _encoder(signature: Mapping[str, Any]) -> _Encoder:
    key = id(signature)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None and found.signature is signature:
            _CACHE.move_to_end(key)
            return found
    built = _Encoder(signature)
    with _CACHE_LOCK:
        _CACHE[key] = built
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built


def columns_matrix(columns: Mapping[str, Sequence[Any]], rows: int,
                   signature: Mapping[str, Any]) -> np.ndarray | None:
    """Equal-length columns of plain values (every input present) → the matrix `to_matrix`
    gives for the same rows, in one vectorised pass; None when a value needs the row path
    (which names the row and input at fault)."""
    encoder = _encoder(signature)
    return columns_to_matrix(columns, rows, encoder.inputs, encoder.codes)


def to_matrix(data: Any, signature: Mapping[str, Any]) -> np.ndarray:
    """A polars DataFrame, one row (a mapping) or a list of rows → float64 C-contiguous matrix
    with one column per signature input, in signature order. Extra columns are ignored; a
    missing one is a FeatureError."""
    encoder = _encoder(signature)
    if isinstance(data, Mapping):
        return encoder.rows([data])
    if isinstance(data, list | tuple):
        return encoder.rows(data)
    return _frame(data, encoder)


# -- frames → matrix ---------------------------------------------------------------------------


def _frame(frame: Any, encoder: _Encoder) -> np.ndarray:
    pl = _polars()
    if not isinstance(frame, pl.DataFrame):
        raise FeatureError(f"expected a polars DataFrame, a row or a list of rows, got "
                           f"{type(frame).__name__}")
    schema = frame.schema
    missing = [name for name in encoder.names if name not in schema]
    if missing:
        raise FeatureError(f"input {missing[0]!r} is missing from the frame")
    if not encoder.names:
        return np.empty((frame.height, 0), dtype=np.float64)
    if frame.height <= _SMALL and encoder.fits_rows(tuple(schema[n] for n in encoder.names)):
        return encoder.rows(frame.to_dicts())
    exprs = [_expr(item, schema[item["name"]], frame) for item in encoder.inputs]
    matrix = frame.select(exprs).to_numpy(order="c")
    if matrix.dtype != np.float64 or not matrix.flags.c_contiguous:
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    return matrix


def _exact_in_python(dtype: Any) -> bool:
    """Whether the column's Python values convert exactly as the polars expressions do."""
    pl = _polars()
    if dtype.is_integer() or dtype.is_float():
        return True
    if isinstance(dtype, pl.Datetime):
        return dtype.time_unit in ("us", "ms")
    return dtype in (pl.Boolean, pl.String, pl.Null, pl.Date) or isinstance(
        dtype, pl.Categorical | pl.Enum)


def _kind(item: Mapping[str, Any]) -> str:
    if item["categorical"]:
        return "category:" + item["dtype"]
    if item["dtype"] in ("date", "datetime"):
        return "time"
    return {"bool": "flag", "int64": "integer"}.get(item["dtype"], "number")


def _accepts(kind: str, dtype: Any) -> bool:
    pl = _polars()
    if dtype == pl.Null:
        return True
    if kind in ("number", "integer"):
        # whole floats may feed an integer input: _expr checks each value is one
        return dtype.is_numeric()
    if kind == "flag":
        return dtype == pl.Boolean
    if kind == "time":
        return dtype in (pl.Date, pl.String) or isinstance(dtype, pl.Datetime)
    if kind == "category:string":
        return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    if kind == "category:int64":
        return dtype.is_integer()
    return dtype == pl.Boolean


_EXPECTED = {"number": "a number", "integer": "an integer", "flag": "true or false",
             "time": "a date, datetime or ISO 8601 text",
             "category:string": "text", "category:int64": "an integer",
             "category:bool": "true or false"}


def _check_frame_dtypes(schema: Mapping[str, Any], encoder: _Encoder) -> None:
    for item in encoder.inputs:
        kind = _kind(item)
        if not _accepts(kind, schema[item["name"]]):
            raise FeatureError(f"input {item['name']!r}: expected {_EXPECTED[kind]}, got a "
                               f"{schema[item['name']]} column")


def _expr(item: Mapping[str, Any], dtype: Any, frame: Any) -> Any:
    pl = _polars()
    name, kind = item["name"], _kind(item)
    if not _accepts(kind, dtype):
        raise FeatureError(f"input {name!r}: expected {_EXPECTED[kind]}, got a {dtype} column")
    col = pl.col(name)
    if dtype == pl.Null:
        return col.cast(pl.Float64)
    if kind == "integer" and dtype.is_float():
        _whole_or_fail(frame.get_column(name), name)
    if kind in ("number", "integer", "flag"):
        return col.cast(pl.Float64)
    if kind == "time":
        if dtype == pl.String:
            # parsed in Python, once per distinct value: the same parser as the row path
            values = frame.get_column(name).drop_nulls().unique().to_list()
            seconds = [time_converter(name)(v) for v in values]
            return col.replace_strict(values, seconds, default=None, return_dtype=pl.Float64)
        if dtype == pl.Date:
            col = col.cast(pl.Datetime("us"))
        return col.dt.epoch("us").cast(pl.Float64) / 1e6
    categories = item["categories"] or []
    if kind == "category:string" and dtype != pl.String:
        col = col.cast(pl.String)
    codes = [float(i) for i in range(len(categories))]
    return col.replace_strict(categories, codes, default=None, return_dtype=pl.Float64)


def _whole_or_fail(column: Any, name: str) -> None:
    """A float column feeding an integer input: every value must be a whole number."""
    values = column.to_numpy()
    bad = ~np.isnan(values) & ((values != np.floor(values)) | (np.abs(values) > 2.0**63))
    if bad.any():
        row = int(np.argmax(bad))
        raise FeatureError(f"row {row}: input {name!r}: expected an integer, got "
                           f"{shown(float(values[row]))}", input=name, row=row)
