"""Request bodies -> the model's input matrix, encoded as the mlops daemon encodes them.

This file travels with an exported model and imports nothing of mlops: it is a copy of the
daemon's row path (mlops `jobs/feature_values.py` and `jobs/features.py`), kept equal by
mlops' tests (tests/test_export.py encodes the same rows with both and compares), so a row
gets the same float64 numbers, hence the same prediction, here as from the daemon:

- numbers and booleans -> float64 (true 1.0, false 0.0), strict by the input's dtype;
- date / datetime -> float epoch seconds (ISO 8601 text; zone-aware values taken in UTC);
- categorical inputs -> the value's position in the signature's sorted category list;
- null, and a category the model never saw -> NaN, which LightGBM treats as missing.

A value of the wrong kind is a 422 naming the row and the input, as the daemon answers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

_NAN = math.nan
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_INT64 = (-(2**63), 2**63 - 1)
_JSON_INTEGERS = (-(2**63), 2**64 - 1)
"""What the daemon's JSON parser (orjson) reads as an integer; past it the body is refused."""
DTYPES = ("int64", "float64", "bool", "string", "date", "datetime")


class BadRequest(Exception):
    """A refused request: the HTTP status, a message, the field (and row) at fault."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 row: int | None = None, allow: str | None = None, code: str | None = None
                 ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.row = status, message, field, row
        self.code = code
        """The error code when it is not the status's usual one (e.g. `unknown_model`)."""
        self.allow = allow
        """For a 405: the method the endpoint takes (its Allow header)."""


class FeatureError(ValueError):
    def __init__(self, message: str, *, input: str | None = None, row: int | None = None
                 ) -> None:
        super().__init__(message)
        self.input, self.row = input, row


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- one value -> float64 ------------------------------------------------------------------


def number_converter(name: str, dtype: str) -> Callable[[Any], float]:
    """true is not a number, 2.5 is not an integer, and a number past what the input can
    hold is an error, never a silent inf or rounding."""
    if dtype == "bool":
        def convert_bool(value: Any) -> float:
            if value is None:
                return _NAN
            if type(value) is bool:
                return float(value)
            raise FeatureError(f"input {name!r}: expected true or false, got {shown(value)}",
                               input=name)

        return convert_bool
    integer = dtype == "int64"

    def convert(value: Any) -> float:
        if value is None:
            return _NAN
        if type(value) is bool or not isinstance(value, int | float):
            expected = "an integer" if integer else "a number"
            raise FeatureError(f"input {name!r}: expected {expected}, got {shown(value)}",
                               input=name)
        if integer:
            if value != value:
                return _NAN
            if type(value) is not int and not (math.isfinite(value)
                                               and float(value).is_integer()):
                raise FeatureError(f"input {name!r}: expected an integer, got {shown(value)}",
                                   input=name)
            if not _INT64[0] <= value <= _INT64[1]:
                raise FeatureError(f"input {name!r}: {shown(value)} does not fit a 64-bit "
                                   "integer", input=name)
        try:
            return float(value)
        except OverflowError:
            raise FeatureError(f"input {name!r}: {shown(value)} is too large for a number",
                               input=name) from None

    return convert


def epoch_seconds(value: date | datetime | str) -> float:
    """Seconds since 1970-01-01 UTC as float64, as the daemon computes them."""
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


_CATEGORY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "int64": (int,),
                                                "bool": (bool,)}


def category_converter(name: str, dtype: str, categories: list[Any]) -> Callable[[Any], float]:
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


# -- rows -> matrix --------------------------------------------------------------------------


class Encoder:
    """The converters of one signature, built once."""

    def __init__(self, signature: Mapping[str, Any]) -> None:
        self.inputs = list(signature["inputs"])
        self.names = [item["name"] for item in self.inputs]
        self.converters: list[Callable[[Any], float]] = []
        for item in self.inputs:
            if item["dtype"] not in DTYPES:
                raise ValueError(f"input {item['name']!r}: unknown dtype {item['dtype']!r}")
            if item.get("categorical"):
                converter = category_converter(item["name"], item["dtype"],
                                               item.get("categories") or [])
            elif item["dtype"] in ("date", "datetime"):
                converter = time_converter(item["name"])
            else:
                converter = number_converter(item["name"], item["dtype"])
            self.converters.append(converter)
        self.pairs = list(zip(self.names, self.converters, strict=True))
        self.categorical = [j for j, item in enumerate(self.inputs) if item.get("categorical")]

    def matrix(self, rows: Sequence[Any]) -> np.ndarray:
        """float64 matrix, one column per input in signature order; FeatureError names the
        first row and input at fault."""
        out = np.empty((len(rows), len(self.pairs)), dtype=np.float64)
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise FeatureError(f"row {i}: expected an object of input name to value, got "
                                   f"{type(row).__name__}", row=i)
            for j, (name, convert) in enumerate(self.pairs):
                if name not in row:
                    raise FeatureError(f"row {i}: input {name!r} is missing", input=name, row=i)
                try:
                    out[i, j] = convert(row[name])
                except FeatureError as exc:
                    raise FeatureError(f"row {i}: {exc}", input=name, row=i) from None
        return out

    def unseen(self, matrix: np.ndarray, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Per categorical input, the rows whose value was given but is not a category the
        model saw (encoded NaN like a missing value)."""
        counts: dict[str, int] = {}
        for j in self.categorical:
            name = self.names[j]
            found = sum(1 for i in np.flatnonzero(np.isnan(matrix[:, j]))
                        if _given(rows[i].get(name)))
            if found:
                counts[name] = found
        return counts

    def refuse_unseen(self, matrix: np.ndarray, rows: Sequence[Mapping[str, Any]],
                      where: str) -> None:
        for i, row in enumerate(rows):
            for j in self.categorical:
                name = self.names[j]
                value = row.get(name)
                if math.isnan(matrix[i, j]) and _given(value):
                    known = self.inputs[j].get("categories") or []
                    listed = ", ".join(map(repr, known[:8])) + (", …" if len(known) > 8 else "")
                    raise BadRequest(
                        422, f"row {i}: input {name!r}: {value!r} is a category the model never "
                        f"saw (known: {listed}); this model rejects unseen categories",
                        field=f"{where}[{i}].{name}" if where == "rows" else where, row=i)


def _given(value: Any) -> bool:
    return value is not None and value == value


# -- request bodies ----------------------------------------------------------------------------


@dataclass
class Batch:
    matrix: np.ndarray
    ignored: list[str]
    """Columns sent that the model does not use."""
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.matrix.shape[0]


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _integer(text: str) -> int:
    value = int(text)
    if not _JSON_INTEGERS[0] <= value <= _JSON_INTEGERS[1]:
        raise ValueError(f"integer {text[:40]} exceeds the 64-bit range")
    return value


def read_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_no_constant, parse_int=_integer)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}", field="body") from None


def decode(body: bytes, encoder: Encoder, *, max_rows: int, reject_unseen: bool = False
           ) -> Batch:
    """`{"rows": [{...}]}` or `{"columns": {name: [...]}}` as the model's matrix."""
    if not body:
        raise BadRequest(400, "the request has no body: send rows to predict", field="body")
    payload = read_json(body)
    if not isinstance(payload, dict) or not ("rows" in payload or "columns" in payload):
        raise BadRequest(422, 'the body needs "rows" (a list of objects) or "columns" (an '
                         "object of equal-length lists)", field="body")
    if "columns" in payload and "rows" not in payload:
        rows, where, ignored = _columns(payload["columns"], encoder, max_rows)
    else:
        rows, where = payload["rows"], "rows"
        if not isinstance(rows, list):
            raise BadRequest(422, '"rows" must be a list of objects', field="rows")
        _check_count(len(rows), max_rows, "rows")
        ignored = None
    try:
        matrix = encoder.matrix(rows)
    except FeatureError as exc:
        raise _feature_error(exc, where) from None
    if ignored is None:
        names = set(encoder.names)
        ignored = sorted({k for row in rows for k in row if k not in names})
    if reject_unseen:
        encoder.refuse_unseen(matrix, rows, where)
    return Batch(matrix, ignored, encoder.unseen(matrix, rows))


def _columns(columns: Any, encoder: Encoder, max_rows: int
             ) -> tuple[list[dict[str, Any]], str, list[str]]:
    if not isinstance(columns, dict):
        raise BadRequest(422, '"columns" must be an object of input name to a list of values',
                         field="columns")
    for name, values in columns.items():
        if not isinstance(values, list):
            raise BadRequest(422, f"column {name!r} must be a list of values",
                             field=f"columns.{name}")
    missing = [n for n in encoder.names if n not in columns]
    if missing:
        raise BadRequest(422, f"input {missing[0]!r} is missing", field=f"columns.{missing[0]}")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}: {n}" for k, n in list(lengths.items())[:6])
        raise BadRequest(422, f"columns differ in length ({listed})", field="columns")
    count = next(iter(lengths.values()), 0)
    _check_count(count, max_rows, "columns")
    names = list(columns)
    rows = [dict(zip(names, values, strict=True))
            for values in zip(*(columns[n] for n in names), strict=True)]
    known = set(encoder.names)
    return rows, "columns", sorted(k for k in columns if k not in known)


def _check_count(rows: int, max_rows: int, where: str) -> None:
    if rows == 0:
        raise BadRequest(422, "no rows to predict", field=where)
    if rows > max_rows:
        raise BadRequest(413, f"{rows:,} rows is more than this server takes in one request "
                         f"({max_rows:,}; --max-rows): split it", field=where)


def _feature_error(exc: FeatureError, where: str) -> BadRequest:
    found = where
    if exc.row is not None and where == "rows":
        found = f"rows[{exc.row}]"
    if exc.input is not None:
        found = f"{found}.{exc.input}" if where == "rows" else f"columns.{exc.input}"
    return BadRequest(422, str(exc), field=found, row=exc.row)
