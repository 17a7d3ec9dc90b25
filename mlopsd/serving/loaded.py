"""A model version loaded for serving: its booster, signature and how to answer.

Loading reads the artifact back hash-checked (only our own, verified model texts are ever
parsed in the daemon: LightGBM's parser is not hardened) and checks the booster against
the signature; a warm-up prediction proves it answers before it takes traffic.
"""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs import prediction_answers
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
        """Predictions as the API returns them (see jobs/prediction_answers.py)."""
        return prediction_answers.answer(self.task, self.classes, self.threshold, raw)

    def explain(self, contributions: np.ndarray) -> dict[str, Any]:
        return prediction_answers.explain(self.task, self.features, contributions)

    def example_row(self) -> dict[str, Any]:
        return prediction_answers.example_row(self.signature)


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
