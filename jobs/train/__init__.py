"""train: data versions → a deterministic LightGBM model (text) in the artifact store.

The worker side of `mlops train`: the daemon resolves the model's data selector to exact
snapshots and runs `run(params, ctx)` in a worker process. The result is a plain JSON dict
(signature, holdout metrics with their intervals and slices, curves, importance, lineage
of versions); the model itself goes to the artifact store as LightGBM text and only its sha
comes back.

Import-light like the registry that lists it: the daemon imports this to check params, and
only `run` (in the worker) loads polars, numpy, scikit-learn and LightGBM.
"""

from __future__ import annotations

from typing import Any

from jobs.context import JobContext
from jobs.train.params import check_params

DESCRIPTION = (
    "Train a LightGBM model (regression, binary or multiclass) on resolved data versions with "
    "a time-based or (stratified) random holdout, deterministically; store the model text as "
    "an artifact; measure its holdout metrics with bootstrap intervals (and per slice "
    "of the columns a model card declares); params: model, task, target, data, window, "
    "time_column, features, categorical, lgb_params, rounds, early_stopping, split, "
    "threshold, min_rows, seed, num_threads, slices."
)


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from jobs.train.pipeline import run as train

    return train(params, ctx)


__all__ = ["DESCRIPTION", "check_params", "run"]
