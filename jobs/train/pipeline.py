"""run(): data versions → checked rows → split → LightGBM → metrics → model text artifact.

Nothing is written until the model is trained and evaluated: a bad input is a JobError and
leaves no artifact behind.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from jobs.context import JobContext, JobError, Timings
from jobs.features import FeatureError, signature_from_frame, to_matrix
from jobs.train import data, evaluate, holdout_stats
from jobs.train.fit import fit
from jobs.train.params import check_params
from jobs.train.split import split


def _versions() -> dict[str, str]:
    import lightgbm
    import polars
    import sklearn

    return {"python": platform.python_version(), "lightgbm": lightgbm.__version__,
            "numpy": np.__version__, "polars": polars.__version__,
            "scikit-learn": sklearn.__version__}


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import lightgbm as lgb

    params = check_params(params)
    task, target = params["task"], params["target"]
    timings = Timings()
    ctx.log.info("train %s: %s on %s from %s", params["model"], task, target,
                 ", ".join(f"{d['dataset']}@{d['version']}" for d in params["data"]))

    with timings("load", ctx):
        frame = data.load(params, ctx)
        frame, labels = data.labels(frame, params)
        features, categorical = data.choose_features(frame.columns, params, ctx)
    if labels.dropped:
        ctx.log.warning("%d rows without a %r value left out", labels.dropped, target)

    with timings("split", ctx):
        parts = split(frame, labels.y, labels.classes, params)
        slice_rows = holdout_stats.slice_columns(frame, params["slices"], parts.holdout)
        time_range = holdout_stats.time_range(frame, params["time_column"], parts.train,
                                              parts.holdout)
        columns = frame.select(features)
        del frame
        train_rows, holdout_rows = columns[parts.train], columns[parts.holdout]
        del columns
        data.check_features(train_rows, features, categorical)
        try:
            signature = signature_from_frame(train_rows, features, categorical)
            x_train, x_holdout = to_matrix(train_rows, signature), to_matrix(holdout_rows,
                                                                              signature)
        except FeatureError as exc:
            raise JobError(str(exc)) from None
        del train_rows, holdout_rows
        y_train, y_holdout = labels.y[parts.train], labels.y[parts.holdout]
    ctx.log.info("%s split: %d training rows, %d held out", parts.kind, len(y_train),
                 len(y_holdout))

    n_classes = len(labels.classes) if labels.classes is not None else None
    with timings("train", ctx):
        fitted = fit(x_train, y_train, x_holdout, y_holdout, signature, params, n_classes, ctx)

    with timings("evaluate", ctx):
        model_text = fitted.booster.model_to_string()
        stored = lgb.Booster(model_str=model_text)  # judge the model as it will be loaded
        threads = params["num_threads"]
        predictions = fitted.holdout_predictions
        if predictions is None:
            predictions = stored.predict(x_holdout, num_threads=threads)
        sample = evaluate.train_sample(len(y_train))
        train_predictions = fitted.curve_predictions
        if train_predictions is None:
            train_predictions = stored.predict(x_train[sample], num_threads=threads)
        threshold = params["threshold"] if task == "binary" else None
        metrics = evaluate.metrics(task, y_holdout, predictions, n_classes=n_classes,
                                   threshold=params["threshold"])
        trained = evaluate.metrics(task, y_train[sample], train_predictions,
                                   n_classes=n_classes, threshold=params["threshold"])
        metrics.update({f"train_{k}": v for k, v in trained.items() if k != "confusion_matrix"})
        importance = evaluate.importance(stored, features)
        num_trees = stored.num_trees()

    with timings("card", ctx):  # a model card's figures: intervals, slices
        evaluation = {
            "ci": holdout_stats.intervals(task, y_holdout, predictions, metrics,
                                          n_classes=n_classes, threshold=threshold,
                                          seed=params["seed"]),
            "slices": holdout_stats.slices(task, y_holdout, predictions, slice_rows,
                                           n_classes=n_classes, threshold=params["threshold"]),
            "time_range": time_range,
        }

    with timings("store", ctx):
        model_sha = ctx.artifacts.put_bytes(model_text.encode())
    ctx.log.info("model %s stored as %s: %s", params["model"], model_sha,
                 ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))

    if model_sha in ctx.artifacts.repaired:
        ctx.log.warning("the stored copy of %s was corrupt; these bytes replaced it", model_sha)
    return {
        "model_sha": model_sha,
        "repaired_blob": model_sha in ctx.artifacts.repaired,
        "signature": {
            "task": task,
            "target": {"name": target, "dtype": labels.dtype, "classes": labels.classes},
            "inputs": signature["inputs"],
            "threshold": threshold,
        },
        "metrics": metrics,
        "curves": fitted.curves,
        "importance": importance,
        "evaluation": evaluation,
        "best_iteration": fitted.best_iteration,
        "iterations": fitted.iterations,
        "num_trees": num_trees,
        "rows": {"train": len(y_train), "holdout": len(y_holdout),
                 "total": len(y_train) + len(y_holdout), "unlabelled": labels.dropped},
        "split_kind": parts.kind,
        "holdout_predictions_sha": evaluate.predictions_sha(predictions),
        "lgb_params_effective": fitted.lgb_params,
        "versions": _versions(),
        "timings": dict(timings),
    }
