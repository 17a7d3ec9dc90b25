"""MLflow's experiments: create, get (by id, by name), search (by name). An experiment's
MLflow id is its number; "Default" is 0, as MLflow's client expects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mlopsd.api.mlflow import render
from mlopsd.api.mlflow.context import (
    experiment_id,
    name_pattern,
    page_size,
    synced,
    token_in,
    token_out,
)
from mlopsd.api.mlflow.errors import EXISTS, INVALID, MISSING, MlflowError
from mlopsd.api.mlflow.fields import Given
from store import mlflow_runs as mlflow_run_repo
from store import run_search
from store.errors import Conflict, NotFound

router = APIRouter(prefix="/mlflow/experiments")


def _json(e: run_search.Experiment) -> dict[str, Any]:
    return render.experiment(e, mlflow_run_repo.mlflow_id(e))


@router.get("/get")
def get_experiment(request: Request, f: Given) -> dict[str, Any]:
    found = mlflow_run_repo.experiment_for(synced(request),
                                           experiment_id(f.required("experiment_id")))
    return {"experiment": _json(found)}


@router.get("/get-by-name")
def get_experiment_by_name(request: Request, f: Given) -> dict[str, Any]:
    name = f.required("experiment_name")
    store = synced(request)
    if name == mlflow_run_repo.DEFAULT_EXPERIMENT:
        return {"experiment": _json(mlflow_run_repo.experiment_for(store, 0))}
    try:
        return {"experiment": _json(run_search.get_experiment(store, name))}
    except NotFound:
        raise MlflowError(MISSING, f"Could not find experiment with name '{name}'") from None


@router.post("/create")
def create_experiment(request: Request, f: Given) -> dict[str, Any]:
    name = f.required("name")
    if len(name) > 1000:
        raise MlflowError(INVALID, "name: an experiment name has at most 1,000 characters")
    try:
        made = mlflow_run_repo.create_experiment(synced(request), name)
    except Conflict:
        raise MlflowError(EXISTS, f"Experiment(name={name}) already exists.") from None
    return {"experiment_id": str(mlflow_run_repo.mlflow_id(made))}


@router.post("/search")
def search_experiments(request: Request, f: Given) -> dict[str, Any]:
    name_like = name_pattern(f.text("filter", required=False), "experiments")
    if (f.text("view_type", required=False) or "ACTIVE_ONLY") == "DELETED_ONLY":
        return {"experiments": []}  # experiments are never deleted here
    page = run_search.page_experiments(
        synced(request), name_like=name_like,
        after=token_in(f.text("page_token", required=False), "mlflow-experiments"),
        limit=page_size(f.integer("max_results"), 1000))
    return {"experiments": [_json(e) for e in page.items],
            **token_out(page.next, "mlflow-experiments")}
