"""A model version loaded for serving: its booster, signature and how to answer.

Loading reads the artifact back hash-checked (only our own, verified model texts are ever
parsed in the daemon: LightGBM's parser is not hardened) and checks the booster against
the signature; a warm-up prediction proves it answers before it takes traffic.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs.features import to_matrix
from mlopsd.serving.single_row import SingleRow
from store.artifacts import ArtifactStore
from store.errors import ArtifactError
from store.models import ModelVersion

log = logging.getLogger("mlops.serving")

SINGLE_THREAD_ROWS = 200
"""Up to this many rows a prediction runs on one thread: LightGBM's default threading gave
12 ms p99 spikes on single rows (see ../shared/TRAPS.md), and concurrent small requests
already use the cores; a bigger batch is faster on all of them (1,000 rows: 2.6 ms on one
thread)."""


class LoadError(Exception):
    """A version that cannot serve: unreadable artifact, signature mismatch, failed warm-up."""

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt
        """Its artifact is missing or no longer matches its hash."""


@dataclass
class LoadedModel:
    name: str
    version: str
    sha: str
    task: str
    signature: dict[str, Any]
    booster: Any
    features: list[str]
    classes: list[Any] | None
    threshold: float | None
    single: SingleRow | None = None
    """LightGBM's fast one-row path, once `load` checked it answers as `predict` does."""

    @property
    def key(self) -> str:
        return f"{self.name}:{self.version}"

    @functools.cached_property
    def categorical_columns(self) -> list[int]:
        """Positions of the categorical inputs in the input matrix."""
        return [j for j, item in enumerate(self.signature.get("inputs", []))
                if item.get("categorical")]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if self.single is not None and matrix.shape[0] == 1:
            raw = self.single.predict(matrix)
            if raw is not None:
                return raw
        threads = 1 if matrix.shape[0] <= SINGLE_THREAD_ROWS else 0
        return self.booster.predict(matrix, num_threads=threads)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        threads = 1 if matrix.shape[0] <= SINGLE_THREAD_ROWS else 0
        return self.booster.predict(matrix, pred_contrib=True, num_threads=threads)

    def answer(self, raw: np.ndarray) -> dict[str, Any]:
        """Predictions as the API returns them: values (regression), the positive class's
        probability and the label at the threshold (binary), class probabilities and the
        most likely label (multiclass)."""
        if self.task == "regression":
            return {"predictions": _floats(raw)}
        classes = self.classes or list(range(2 if self.task == "binary" else raw.shape[1]))
        if self.task == "binary":
            threshold = 0.5 if self.threshold is None else self.threshold
            labels = [classes[1] if p >= threshold else classes[0] for p in raw.tolist()]
            return {"predictions": _floats(raw), "labels": labels, "classes": classes,
                    "threshold": threshold}
        best = raw.argmax(axis=1).tolist()
        return {"predictions": [_floats(row) for row in raw],
                "labels": [classes[i] for i in best], "classes": classes}

    def explain(self, contributions: np.ndarray) -> dict[str, Any]:
        """pred_contrib split into per-feature contributions and the base value (per class
        for multiclass), aligned with `features`."""
        width = len(self.features) + 1
        if self.task == "multiclass":
            k = contributions.shape[1] // width
            per_class = contributions.reshape(contributions.shape[0], k, width)
            return {"features": self.features,
                    "contributions": [[_floats(c[:-1]) for c in row] for row in per_class],
                    "base_value": [[float(c[-1]) for c in row] for row in per_class]}
        return {"features": self.features,
                "contributions": [_floats(row[:-1]) for row in contributions],
                "base_value": [float(row[-1]) for row in contributions]}

    def example_row(self) -> dict[str, Any]:
        """A row that fits the signature (first category, zero, a fixed date): the warm-up
        input and the example request of GET /v1/models/{name}."""
        row: dict[str, Any] = {}
        for item in self.signature["inputs"]:
            if item.get("categorical"):
                categories = item.get("categories") or []
                row[item["name"]] = categories[0] if categories else None
            elif item["dtype"] in ("date", "datetime"):
                row[item["name"]] = "2024-01-01" if item["dtype"] == "date" else (
                    "2024-01-01T00:00:00")
            elif item["dtype"] == "bool":
                row[item["name"]] = False
            else:
                row[item["name"]] = 0
        return row


def _floats(values: np.ndarray) -> list[float | None]:
    """JSON has no NaN: a NaN prediction (a model fed all-missing inputs can give one) is
    null."""
    out = values.tolist()
    if any(v != v for v in out):
        return [None if (isinstance(v, float) and math.isnan(v)) else v for v in out]
    return out


def import_lightgbm_for_serving() -> Any:
    """LightGBM for serving, imported without its scikit-learn wrappers and its pandas
    support: `import lightgbm` imports scikit-learn (0.7 s of the daemon's ~2 s to its first
    prediction) and pandas (0.3 s, ~40 MB; the tests' MLflow client brings it) when they
    are installed, and serving only needs the Booster. Both stay importable for everything
    else; only this process's `lightgbm` goes without them. The daemon calls this before it
    starts any thread, so no other import sees the gap."""
    if "lightgbm" in sys.modules:
        return sys.modules["lightgbm"]
    blocked = [name for name in ("sklearn", "pandas") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import lightgbm
    finally:
        for name in blocked:
            del sys.modules[name]
    return lightgbm


def load(artifacts: ArtifactStore, version: ModelVersion) -> LoadedModel:
    """Load, check and warm up one registered version."""
    lgb = import_lightgbm_for_serving()

    signature = version.signature or {}
    try:
        text = artifacts.read_bytes(version.artifact_sha).decode()
    except Exception as exc:
        raise LoadError(f"{version.model}:{version.version}: its model artifact "
                        f"{version.artifact_sha[:12]} cannot be read: {exc}",
                        corrupt=isinstance(exc, ArtifactError)) from exc
    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise LoadError(f"{version.model}:{version.version}: the model does not load: {exc}") \
            from exc
    features = booster.feature_name()
    inputs = [i["name"] for i in signature.get("inputs", [])]
    if inputs != features:
        raise LoadError(f"{version.model}:{version.version}: the signature's inputs are not "
                        "the model's features")
    target = signature.get("target") or {}
    loaded = LoadedModel(
        name=version.model, version=version.version, sha=version.artifact_sha,
        task=signature.get("task") or "regression", signature=signature, booster=booster,
        features=features, classes=target.get("classes"), threshold=signature.get("threshold"))
    row = to_matrix([loaded.example_row()], signature)
    try:
        raw = loaded.predict(row)
    except Exception as exc:
        raise LoadError(f"{version.model}:{version.version}: the warm-up prediction failed: "
                        f"{exc}") from exc
    expected = (1, booster.num_model_per_iteration()) if loaded.task == "multiclass" else (1,)
    if raw.shape != expected:
        raise LoadError(f"{version.model}:{version.version}: the warm-up prediction has shape "
                        f"{raw.shape}, expected {expected}")
    loaded.single = _single_row(loaded, row, raw)
    return loaded


def _single_row(loaded: LoadedModel, row: np.ndarray, expected: np.ndarray
                ) -> SingleRow | None:
    """The fast one-row path, when it answers the warm-up row exactly as `predict` did."""
    try:
        single = SingleRow(loaded.booster, row.shape[1], expected.size,
                           multiclass=loaded.task == "multiclass")
    except Exception:
        log.warning("%s: LightGBM's single-row path is not available; rows are predicted "
                    "the usual way", loaded.key, exc_info=True)
        return None
    found = single.predict(row)
    if found is None or found.shape != expected.shape or not np.array_equal(
            found, expected, equal_nan=True):
        log.warning("%s: LightGBM's single-row path answered the warm-up row differently; "
                    "rows are predicted the usual way", loaded.key)
        return None
    return single
