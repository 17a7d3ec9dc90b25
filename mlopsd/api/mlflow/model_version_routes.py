"""MLflow's model versions: create (from a model MLflow's client logged: checked in a
worker, then a version of ours; `services/mlflow_registry.py`), get, search, update, tags,
and where its files are."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlopsd.api.mlflow.context import (
    actor_of,
    daemon_of,
    dangling_and,
    ok,
    page_size,
    token_in,
    token_out,
)
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.mlflow.fields import Given
from mlopsd.api.mlflow.registry_view import number_of, version_json
from store import mlflow_models as mlflow_model_repo

router = APIRouter(prefix="/mlflow/model-versions")
_EQUALS = re.compile(r"\s*(name|run_id)\s*=\s*(?:'([^']*)'|\"([^\"]*)\")\s*(?:(and)\b|$)",
                     re.IGNORECASE)


@router.post("/create")
def create_model_version(request: Request, f: Given) -> Response:
    daemon = daemon_of(request)
    version = daemon.mlflow_registry.create_version(
        f.required("name"), source=f.required("source"),
        run_id=f.text("run_id", required=False) or None,
        model_id=f.text("model_id", required=False) or None,
        description=f.text("description", required=False), tags=f.pairs("tags"),
        actor=actor_of(request))
    return ok({"model_version": version_json(daemon.store, version)})


@router.get("/get")
def get_model_version(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    version = mlflow_model_repo.get_version(store, f.required("name"), number_of(f))
    return ok({"model_version": version_json(store, version)})


@router.get("/search")
def search_model_versions(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    text, equal, position = f.text("filter", required=False) or "", {}, 0
    while position < len(text):
        match = _EQUALS.match(text, position)
        if match is None:
            raise MlflowError(INVALID, "filter: mlopsd searches model versions by name = 'x' "
                              f"and run_id = 'y', not {text[position:][:100]!r}")
        equal[match[1].lower()] = match[2] if match[2] is not None else match[3]
        position = match.end()
        if match[4] and not text[position:].strip():
            raise dangling_and(text)
    page = mlflow_model_repo.page_versions(
        store, model=equal.get("name"), run_id=equal.get("run_id"),
        after=token_in(f.text("page_token", required=False), "mlflow-model-versions"),
        limit=page_size(f.integer("max_results"), 10_000))
    return ok({"model_versions": [version_json(store, v) for v in page.items],
               **token_out(page.next, "mlflow-model-versions")})


@router.patch("/update")
def update_model_version(request: Request, f: Given) -> Response:
    daemon = daemon_of(request)
    version = daemon.mlflow_registry.update_version(
        f.required("name"), number_of(f),
        description=f.text("description", required=False) or "", actor=actor_of(request))
    return ok({"model_version": version_json(daemon.store, version)})


@router.post("/set-tag")
def set_model_version_tag(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_registry.update_version(
        f.required("name"), number_of(f),
        tags={f.required("key"): f.text("value", required=False) or ""},
        actor=actor_of(request))
    return ok({})


@router.delete("/delete-tag")
def delete_model_version_tag(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_registry.update_version(
        f.required("name"), number_of(f), drop_tag=f.required("key"), actor=actor_of(request))
    return ok({})


@router.get("/get-download-uri")
def get_download_uri(request: Request, f: Given) -> Response:
    daemon = daemon_of(request)
    version = mlflow_model_repo.get_version(daemon.store, f.required("name"), number_of(f))
    folder = daemon.mlflow_registry.folder_of(version.source)
    return ok({"artifact_uri": f"mlflow-artifacts:/{folder}"})
