"""Request bodies -> the model's input matrix, encoded as the mlops daemon encodes them.

This file travels with an exported model and imports nothing of mlops. The values are
converted by `feature_values.py`, the daemon's own row path (mlops `jobs/feature_values.py`,
copied beside this file by the export), so a row gets the same float64 numbers, hence the
same prediction, here as from the daemon:

- numbers and booleans -> float64 (true 1.0, false 0.0), strict by the input's dtype;
- date / datetime -> float epoch seconds (ISO 8601 text; zone-aware values taken in UTC);
- categorical inputs -> the value's position in the signature's sorted category list;
- null, and a category the model never saw -> NaN, which LightGBM treats as missing.

A value of the wrong kind is a 422 naming the row and the input, as the daemon answers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from feature_values import FeatureError, converter, rows_to_matrix

_JSON_INTEGERS = (-(2**63), 2**64 - 1)
"""What the daemon's JSON parser (orjson) reads as an integer; past it the body is refused."""


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


# -- rows -> matrix --------------------------------------------------------------------------


class Encoder:
    """The converters of one signature, built once."""

    def __init__(self, signature: Mapping[str, Any]) -> None:
        self.inputs = list(signature["inputs"])
        self.names = [item["name"] for item in self.inputs]
        self.pairs = [(item["name"], converter(item)) for item in self.inputs]
        self.categorical = [j for j, item in enumerate(self.inputs) if item.get("categorical")]

    def matrix(self, rows: Sequence[Any]) -> np.ndarray:
        """float64 matrix, one column per input in signature order; FeatureError names the
        first row and input at fault."""
        return rows_to_matrix(rows, self.pairs)

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
