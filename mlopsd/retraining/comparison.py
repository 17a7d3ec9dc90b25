"""The compare job's params: a challenger and a champion, by their registry records, scored
on the challenger's own holdout. One builder for the retraining pipeline's compare step and
for `mlops check model` (mlopsd/retraining/model_gate.py), so both compare the same way."""

from __future__ import annotations

from typing import Any

from mlopsd.config import GatesConfig
from store import models as model_repo
from store import runs as run_repo
from store.db import Store


def compare_params(store: Store, model: str, train_params: dict[str, Any],
                   challenger: model_repo.ModelVersion,
                   champion: model_repo.ModelVersion | None, metric: str, gates: GatesConfig
                   ) -> dict[str, Any]:
    """`train_params`: the params of the job that trained the challenger (its holdout is
    cut again from them, and its predictions on it must hash to what that training kept).
    No champion: the challenger alone is scored (there is nothing to beat)."""
    lineage = run_repo.get_run(store, challenger.run_id).lineage if challenger.run_id \
        else {}
    return {
        "model": model, "train": train_params,
        "challenger": {"version": challenger.version, "model_sha": challenger.artifact_sha,
                       "signature": challenger.signature,
                       "holdout_predictions_sha": (lineage or {}).get(
                           "holdout_predictions_sha")},
        "champion": None if champion is None else {
            "version": champion.version, "model_sha": champion.artifact_sha,
            "signature": champion.signature},
        "metric": metric,
        "bootstrap": gates.bootstrap, "confidence": gates.confidence, "seed": gates.seed,
    }
