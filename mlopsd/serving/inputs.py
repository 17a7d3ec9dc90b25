"""Prediction request bodies → the model's input matrix, with errors that name the field and
the row at fault.

JSON (`{"rows": [{...}]}` or `{"columns": {"f1": [...]}}`) goes through the same encoder as
training (jobs.features), so a row scored here gets the numbers it would get in a training
batch. CSV, Parquet and Arrow IPC bodies are read with polars, CSV with the signature's
dtypes. Columns the model does not use are ignored and reported.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from jobs.features import FeatureError, columns_matrix, to_matrix
from mlopsd.serving.errors import ServingError
from mlopsd.serving.loaded import LoadedModel

JSON, CSV, PARQUET, ARROW = "json", "csv", "parquet", "arrow"
_MEDIA = {
    "application/json": JSON, "text/csv": CSV, "application/csv": CSV,
    "application/vnd.apache.parquet": PARQUET, "application/x-parquet": PARQUET,
    "application/parquet": PARQUET,
    "application/vnd.apache.arrow.stream": ARROW, "application/vnd.apache.arrow.file": ARROW,
    "application/x-arrow": ARROW,
}


@dataclass
class Batch:
    matrix: np.ndarray
    ignored: list[str]
    records: Callable[[], list[dict[str, Any]]]
    """The input rows as dicts, built only when asked (for the prediction log)."""
    signature: dict[str, Any]
    """The signature the matrix was encoded with."""
    unseen: dict[str, int] = field(default_factory=dict)
    """Per categorical input, the rows whose value the model never saw (scored as
    missing)."""

    @property
    def rows(self) -> int:
        return self.matrix.shape[0]


def body_format(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        return JSON
    found = _MEDIA.get(media)
    if found is None:
        raise ServingError(415, f"content type {media!r} is not accepted: send application/json, "
                       "text/csv, application/vnd.apache.parquet or "
                       "application/vnd.apache.arrow.stream", field="content-type")
    return found


def decode(body: bytes, content_type: str, model: LoadedModel, *, max_rows: int,
           reject_unseen: bool = False) -> Batch:
    """The request's rows as the model's matrix. With `reject_unseen`, a category the model
    never saw in training is a 422 naming the row and the value (else it is treated as
    missing, as LightGBM does with a category it has no split for)."""
    kind = body_format(content_type)
    if not body:
        raise ServingError(400, "the request has no body: send rows to predict", field="body")
    batch = _json(body, model, max_rows) if kind == JSON else _frame(
        _read_frame(body, kind, model, max_rows + 1), model, max_rows, kind)
    if reject_unseen and batch.unseen:
        check_unseen(batch, model, "rows" if kind == JSON else kind)
    return batch


def _given(value: Any) -> bool:
    return value is not None and value == value  # NaN is not a value either


def count_unseen(matrix: np.ndarray, model: LoadedModel,
                 values: Callable[[str, np.ndarray], Sequence[Any]]) -> dict[str, int]:
    """Per categorical input, the rows with a category the model never saw: a NaN in the
    matrix whose input value (`values(name, rows)`) was given. Only rows with a NaN are
    looked at, so a clean batch costs one isnan over the categorical columns."""
    counts: dict[str, int] = {}
    categorical = model.categorical_columns
    if not categorical:
        return counts
    if matrix.shape[0] == 1:  # one row: plain floats (numpy's calls cost ~8 µs here)
        row = matrix[0].tolist()
        if all(row[j] == row[j] for j in categorical):
            return counts
    elif not np.isnan(matrix[:, categorical]).any():
        return counts
    for j, item in enumerate(model.signature["inputs"]):
        if not item.get("categorical"):
            continue
        rows = np.flatnonzero(np.isnan(matrix[:, j]))
        if rows.size:
            unseen = sum(1 for v in values(item["name"], rows) if _given(v))
            if unseen:
                counts[item["name"]] = unseen
    return counts


def check_unseen(batch: Batch, model: LoadedModel, where: str) -> None:
    """Categorical inputs encode unseen and missing values alike as NaN: a NaN whose input
    value is not null is an unseen category."""
    columns = [j for j, item in enumerate(model.signature["inputs"]) if item.get("categorical")]
    if not columns:
        return
    nan_rows = np.isnan(batch.matrix[:, columns])
    if not nan_rows.any():
        return
    records = batch.records()
    for i, j in zip(*np.nonzero(nan_rows), strict=True):
        name = model.features[columns[j]]
        value = records[i].get(name)
        if value is not None and value == value:
            known = model.signature["inputs"][columns[j]].get("categories") or []
            shown = ", ".join(map(repr, known[:8])) + (", …" if len(known) > 8 else "")
            raise ServingError(422, f"row {i}: input {name!r}: {value!r} is a category the model "
                           f"never saw (known: {shown}); this model rejects unseen categories",
                           field=f"{where}[{i}].{name}" if where == "rows" else where,
                           row=int(i))


# -- JSON ------------------------------------------------------------------------------------


def _json(body: bytes, model: LoadedModel, max_rows: int) -> Batch:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServingError(400, f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(payload, dict) or not ("rows" in payload or "columns" in payload):
        raise ServingError(422, 'the body needs "rows" (a list of objects) or "columns" (an '
                       "object of equal-length lists)", field="body")
    if "columns" in payload and "rows" not in payload:
        return _columns(payload["columns"], model, max_rows)
    rows = payload["rows"]
    if not isinstance(rows, list):
        raise ServingError(422, '"rows" must be a list of objects', field="rows")
    _check_count(len(rows), max_rows, "rows")
    try:
        matrix = to_matrix(rows, model.signature)
    except FeatureError as exc:
        raise _feature_error(exc, "rows") from None
    names = set(model.features)
    extra: set[str] = set()
    # Every row holds every input (else to_matrix refused it): rows with exactly as many
    # keys as inputs hold nothing else.
    if sum(map(len, rows)) != len(rows) * len(names):
        for row in rows:
            if len(row) != len(names):
                extra.update(k for k in row if k not in names)
    unseen = count_unseen(matrix, model, lambda name, at: [rows[i].get(name) for i in at])
    return Batch(matrix, sorted(extra), lambda: rows, model.signature, unseen)


def _columns(columns: Any, model: LoadedModel, max_rows: int) -> Batch:
    """`{"columns": {name: [values]}}` straight into the matrix, column by column; rows are
    made only for the prediction log, or to name the row at fault."""
    count = _check_columns(columns, model)
    _check_count(count, max_rows, "columns")
    records = functools.cache(lambda: _columns_to_rows(columns))
    matrix = columns_matrix(columns, count, model.signature)
    if matrix is None:
        try:
            matrix = to_matrix(records(), model.signature)
        except FeatureError as exc:
            raise _feature_error(exc, "columns") from None
    extra = sorted(k for k in columns if k not in set(model.features))
    unseen = count_unseen(matrix, model, lambda name, at: [columns[name][i] for i in at])
    return Batch(matrix, extra, records, model.signature, unseen)


def _check_columns(columns: Any, model: LoadedModel) -> int:
    """The rows the columns hold, once they are checked to be equal-length lists."""
    if not isinstance(columns, dict):
        raise ServingError(422, '"columns" must be an object of input name to a list of values',
                       field="columns")
    lengths = {k: len(v) for k, v in columns.items() if isinstance(v, list)}
    for name, values in columns.items():
        if not isinstance(values, list):
            raise ServingError(422, f"column {name!r} must be a list of values",
                           field=f"columns.{name}")
    missing = [n for n in model.features if n not in columns]
    if missing:
        raise ServingError(422, f"input {missing[0]!r} is missing", field=f"columns.{missing[0]}")
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}: {n}" for k, n in list(lengths.items())[:6])
        raise ServingError(422, f"columns differ in length ({shown})", field="columns")
    return next(iter(lengths.values()), 0)


def _columns_to_rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    # Every column sent goes into the rows (and so into the prediction log): an id column
    # the model does not use is what label files are joined on.
    names = list(columns)
    return [dict(zip(names, values, strict=True))
            for values in zip(*(columns[n] for n in names), strict=True)]


# -- CSV, Parquet, Arrow ---------------------------------------------------------------------


def _read_frame(body: bytes, kind: str, model: LoadedModel, n_rows: int) -> Any:
    """Read at most `n_rows` (one more than allowed, to tell "too many"): a small compressed
    body can hold millions of rows, which must not be decoded to be refused."""
    import polars as pl

    try:
        if kind == CSV:
            return pl.read_csv(io.BytesIO(body), schema_overrides=_csv_dtypes(model),
                               n_rows=n_rows)
        if kind == PARQUET:
            return pl.read_parquet(io.BytesIO(body), n_rows=n_rows)
        try:
            return pl.read_ipc_stream(io.BytesIO(body), n_rows=n_rows)
        except Exception:
            return pl.read_ipc(io.BytesIO(body), n_rows=n_rows)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServingError(422, f"the {kind} body cannot be read: {first}", field="body") from None


def _csv_dtypes(model: LoadedModel) -> dict[str, Any]:
    import polars as pl

    dtypes: dict[str, Any] = {}
    for item in model.signature["inputs"]:
        dtype = item["dtype"]
        if dtype in ("string", "date", "datetime"):
            dtypes[item["name"]] = pl.String
        elif dtype == "bool":
            dtypes[item["name"]] = pl.Boolean
        elif dtype == "int64" and item.get("categorical"):
            dtypes[item["name"]] = pl.Int64
        else:
            dtypes[item["name"]] = pl.Float64
    return dtypes


def _frame(frame: Any, model: LoadedModel, max_rows: int, kind: str) -> Batch:
    _check_count(frame.height, max_rows, "body")
    try:
        matrix = to_matrix(frame, model.signature)
    except FeatureError as exc:
        raise _feature_error(exc, kind) from None
    names = set(model.features)
    extra = [c for c in frame.columns if c not in names]
    unseen = count_unseen(matrix, model, lambda name, at: frame[name].gather(at).to_list()
                          if name in frame.columns else [])
    return Batch(matrix, extra, frame.to_dicts, model.signature, unseen)


def _check_count(rows: int, max_rows: int, where: str) -> None:
    if rows == 0:
        raise ServingError(422, "no rows to predict", field=where)
    if rows > max_rows:
        count = f"{rows:,} rows is" if where in ("rows", "columns") else (
            f"the body holds more than {max_rows:,} rows,")
        raise ServingError(413, f"{count} more than this daemon takes in one request "
                       f"({max_rows:,}; [serving] max_rows): split it, or drop the file in "
                       "score/ for a batch job", field=where)


def _feature_error(exc: FeatureError, where: str) -> ServingError:
    field = where
    if exc.row is not None and where in ("rows", "columns"):
        field = f"{where}[{exc.row}]" if where == "rows" else where
    if exc.input is not None:
        field = f"{field}.{exc.input}" if where != "columns" else f"columns.{exc.input}"
    return ServingError(422, str(exc), field=field, row=exc.row)
