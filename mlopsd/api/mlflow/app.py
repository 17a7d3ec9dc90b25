"""MLflow's REST API, the part its Python client uses for tracking, the registry and the
artifacts proxy, as an adapter over our services: `mlflow.set_tracking_uri(
"http://127.0.0.1:8765")` and unchanged MLflow code logs into this daemon.

A FastAPI app of its own, mounted at /api/2.0: its errors are MLflow's shape (its client
reads them), not ours, and its routes are MLflow's to document, not our OpenAPI's. Every
other call under the prefix answers MLflow's ENDPOINT_NOT_FOUND, naming it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from mlopsd.api.mlflow import (
    artifact_routes,
    errors,
    experiment_routes,
    logged_model_routes,
    model_version_routes,
    registered_model_routes,
    run_log_routes,
    run_routes,
)

ROUTERS = (experiment_routes.router, run_routes.router, run_log_routes.router,
           logged_model_routes.router, registered_model_routes.router,
           model_version_routes.router, artifact_routes.router)
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# Calls of MLflow's API that are not answered here, by name, for the refusal.
_KNOWN = {
    ("POST", "experiments/delete"): "DeleteExperiment",
    ("POST", "experiments/restore"): "RestoreExperiment",
    ("POST", "experiments/update"): "UpdateExperiment",
    ("POST", "experiments/set-experiment-tag"): "SetExperimentTag",
    ("POST", "experiments/delete-experiment-tag"): "DeleteExperimentTag",
    ("POST", "runs/log-model"): "LogModel",
    ("GET", "artifacts/list"): "ListArtifacts",
    ("GET", "metrics/get-history-bulk-interval"): "GetMetricHistoryBulkInterval",
    ("POST", "registered-models/rename"): "RenameRegisteredModel",
    ("DELETE", "registered-models/delete"): "DeleteRegisteredModel",
    ("POST", "model-versions/transition-stage"): "TransitionModelVersionStage",
    ("DELETE", "model-versions/delete"): "DeleteModelVersion",
    ("DELETE", "logged-models/{model_id}"): "DeleteLoggedModel",
}


def _unsupported(request: Request, call: str) -> Response:
    method = request.method
    path = f"{errors.PREFIX}/{call}"
    tail = call.removeprefix("mlflow/")
    name = _KNOWN.get((method, tail)) or _KNOWN.get(
        (method, "logged-models/{model_id}") if tail.startswith("logged-models/m-") else ("", ""))
    what = f"MLflow's {name} ({method} {path})" if name else f"{method} {path}"
    return errors.error_response(
        404, "ENDPOINT_NOT_FOUND", f"{what} is not supported by mlopsd, which answers the part "
        "of MLflow's REST API its Python client uses for tracking, the registry and artifacts "
        "(README: Use the MLflow client)")


def create_app(daemon: Any) -> FastAPI:
    app = FastAPI(title="mlopsd: MLflow's REST API", openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.state.daemon = daemon
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_api_route("/{call:path}", _unsupported, methods=_METHODS,
                      include_in_schema=False)
    return app
