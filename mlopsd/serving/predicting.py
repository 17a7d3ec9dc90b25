"""A version's answer to a batch of rows: the prediction, the explanation when asked, and
the failure drills that make a version fail on purpose."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from jobs.features import to_matrix
from mlopsd.serving.errors import DrillFailure
from mlopsd.serving.inputs import Batch
from mlopsd.serving.loaded import LoadedModel


def encoded_for(model: LoadedModel, batch: Batch) -> Batch:
    """The batch as `model` reads it: re-encoded from the request's rows when its signature
    differs from the one the batch was encoded with (category codes are positions in each
    version's own category list, so another version's matrix would mean other values)."""
    if batch.signature is model.signature or batch.signature["inputs"] == model.signature[
            "inputs"]:
        return batch
    records = batch.records()
    return Batch(to_matrix(records, model.signature), batch.ignored, lambda: records,
                 model.signature)


def drill(model: LoadedModel, failure_rate: float) -> None:
    if failure_rate and random.random() < failure_rate:
        raise DrillFailure(f"{model.key} failed on purpose (a failure drill at "
                           f"{failure_rate:.0%})")


def answer(model: LoadedModel, batch: Batch, explain: bool = False,
           failure_rate: float = 0.0, raw: np.ndarray | None = None) -> dict[str, Any]:
    """`raw`: the predictions already made for these rows (in a micro-batch)."""
    batch = encoded_for(model, batch)
    if raw is None:
        drill(model, failure_rate)
        raw = model.predict(batch.matrix)
    found = model.answer(raw)
    if explain:
        found.update(model.explain(model.contributions(batch.matrix)))
    return found
