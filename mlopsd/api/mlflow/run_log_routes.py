"""What MLflow's client logs into a run: metrics (one, or a batch with params and tags),
params, tags, and the datasets and models it used or made. Through the same door as our
SDK's batches (`services/runs.py`: the points, then `run.metrics`, in one transaction);
unlike ours, MLflow's client may log into a run that has ended (never a deleted one)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlopsd.api.mlflow.context import daemon_of, ok
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.mlflow.fields import Fields, Given, to_number
from mlopsd.api.mlflow.run_routes import run_id_of
from store import runs as run_repo
from store.errors import Conflict

router = APIRouter(prefix="/mlflow/runs")
MAX_METRICS, MAX_PARAMS, MAX_TAGS = 1000, 100, 100
"""MLflow's own limits on one log-batch."""


def _point(item: dict[str, Any], where: str = "") -> tuple[str, float, int, float]:
    """A metric's point; `where` names it in a batch (`metrics[3]`)."""
    fields = Fields(item, where)
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise MlflowError(INVALID, f"Missing value for required parameter "
                          f"'{fields.named('key')}': a metric needs a key")
    value = to_number(item.get("value"), fields.named("value"))
    step = fields.integer("step", default=0)
    timestamp = fields.millis("timestamp")
    at = time.time() if timestamp is None else timestamp / 1000
    return key, value, step or 0, at


def _columns(points: list[tuple[str, float, int, float]]) -> run_repo.MetricColumns:
    return run_repo.MetricColumns([p[0] for p in points], [p[1] for p in points],
                                  [p[2] for p in points], [p[3] for p in points])


def _log(request: Request, run_id: str, *, params: dict[str, str] | None = None,
         tags: dict[str, str] | None = None,
         points: list[tuple[str, float, int, float]] | None = None) -> Response:
    try:
        daemon_of(request).runs.log(run_id, params=params or None, tags=tags or None,
                                    metrics=_columns(points or []), running_only=False)
    except Conflict as exc:  # a param set once with another value, a deleted run
        raise MlflowError(INVALID, str(exc)) from None
    return ok({})


@router.post("/log-metric")
def log_metric(request: Request, f: Given) -> Response:
    return _log(request, run_id_of(f), points=[_point(f.data)])


@router.post("/log-parameter")
def log_param(request: Request, f: Given) -> Response:
    value = f.text("value", required=False) or ""
    return _log(request, run_id_of(f), params={f.required("key"): value})


@router.post("/set-tag")
def set_tag(request: Request, f: Given) -> Response:
    value = f.text("value", required=False) or ""
    return _log(request, run_id_of(f), tags={f.required("key"): value})


@router.post("/delete-tag")
def delete_tag(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_runs.delete_tag(run_id_of(f), f.required("key"))
    return ok({})


@router.post("/log-batch")
def log_batch(request: Request, f: Given) -> Response:
    metrics, params, tags = f.objects("metrics"), f.pairs("params"), f.pairs("tags")
    if len(metrics) > MAX_METRICS or len(params) > MAX_PARAMS or len(tags) > MAX_TAGS:
        raise MlflowError(INVALID, f"A batch logging request can contain at most {MAX_METRICS} "
                          f"metrics, {MAX_PARAMS} params and {MAX_TAGS} tags; this one has "
                          f"{len(metrics)}, {len(params)} and {len(tags)}")
    points = [_point(m, f"metrics[{i}]") for i, m in enumerate(metrics)]
    return _log(request, run_id_of(f), params=params, tags=tags, points=points)


@router.post("/log-inputs")
def log_inputs(request: Request, f: Given) -> Response:
    run_id, runs = run_id_of(f), daemon_of(request).mlflow_runs
    datasets = f.objects("datasets")
    if any(not isinstance(d.get("dataset"), dict) for d in datasets):
        raise MlflowError(INVALID, "datasets: each needs a dataset {name, digest, …}")
    runs.link(run_id, "input", "dataset", datasets)
    runs.link(run_id, "input", "model", [{"model_id": str(m.get("model_id", ""))}
                                         for m in f.objects("models")])
    return ok({})


@router.post("/outputs")
def log_outputs(request: Request, f: Given) -> Response:
    models = [{"model_id": str(m.get("model_id", "")), "step": Fields(m).integer("step") or 0}
              for m in f.objects("models")]
    daemon_of(request).mlflow_runs.link(run_id_of(f), "output", "model", models)
    return ok({})
