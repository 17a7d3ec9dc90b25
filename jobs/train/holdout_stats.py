"""What a model card says about the holdout beyond its metrics: a bootstrap confidence
interval of each metric, the metrics per slice of up to three declared columns, and the
time span of the training and holdout rows.

- Intervals: `jobs.compare.bootstrap.one_model`, the comparison's seeded scheme (resample b
  is `rng.integers(0, n, size=n)` from `default_rng(seed)`), percentile intervals over
  RESAMPLES resamples at CONFIDENCE; a holdout of more than RESAMPLE_ROWS rows is
  bootstrapped on a seeded sample of that many, the spread scaled by sqrt(m/n). The
  holdout's rows are resampled, the model is not retrained: the interval says how much the
  figure would move on another holdout of the same size, not how much another training
  would.
- Slices: the holdout's rows grouped by one column's value. Text and true/false columns:
  each value, or the TOP_VALUES most frequent and the rest as one group; numbers, dates and
  times with at most TOP_VALUES distinct values: each value; with more, QUANTILE_BINS bins
  cut at the holdout's quantiles (fewer when values tie). Missing values are a group of
  their own. Each group's `how` says which rule made it; a group under FEW_ROWS rows is
  flagged, its figures are noisy.
"""

from __future__ import annotations

import math
import warnings
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from jobs.compare.bootstrap import Scored, one_model
from jobs.compare.params import METRICS
from jobs.context import JobError
from jobs.ingest.dtypes import from_polars
from jobs.train import evaluate

RESAMPLES = 400
RESAMPLE_ROWS = 10_000
"""A larger holdout is bootstrapped on a seeded sample of this many rows, the spread scaled
to its size: 400 resamples of all of a 200,000-row holdout took 2.2 s (regression) and
3.4 s (binary) here, a fifth to a third of its training; this way 0.1-0.2 s at any size
(10,000 to 200,000 rows, each task), and the interval as wide within a few percent."""
CONFIDENCE = 0.95
TOP_VALUES = 10
QUANTILE_BINS = 5
FEW_ROWS = 30
MISSING = "(missing)"


def intervals(task: str, y: np.ndarray, predictions: np.ndarray, point: dict[str, Any], *,
              n_classes: int | None, threshold: float | None, seed: int) -> dict[str, Any]:
    """Per metric of the task: the bootstrap interval around its value on the whole
    holdout (`point`), and how it was made."""
    n = len(y)
    centre = point
    if n > RESAMPLE_ROWS:
        # m of n rows: a seeded sample of the holdout is resampled, and the spread of its
        # resamples around its own value is scaled by sqrt(m/n) around the holdout's value
        rows = np.sort(np.random.default_rng(seed).choice(n, RESAMPLE_ROWS, replace=False))
        y, predictions = y[rows], predictions[rows]
        centre = evaluate.metrics(task, y, predictions, n_classes=n_classes,
                                  threshold=threshold if threshold is not None else 0.5)
    size = len(y)
    found = one_model(METRICS[task], y, Scored(predictions, threshold), n_classes=n_classes,
                      resamples=RESAMPLES, seed=seed)
    scale = math.sqrt(size / n) if n else 1.0
    tail = (1 - CONFIDENCE) / 2
    out = {}
    for metric, values in found.items():
        kept = values[~np.isnan(values)]
        value, middle = point.get(metric), centre.get(metric)
        low = high = None
        if len(kept) and value is not None and middle is not None:
            q_low, q_high = (float(q) for q in np.quantile(kept, [tail, 1 - tail]))
            # with m = n this is the plain percentile interval
            low, high = ((q_low, q_high) if size == n else
                         (value + scale * (q_low - middle), value + scale * (q_high - middle)))
        out[metric] = {"low": low, "high": high, "skipped": int(len(values) - len(kept))}
    method = "percentile bootstrap over the holdout's rows (the model is not retrained)"
    if size < n:
        method += (f"; on a seeded sample of {size:,} of its {n:,} rows, the spread scaled by "
                   f"sqrt({size:,}/{n:,})")
    return {"method": method, "confidence": CONFIDENCE, "resamples": RESAMPLES,
            "rows": size, "seed": seed, "metrics": out}


def slice_columns(frame: pl.DataFrame, names: list[str], holdout: np.ndarray) -> pl.DataFrame:
    """The holdout rows of the declared slice columns, as the data holds them."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise JobError(f"[model.card] slices names {', '.join(map(repr, missing))}, not a "
                       f"column of the data (its columns: {', '.join(frame.columns)})")
    if not names:
        return pl.DataFrame()
    return frame.select(names)[holdout]


def slices(task: str, y: np.ndarray, predictions: np.ndarray, columns: pl.DataFrame, *,
           n_classes: int | None, threshold: float) -> list[dict[str, Any]]:
    out = []
    for name in columns.columns:
        groups, how = _groups(columns.get_column(name))
        rows = []
        for label, mask in groups:
            n = int(mask.sum())
            if not n:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a one-class group: sklearn warns, we say None
                found = evaluate.metrics(task, y[mask], predictions[mask], n_classes=n_classes,
                                         threshold=threshold)
            rows.append({"value": label, "rows": n, "few_rows": n < FEW_ROWS,
                         "metrics": {k: v for k, v in found.items()
                                     if k != "confusion_matrix"}})
        out.append({"column": name, "dtype": _dtype(columns.get_column(name)), "how": how,
                    "groups": rows})
    return out


def _dtype(series: pl.Series) -> str:
    try:
        return from_polars(series.dtype)
    except Exception:  # a dtype our schemas do not name (e.g. a list): polars' own name
        return str(series.dtype)


def _groups(series: pl.Series) -> tuple[list[tuple[str, np.ndarray]], str]:
    missing = series.is_null()
    if series.dtype.is_float():
        missing = missing | series.is_nan().fill_null(False)
    absent = missing.to_numpy()
    present = series.filter(~missing)
    ordered = series.dtype.is_numeric() or series.dtype.is_temporal()
    if ordered and present.n_unique() > TOP_VALUES:
        groups, how = _quantile_bins(series, present, absent)
    elif ordered:
        groups = [(_label(v), _equal(series, v)) for v in present.unique().sort().to_list()]
        how = "each value"
    else:
        groups, how = _top_values(series, present)
    if absent.any():
        groups.append((MISSING, absent))
    return groups, how


def _equal(series: pl.Series, value: Any) -> np.ndarray:
    return (series == value).fill_null(False).to_numpy()


def _top_values(series: pl.Series, present: pl.Series) -> tuple[list[tuple[str, np.ndarray]],
                                                                   str]:
    counts = present.value_counts(name="n")
    counts = counts.sort(["n", counts.columns[0]], descending=[True, False])
    values = counts.get_column(counts.columns[0]).to_list()
    top = values[:TOP_VALUES]
    groups = [(_label(v), _equal(series, v)) for v in top]
    if len(values) <= TOP_VALUES:
        return groups, "each value"
    rest = len(values) - TOP_VALUES
    other = (~series.is_in(top) & series.is_not_null()).to_numpy()
    groups.append((f"other ({rest} values)", other))
    return groups, (f"the {TOP_VALUES} most frequent values in the holdout; the other {rest} "
                    "together")


def _quantile_bins(series: pl.Series, present: pl.Series, absent: np.ndarray
                   ) -> tuple[list[tuple[str, np.ndarray]], str]:
    temporal = series.dtype.is_temporal()
    numbers = series.to_physical().cast(pl.Float64).to_numpy()
    known = present.to_physical().cast(pl.Float64).to_numpy()
    edges = np.unique(np.quantile(known, np.linspace(0, 1, QUANTILE_BINS + 1)))
    groups = []
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        last = i == len(edges) - 2
        with np.errstate(invalid="ignore"):
            inside = (numbers >= low) & ((numbers <= high) if last else (numbers < high))
        inside &= ~absent
        close = "]" if last else ")"
        text = (f"[{_edge(low, series.dtype, temporal)}, "
                f"{_edge(high, series.dtype, temporal)}{close}")
        groups.append((text, inside))
    return groups, (f"{len(groups)} bins cut at the holdout's quantiles (about "
                    f"{100 / max(len(groups), 1):.0f}% of its rows each; [a, b) holds a up "
                    "to b)")


def _edge(value: float, dtype: pl.DataType, temporal: bool) -> str:
    if not temporal:
        return f"{value:.4g}"
    # Date counts days since 1970 in an int32, Datetime its time unit in an int64
    physical = pl.Series([round(value)], dtype=pl.Int32 if dtype == pl.Date else pl.Int64)
    return _label(physical.cast(dtype)[0])


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def time_range(frame: pl.DataFrame, column: str | None, train: np.ndarray,
               holdout: np.ndarray) -> dict[str, Any] | None:
    """The first and last time of the training rows and of the holdout rows."""
    if not column or column not in frame.columns:
        return None
    times = frame.get_column(column)
    if not times.dtype.is_temporal():
        return None

    def span(rows: np.ndarray) -> list[str | None]:
        part = times[rows].drop_nulls()
        if not len(part):
            return [None, None]
        return [_label(part.min()), _label(part.max())]

    return {"column": column, "train": span(train), "holdout": span(holdout)}
