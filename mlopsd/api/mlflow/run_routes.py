"""MLflow's runs: create, update (end, fail, kill, resume, rename), get, delete, restore,
search with MLflow's filter syntax (store/run_filter.py reads it as written), and a
metric's history. Runs made here are ours like any other: `mlops runs`, the TUI and run
search show them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlopsd.api.mlflow import render
from mlopsd.api.mlflow.context import (
    actor_of,
    daemon_of,
    experiment_id,
    ok,
    page_size,
    runs_json,
    synced,
    token_in,
    token_out,
)
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.mlflow.fields import Fields, Given
from store import mlflow_runs as mlflow_run_repo
from store import run_search
from store import runs as run_repo
from store.errors import NotFound

router = APIRouter(prefix="/mlflow")
_VIEWS = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}


def run_id_of(f: Fields) -> str:
    run_id = f.text("run_id", required=False) or f.text("run_uuid", required=False)
    if not run_id:
        raise MlflowError(INVALID, "Missing value for required parameter 'run_id'")
    if len(run_id) > 64:
        raise MlflowError(INVALID, f"Invalid value for parameter 'run_id': {run_id[:70]!r}…")
    return run_id


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _state(status: str) -> str:
    state = status.lower()
    if state not in run_repo.RUN_STATES:
        raise MlflowError(INVALID, f"Invalid value {status!r} for parameter 'status': mlopsd "
                          "keeps RUNNING, FINISHED, FAILED or KILLED")
    return state


@router.post("/runs/create")
def create_run(request: Request, f: Given) -> Response:
    store = synced(request)
    experiment = mlflow_run_repo.experiment_for(
        store, experiment_id(f.text("experiment_id", required=False) or "0"))
    tags = f.pairs("tags")
    name = (f.text("run_name", required=False) or tags.get("mlflow.runName")
            or f"run-{uuid.uuid4().hex[:8]}")
    tags["mlflow.runName"] = name
    user = f.text("user_id", required=False)
    if user:
        tags.setdefault("mlflow.user", user)
    new = run_repo.new_run(experiment=experiment.name, tags=tags,
                           started_at=from_ms(f.millis("start_time")))
    run = daemon_of(request).mlflow_runs.create(new)
    return ok({"run": runs_json(store, [run_repo.get_run(store, run.id)])[0]})


@router.post("/runs/update")
def update_run(request: Request, f: Given) -> Response:
    run_id, daemon = run_id_of(f), daemon_of(request)
    name = f.text("run_name", required=False)
    if name:
        daemon.runs.log(run_id, params=None, tags={"mlflow.runName": name},
                        metrics=run_repo.MetricColumns([], [], [], []), running_only=False)
    status = f.text("status", required=False)
    if status:
        daemon.mlflow_runs.set_state(run_id, _state(status),
                                     ended_at=from_ms(f.millis("end_time")))
    store = synced(request)
    run = run_repo.get_run(store, run_id)
    ids = mlflow_run_repo.mlflow_ids(store, [run.experiment])
    return ok({"run_info": render.run_info(run, ids.get(run.experiment, -1))})


@router.post("/runs/delete")
def delete_run(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_runs.delete(run_id_of(f), actor=actor_of(request))
    return ok({})


@router.post("/runs/restore")
def restore_run(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_runs.restore(run_id_of(f), actor=actor_of(request))
    return ok({})


@router.get("/runs/get")
def get_run(request: Request, f: Given) -> Response:
    store = synced(request)
    run_id = run_id_of(f)
    try:
        run = run_repo.get_run(store, run_id)
    except NotFound:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found") from None
    return ok({"run": runs_json(store, [run])[0]})


@router.post("/runs/search")
def search_runs(request: Request, f: Given) -> Response:
    store = synced(request)
    names: list[str] | None = None
    if f.texts("experiment_ids"):
        names = []
        for text in f.texts("experiment_ids"):
            try:
                names.append(mlflow_run_repo.experiment_for(store, experiment_id(text)).name)
            except NotFound:
                continue  # as MLflow: an experiment that is not there has no runs
    view = f.text("run_view_type", required=False) or "ACTIVE_ONLY"
    if view not in _VIEWS:
        raise MlflowError(INVALID, f"Invalid value {view!r} for parameter 'run_view_type'")
    orders = f.texts("order_by")
    if len(orders) > 1:
        raise MlflowError(INVALID, f"order_by: mlopsd orders by one key, not {len(orders)} "
                          f"({', '.join(orders)}); the run id breaks ties")
    order = orders[0] if orders else None
    listing = "mlflow-runs:" + " ".join((order or "").lower().split())
    page = run_search.search_runs(
        store, filter=f.text("filter", required=False) or "", experiments=names,
        order_by=order, lifecycle=_VIEWS[view],
        after=token_in(f.text("page_token", required=False), listing),
        limit=page_size(f.integer("max_results"), 1000))
    return ok({"runs": runs_json(store, page.items), **token_out(page.next, listing)})


@router.get("/metrics/get-history")
def metric_history(request: Request, f: Given) -> Response:
    store = synced(request)
    run_id, key = run_id_of(f), f.required("metric_key")
    try:
        run_repo.get_run(store, run_id)
    except NotFound:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found") from None
    # One page, whatever max_results says: a client that pages stops when no token comes.
    return ok({"metrics": [render.metric(p)
                           for p in run_repo.metric_history(store, run_id, key)]})
