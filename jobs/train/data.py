"""The training rows: hash-checked snapshots → one frame, the window, the labels, the features.

Each step checks what it needs and raises a JobError that names the dataset, column or value
at fault, before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from jobs.context import JobContext, JobError
from jobs.ingest.dtypes import from_polars
from jobs.train.params import parse_time
from store.errors import ArtifactError

MAX_CLASSES = 1000
MAX_CATEGORIES = 10_000
"""A categorical input with more distinct values is an identifier, not a feature: refused."""


def _label(item: dict[str, Any]) -> str:
    return f"{item['dataset']}@{item['version']}"


def load(params: dict[str, Any], ctx: JobContext) -> pl.DataFrame:
    """The rows of params["data"] in order (columns missing from a version are null there),
    cut to params["window"]."""
    target = params["target"]
    frames = []
    for item in params["data"]:
        try:
            path = ctx.artifacts.verify(item["snapshot_sha"])
        except ArtifactError as exc:
            raise JobError(f"data {_label(item)}: the snapshot cannot be used: {exc}") from None
        schema = pl.read_parquet_schema(path)
        if target not in schema:
            raise JobError(f"data {_label(item)} has no target column {target!r} (its columns: "
                           f"{', '.join(schema)})")
        frames.append(pl.scan_parquet(path))
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    window = params["window"]
    if window and (window["start"] or window["end"]):
        column = window["time_column"]
        dtype = frame.collect_schema().get(column)
        if dtype is None:
            raise JobError(f"window: no time column {column!r} in the data")
        if dtype != pl.Date and not isinstance(dtype, pl.Datetime):
            raise JobError(f"window: time column {column!r} is {dtype}, not a date or datetime")
        at = pl.col(column).cast(pl.Datetime("us")) if dtype == pl.Date else pl.col(column)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            at = at.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if window["start"]:
            frame = frame.filter(at >= parse_time(window["start"]))
        if window["end"]:
            frame = frame.filter(at < parse_time(window["end"]))
    return frame.collect()


@dataclass
class Labels:
    y: np.ndarray
    """float64 targets (regression) or int32 class indices into `classes`."""
    classes: list | None
    dtype: str
    dropped: int
    """rows without a label (null or NaN target), left out."""


def labels(frame: pl.DataFrame, params: dict[str, Any]) -> tuple[pl.DataFrame, Labels]:
    """The labelled rows and their labels, after checking the target fits the task."""
    target, task = params["target"], params["task"]
    column = frame.get_column(target)
    dtype = from_polars(column.dtype)
    missing = column.is_null()
    if column.dtype.is_float():
        missing = missing | column.is_nan()
    dropped = int(missing.sum())
    if dropped:
        frame = frame.filter(~missing)
        column = frame.get_column(target)
    if frame.height < params["min_rows"]:
        raise JobError(f"only {frame.height} rows with a {target!r} value (after the window and "
                       f"{dropped} without one); min_rows is {params['min_rows']}")
    if task == "regression":
        if dtype not in ("int64", "float64", "bool"):
            raise JobError(f"target {target!r} is {dtype}: a regression needs a numeric target "
                           "(use task binary or multiclass for classes)")
        y = column.cast(pl.Float64).to_numpy()
        if not np.isfinite(y).all():
            raise JobError(f"target {target!r} has infinite values")
        if y.min() == y.max():
            raise JobError(f"target {target!r} is constant (every row is {y[0]:g}): nothing to "
                           "learn")
        return frame, Labels(np.ascontiguousarray(y, dtype=np.float64), None, dtype, dropped)
    if dtype not in ("int64", "float64", "bool", "string"):
        raise JobError(f"target {target!r} is {dtype}: classes must be text, numbers or true/false")
    if dtype == "string" and column.dtype != pl.String:
        column = column.cast(pl.String)
    classes = column.unique().sort().to_list()
    if len(classes) < 2:
        raise JobError(f"target {target!r} has one class ({classes[0]!r}) in all {frame.height} "
                       "rows: nothing to learn")
    if task == "binary" and len(classes) != 2:
        shown = ", ".join(map(repr, classes[:10])) + (", …" if len(classes) > 10 else "")
        raise JobError(f"a binary task needs exactly 2 classes in {target!r}, found "
                       f"{len(classes)}: {shown} (use task multiclass)")
    if len(classes) > MAX_CLASSES:
        raise JobError(f"target {target!r} has {len(classes)} classes (more than {MAX_CLASSES}): "
                       "is it a regression target?")
    codes = list(range(len(classes)))
    y = column.replace_strict(classes, codes, return_dtype=pl.Int32).to_numpy()
    return frame, Labels(np.ascontiguousarray(y), classes, dtype, dropped)


def choose_features(columns: list[str], params: dict[str, Any], ctx: JobContext
                    ) -> tuple[list[str], list[str]]:
    """The feature columns (in data order unless `include` gives one) and the extra
    categorical ones; unknown names are errors."""
    present = set(columns)
    include, exclude = params["features"]["include"], params["features"]["exclude"]
    target = params["target"]
    for field, names in (("features.include", include or []),
                         ("categorical", params["categorical"])):
        unknown = [name for name in names if name not in present]
        if unknown:
            raise JobError(f"{field}: no column {unknown[0]!r} in the data (its columns: "
                           f"{', '.join(columns)})")
    absent = [name for name in exclude if name not in present]
    if absent:
        ctx.log.warning("features.exclude names columns not in the data: %s", ", ".join(absent))
    if include is None:
        # a time column is an order, not a feature: left out unless included by name
        times = {params["time_column"], (params["window"] or {}).get("time_column")}
        features = [c for c in columns if c != target and c not in times]
    else:
        features = list(include)
    features = [c for c in features if c not in set(exclude)]
    if not features:
        raise JobError("no feature columns are left after features.include/exclude")
    outside = [c for c in params["categorical"] if c not in features]
    if outside:
        raise JobError(f"categorical: column {outside[0]!r} is not one of the features")
    return features, list(params["categorical"])


def check_features(frame: pl.DataFrame, features: list[str], categorical: list[str]) -> None:
    """Every feature has a value in some training row; categorical ones are not identifiers."""
    exprs = []
    for name in features:
        col = pl.col(name)
        present = col.is_not_null()
        if frame.schema[name].is_float():
            present = present & col.is_not_nan()
        exprs.append(present.sum().alias(name))
    counts = frame.select(exprs).row(0, named=True) if exprs else {}
    empty = [name for name in features if not counts[name]]
    if empty:
        raise JobError(f"feature {empty[0]!r} is all null/NaN in the {frame.height} training rows"
                       + (f" (also: {', '.join(map(repr, empty[1:]))})" if empty[1:] else "")
                       + "; exclude it with features.exclude")
    extra = set(categorical)
    wide = [(name, n) for name in features
            if (frame.schema[name] in (pl.String, pl.Categorical) or name in extra)
            and (n := frame.get_column(name).n_unique()) > MAX_CATEGORIES]
    if wide:
        name, n = wide[0]
        raise JobError(f"categorical feature {name!r} has {n} distinct values in the training rows "
                       f"(more than {MAX_CATEGORIES}): exclude it or encode it first")
