"""The latency of a single prediction: what one request of one row costs the model.

Timed in the worker, on rows of the holdout spread evenly over it: one row encoded as the
daemon encodes it (`jobs.features.to_matrix`, the model's own signature) and predicted by
`Booster.predict` on one thread, as serving predicts. Serving's fast path (one C call per
row, `mlopsd/serving/single_row.py`) skips part of `Booster.predict`'s set-up, so a live
request is at most this, plus HTTP. The first prediction warms caches and is not counted.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from jobs.features import to_matrix

WHAT = ("one holdout row encoded with the model's signature and predicted by "
        "Booster.predict on 1 thread, in a worker")


def single_row(booster: Any, signature: dict[str, Any], rows: pl.DataFrame,
               count: int) -> dict[str, Any]:
    """p50, p95 and the slowest of `count` single-row predictions (milliseconds)."""
    count = max(1, min(count, rows.height))
    picks = np.linspace(0, rows.height - 1, num=count).round().astype(int).tolist()
    booster.predict(to_matrix(rows.slice(picks[0], 1), signature), num_threads=1)
    took = []
    for at in picks:
        row = rows.slice(at, 1)
        started = time.perf_counter()
        booster.predict(to_matrix(row, signature), num_threads=1)
        took.append(time.perf_counter() - started)
    ms = np.array(took) * 1000
    return {"rows": count, "p50_ms": round(float(np.quantile(ms, 0.5)), 4),
            "p95_ms": round(float(np.quantile(ms, 0.95)), 4),
            "max_ms": round(float(ms.max()), 4), "what": WHAT}
