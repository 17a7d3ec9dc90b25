"""The model's side of a drift check: its scores on the reference and on the current rows
(prediction drift), and its metrics on current rows that carry their label (performance),
whether the label came in the data or later, in a label file joined by the dataset's id."""

from __future__ import annotations

from typing import Any

import numpy as np

from jobs.context import JobContext
from jobs.drift.columns import Rows, sample_positions
from jobs.drift.profile import numeric_profile


def sample(frame: Any) -> Any:
    """At most PREDICTION_SAMPLE rows, spread evenly (the same rows every time)."""
    at = sample_positions(frame.height)
    return frame if at is None else frame.gather(at)




def scores(params: dict[str, Any], frame: Any, ctx: JobContext) -> np.ndarray:
    import lightgbm as lgb

    from jobs.features import to_matrix

    booster = lgb.Booster(model_str=ctx.artifacts.read_bytes(params["model_sha"]).decode())
    return booster.predict(to_matrix(sample(frame), params["signature"]), num_threads=2)


def summary(signature: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    """Scores summarised like a column: numbers, or (multiclass) the predicted classes'
    counts."""
    if signature.get("task") == "multiclass":
        classes = (signature.get("target") or {}).get("classes") or list(
            range(values.shape[1]))
        found = np.bincount(values.argmax(axis=1), minlength=len(classes))
        return {"kind": "categorical",
                "counts": {str(c): int(n) for c, n in zip(classes, found, strict=True) if n}}
    return numeric_profile(values)


def with_labels(frame: Any, params: dict[str, Any], ctx: JobContext) -> Any:
    """The current rows with the labels that arrived for them (label files, newest per id)
    where the data itself has none."""
    import orjson
    import polars as pl

    labels = params.get("labels")
    target = ((params["signature"].get("target") or {}).get("name"))
    if not labels or not target or labels["id_column"] not in frame.columns:
        return frame
    table = pl.read_parquet(ctx.artifacts.verify(labels["sha"]))
    if table.height == 0:
        return frame
    decoded = pl.Series("__label", [orjson.loads(v) for v in table["label"].to_list()],
                        strict=False)
    table = pl.DataFrame({"__id": table["id"].cast(pl.String), "__label": decoded})
    joined = frame.with_columns(pl.col(labels["id_column"]).cast(pl.String).alias("__id")).join(
        table, on="__id", how="left")
    if target in frame.columns:
        label = pl.coalesce(pl.col(target), pl.col("__label").cast(frame.schema[target],
                                                                     strict=False))
    else:
        label = pl.col("__label")
    return joined.with_columns(label.alias(target)).drop("__id", "__label")


def labelled(params: dict[str, Any], rows: Rows, ctx: JobContext) -> Any:
    """The current rows whose label is known (in the data, or from label files), their
    inputs and label, at most PREDICTION_SAMPLE of them spread evenly — what `performance`
    would keep of all rows, found from the label and id columns before any input is read.
    None when no row can have a label."""
    import polars as pl

    signature = params["signature"]
    target = (signature.get("target") or {}).get("name")
    id_column = (params.get("labels") or {}).get("id_column")
    if not target or not params.get("model_sha"):
        return None
    keys = [c for c in dict.fromkeys((target, id_column)) if c and c in rows.columns]
    if not keys:
        return None
    found = with_labels(rows.frame(keys).with_row_index("__row"), params, ctx)
    if target not in found.columns:
        return None
    found = sample(found.sort("__row").filter(pl.col(target).is_not_null()))
    inputs = [i["name"] for i in signature["inputs"] if i["name"] != target]
    return rows.frame(inputs, found["__row"].cast(pl.Int64).to_numpy()).with_columns(
        found[target])


def performance(params: dict[str, Any], frame: Any, ctx: JobContext) -> dict[str, Any] | None:
    """When current rows carry the target: the version's metrics on them (up to
    PREDICTION_SAMPLE rows), by the same code as its holdout metrics."""
    import polars as pl

    from jobs.train import evaluate

    signature = params["signature"]
    target = (signature.get("target") or {}).get("name")
    if not target or not params.get("model_sha") or target not in frame.columns:
        return None
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height == 0:
        return None
    frame = sample(frame)
    found = scores(params, frame, ctx)
    task = signature.get("task") or "regression"
    if task == "regression":
        y = frame[target].cast(pl.Float64).to_numpy()
        classes = None
    else:
        classes = (signature.get("target") or {}).get("classes") or []
        index = {c: i for i, c in enumerate(classes)}
        labels = frame[target].to_list()
        keep = np.array([label in index for label in labels])
        if not keep.any():
            return {"rows": 0, "note": "no label of the model's classes"}
        y = np.array([index[label] for label in labels if label in index], dtype=np.int32)
        found = found[keep]
    metrics = evaluate.metrics(task, y, found, n_classes=len(classes) if classes else None,
                               threshold=signature.get("threshold") or 0.5)
    return {"rows": len(y), "metrics": metrics}
