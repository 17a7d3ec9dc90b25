"""LightGBM's raw output -> the prediction API's reply, and the example row of a signature.

The daemon's serving (`mlopsd/serving/loaded.py`) answers with these, and `mlops export
--container` copies this file as it is beside the exported server, so both reply alike.
It imports only numpy and the standard library for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def answer(task: str, classes: Sequence[Any] | None, threshold: float | None,
           raw: np.ndarray) -> dict[str, Any]:
    """Values (regression), the positive class's probability and the label at the threshold
    (binary), class probabilities and the most likely label (multiclass)."""
    if task == "regression":
        return {"predictions": json_floats(raw)}
    found = list(classes) if classes else list(range(2 if task == "binary" else raw.shape[1]))
    if task == "binary":
        cut = 0.5 if threshold is None else threshold
        labels = [found[1] if p >= cut else found[0] for p in raw.tolist()]
        return {"predictions": json_floats(raw), "labels": labels, "classes": found,
                "threshold": cut}
    best = raw.argmax(axis=1).tolist()
    return {"predictions": [json_floats(row) for row in raw],
            "labels": [found[i] for i in best], "classes": found}


def explain(task: str, features: list[str], contributions: np.ndarray) -> dict[str, Any]:
    """pred_contrib split into per-feature contributions and the base value (per class for
    multiclass), aligned with `features`."""
    width = len(features) + 1
    if task == "multiclass":
        k = contributions.shape[1] // width
        per_class = contributions.reshape(contributions.shape[0], k, width)
        return {"features": features,
                "contributions": [[json_floats(c[:-1]) for c in row] for row in per_class],
                "base_value": [[float(c[-1]) for c in row] for row in per_class]}
    return {"features": features,
            "contributions": [json_floats(row[:-1]) for row in contributions],
            "base_value": [float(row[-1]) for row in contributions]}


def json_floats(values: np.ndarray) -> list[Any]:
    """JSON has no NaN: a NaN prediction (a model fed all-missing inputs can give one) is
    null."""
    out = values.tolist()
    if any(v != v for v in out):
        return [None if (isinstance(v, float) and math.isnan(v)) else v for v in out]
    return out


def example_row(signature: Mapping[str, Any]) -> dict[str, Any]:
    """A row that fits the signature (first category, zero, a fixed date): the daemon's
    warm-up input and the example request of GET /v1/models/{name}."""
    row: dict[str, Any] = {}
    for item in signature["inputs"]:
        if item.get("categorical"):
            categories = item.get("categories") or []
            row[item["name"]] = categories[0] if categories else None
        elif item["dtype"] == "date":
            row[item["name"]] = "2024-01-01"
        elif item["dtype"] == "datetime":
            row[item["name"]] = "2024-01-01T00:00:00"
        elif item["dtype"] == "bool":
            row[item["name"]] = False
        else:
            row[item["name"]] = 0
    return row
