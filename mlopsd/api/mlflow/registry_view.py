"""Our registry as MLflow's client sees it: versions by MLflow's numbers, and aliases as
numbers (an alias of ours pointing at a version made outside MLflow has no number, so
MLflow's client does not see it)."""

from __future__ import annotations

from typing import Any

from mlopsd.api.mlflow import render
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.mlflow.fields import Fields
from mlopsd.services.mlflow_registry import status_of
from store import mlflow_models as mlflow_model_repo
from store import models as model_repo
from store.db import Store
from store.errors import NotFound


def number_of(f: Fields, field: str = "version") -> int:
    text = f.required(field)
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number < 2**31:
        raise MlflowError(INVALID, f"Invalid value {text!r} for parameter '{field}': a model "
                          "version made through MLflow is a number (1, 2, …)")
    return number


def our_aliases(store: Store, name: str) -> dict[str, str]:
    try:
        return model_repo.get_model(store, name).aliases
    except NotFound:
        return {}


def aliases_of(store: Store, name: str) -> dict[str, int]:
    """The model's aliases, as MLflow numbers."""
    numbers = mlflow_model_repo.numbers_of(store, name)
    return {alias: numbers[version] for alias, version in our_aliases(store, name).items()
            if version in numbers}


def version_json(store: Store, v: mlflow_model_repo.NumberedVersion,
                 aliases: dict[str, int] | None = None) -> dict[str, Any]:
    aliases = aliases_of(store, v.model) if aliases is None else aliases
    return render.model_version(v, status_of(v),
                                [a for a, n in sorted(aliases.items()) if n == v.number])


def registered_json(store: Store, m: mlflow_model_repo.RegisteredModel) -> dict[str, Any]:
    aliases = aliases_of(store, m.name)
    latest = [version_json(store, v, aliases)
              for v in mlflow_model_repo.latest_versions(store, m.name)]
    return render.registered_model(m, latest, aliases)
