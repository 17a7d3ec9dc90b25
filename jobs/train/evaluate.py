"""Holdout metrics (sklearn.metrics), feature importance and the holdout predictions' hash.

Everything is computed from the model as stored (its text loaded back), so what is reported
is what serving and `reproduce` will get; the holdout's and the train sample's predictions
come from LightGBM's training state when the model keeps every round it ran (the same bits
as predicting with the stored model: tests/test_train_job.py checks it), else from
predicting with the stored model.

- regression: rmse, mae, r2
- binary: auc, log_loss, and at the threshold accuracy, precision, recall, f1 and
  confusion_matrix [[tn, fp], [fn, tp]] (the positive class is the second of the sorted
  classes)
- multiclass: accuracy, macro_f1, log_loss

plus `train_<metric>` for each number, on the training rows, or on an evenly spaced sample of
TRAIN_SAMPLE of them when there are more: they are a diagnostic (the train/holdout gap), and
predicting 800,000 training rows with 500 trees took 7 s, a third of the training time.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

TRAIN_SAMPLE = 20_000


def predictions_sha(predictions: np.ndarray) -> str:
    """sha256 of the predictions as little-endian float64 bytes, row-major."""
    data = np.ascontiguousarray(predictions, dtype="<f8")
    return hashlib.sha256(data.tobytes()).hexdigest()


def _safe(value: Any) -> Any:
    value = float(value)
    return value if math.isfinite(value) else None


def metrics(task: str, y: np.ndarray, predictions: np.ndarray, *, n_classes: int | None,
            threshold: float) -> dict[str, Any]:
    from sklearn import metrics as m

    if task == "regression":
        return {"rmse": _safe(m.root_mean_squared_error(y, predictions)),
                "mae": _safe(m.mean_absolute_error(y, predictions)),
                "r2": _safe(m.r2_score(y, predictions)) if len(y) > 1 else None}
    if task == "binary":
        decided = (predictions >= threshold).astype(np.int32)
        tn, fp, fn, tp = (int(v) for v in m.confusion_matrix(y, decided, labels=[0, 1]).ravel())
        both = len(np.unique(y)) == 2
        return {"auc": _safe(m.roc_auc_score(y, predictions)) if both else None,
                "log_loss": _safe(m.log_loss(y, predictions, labels=[0, 1])),
                "accuracy": _safe(m.accuracy_score(y, decided)),
                "precision": _safe(m.precision_score(y, decided, zero_division=0)),
                "recall": _safe(m.recall_score(y, decided, zero_division=0)),
                "f1": _safe(m.f1_score(y, decided, zero_division=0)),
                "confusion_matrix": [[tn, fp], [fn, tp]]}
    labels = list(range(n_classes or predictions.shape[1]))
    decided = predictions.argmax(axis=1)
    return {"accuracy": _safe(m.accuracy_score(y, decided)),
            "macro_f1": _safe(m.f1_score(y, decided, labels=labels, average="macro",
                                         zero_division=0)),
            "log_loss": _safe(m.log_loss(y, predictions, labels=labels))}


def train_sample(n: int) -> np.ndarray:
    """Row positions of the training rows the train_ metrics use: all, or evenly spaced."""
    if n <= TRAIN_SAMPLE:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, TRAIN_SAMPLE).astype(np.int64))


def importance(booster: Any, names: list[str]) -> dict[str, dict[str, float | int]]:
    """Total gain and split count per feature (original column names) in the stored model."""
    gain = booster.feature_importance(importance_type="gain")
    split = booster.feature_importance(importance_type="split")
    return {"gain": {n: _safe(v) for n, v in zip(names, gain, strict=True)},
            "split": {n: int(v) for n, v in zip(names, split, strict=True)}}
