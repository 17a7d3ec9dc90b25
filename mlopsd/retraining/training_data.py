"""The data a retraining trains on: the policy's `training_window` as a data selector."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlopsd.config import ModelConfig
from mlopsd.retraining.policy import training_window
from mlopsd.selectors import SelectorError, parse
from store import data as data_repo
from store.db import Store


def window_selector(store: Store, model: ModelConfig) -> str:
    """`all` → every version, `last K versions` → the newest K, `last D days` → every
    version cut to the D days before the newest value of the dataset's time column; empty:
    the model's own selector."""
    text = model.retrain.training_window
    if not text:
        return model.data
    dataset = parse(model.data).dataset
    window = training_window(text)
    if window.kind == "all":
        return f"{dataset}@all"
    if window.kind == "versions":
        return f"{dataset}@last:{window.count}"
    time_column = data_repo.get_dataset(store, dataset).time_column
    if not time_column:
        raise SelectorError(f"training_window {text!r}: dataset {dataset!r} has no "
                            "time_column to count days on")
    newest = None
    for listed in data_repo.list_versions(store, dataset):
        profile = data_repo.get_version(store, dataset, listed.version).profile or {}
        top = (profile.get(time_column) or {}).get("max")
        if isinstance(top, str):
            at = datetime.fromisoformat(top).replace(tzinfo=None)
            newest = at if newest is None or at > newest else newest
    if newest is None:
        raise SelectorError(f"training_window {text!r}: no value of {time_column!r} in "
                            f"{dataset!r}'s versions")
    start = (newest - timedelta(days=window.count)).isoformat(timespec="seconds")
    return f"{dataset}@all[{start}..]"
