"""Train / holdout split: by time when there is a time column, else (stratified) random.

- time: the most recent `holdout` share of rows by the time column is held out; rows with the
  same time keep their row order (a stable sort), so the cut is the same every run.
- stratified (binary, multiclass) or random (regression): sklearn's `train_test_split` with
  `split.seed`. The indices come back sorted, so both parts keep the data's row order.

The holdout is ceil(holdout * rows) rows, as sklearn counts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from jobs.context import JobError


@dataclass
class Split:
    train: np.ndarray
    holdout: np.ndarray
    kind: str


def split(frame: pl.DataFrame, y: np.ndarray, classes: list | None,
          params: dict[str, Any]) -> Split:
    share = params["split"]["holdout"]
    n = frame.height
    n_holdout = min(max(math.ceil(share * n), 1), n - 1)
    column = params["time_column"]
    if column:
        result = by_time(frame, column, n_holdout)
    else:
        result = at_random(y, classes, n_holdout, params["split"]["seed"])
    if classes is not None:
        _check_classes(y, classes, result, params["target"])
    return result


def time_order(frame: pl.DataFrame, column: str) -> np.ndarray:
    """Row positions sorted by `column`, ties in row order."""
    if column not in frame.schema:
        raise JobError(f"time_column: no column {column!r} in the data")
    dtype = frame.schema[column]
    if not (dtype.is_numeric() or dtype == pl.Date or isinstance(dtype, pl.Datetime)):
        raise JobError(f"time_column {column!r} is {dtype}: a time split needs dates, datetimes "
                       "or numbers")
    times = frame.get_column(column)
    missing = times.null_count() + (int(times.is_nan().sum()) if dtype.is_float() else 0)
    if missing:
        raise JobError(f"time_column {column!r} has no value in {missing} rows: a time split "
                       "needs a time on every row")
    if isinstance(dtype, pl.Datetime | pl.Date):
        times = times.to_physical()
    return np.argsort(times.to_numpy(), kind="stable")


def by_time(frame: pl.DataFrame, column: str, n_holdout: int) -> Split:
    order = time_order(frame, column)
    cut = len(order) - n_holdout
    return Split(order[:cut], order[cut:], "time")


def at_random(y: np.ndarray, classes: list | None, n_holdout: int, seed: int) -> Split:
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    stratify = None
    if classes is not None:
        counts = np.bincount(y, minlength=len(classes))
        if counts.min() < 2:
            rare = classes[int(np.argmin(counts))]
            raise JobError(f"class {rare!r} has only {counts.min()} row: a stratified split needs "
                           "at least 2 rows of each class (one for training, one to hold out)")
        if n_holdout < len(classes):
            raise JobError(f"the holdout ({n_holdout} rows) is smaller than the number of "
                           f"classes ({len(classes)}): raise split.holdout or add rows")
        stratify = y
    try:
        train, holdout = train_test_split(rows, test_size=n_holdout, random_state=seed,
                                          shuffle=True, stratify=stratify)
    except ValueError as exc:
        raise JobError(f"cannot split the rows: {exc}") from None
    return Split(np.sort(train), np.sort(holdout),
                 "random" if stratify is None else "stratified")


def _check_classes(y: np.ndarray, classes: list, result: Split, target: str) -> None:
    for part, rows in (("holdout", result.holdout), ("training rows", result.train)):
        seen = np.bincount(y[rows], minlength=len(classes))
        absent = [classes[i] for i in np.flatnonzero(seen == 0)]
        if absent:
            shown = ", ".join(map(repr, absent[:10])) + (", …" if len(absent) > 10 else "")
            raise JobError(f"class{'es' if len(absent) > 1 else ''} {shown} of {target!r} "
                           f"{'are' if len(absent) > 1 else 'is'} missing from the {part} "
                           f"({result.kind} split of {len(result.train) + len(result.holdout)} "
                           "rows): change the split or add data")
