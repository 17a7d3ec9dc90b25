"""MLflow 3's logged models: what `mlflow.<flavour>.log_model` records before it uploads the
model's files (to the logged model's artifact folder, through the artifacts proxy) and
finalizes; `register_model` then makes a version from it."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlopsd.api.mlflow import render
from mlopsd.api.mlflow.context import (
    dangling_and,
    experiment_id,
    ok,
    page_size,
    synced,
    token_in,
    token_out,
)
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.mlflow.fields import Given
from store import mlflow_models as mlflow_model_repo
from store import mlflow_runs as mlflow_run_repo
from store import runs as run_repo

router = APIRouter(prefix="/mlflow/logged-models")
_STATUSES = {"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"}
_EQUALS = re.compile(r"\s*(?:attributes?\.)?(\w+)\s*=\s*(?:'([^']*)'|\"([^\"]*)\")\s*(?:(and)\b|$)",
                     re.IGNORECASE)
_COLUMNS = {"name": "name", "source_run_id": "source_run_id", "status": "status",
            "model_type": "model_type", "model_id": "id"}


@router.post("")
def create_logged_model(request: Request, f: Given) -> Response:
    store = synced(request)
    experiment = mlflow_run_repo.experiment_for(store, experiment_id(f.required(
        "experiment_id")))
    source_run_id = f.text("source_run_id", required=False)
    if source_run_id:
        run_repo.get_run(store, source_run_id)
    model = mlflow_model_repo.create_logged_model(
        store, model_id=f"m-{uuid.uuid4().hex}",
        experiment_id=mlflow_run_repo.mlflow_id(experiment),
        name=f.text("name", required=False) or "model", source_run_id=source_run_id,
        model_type=f.text("model_type", required=False), params=f.pairs("params"),
        tags=f.pairs("tags"))
    return ok({"model": render.logged_model(model)})


@router.get("/{model_id}")
def get_logged_model(request: Request, model_id: str) -> Response:
    return ok({"model": render.logged_model(
        mlflow_model_repo.get_logged_model(synced(request), model_id))})


@router.patch("/{model_id}")
def finalize_logged_model(request: Request, model_id: str,
                          f: Given) -> Response:
    status = f.required("status")
    if status not in _STATUSES:
        raise MlflowError(INVALID, f"Invalid value {status!r} for parameter 'status' (one of "
                          f"{', '.join(sorted(_STATUSES))})")
    return ok({"model": render.logged_model(mlflow_model_repo.update_logged_model(
        synced(request), model_id, status=status))})


@router.patch("/{model_id}/tags")
def set_logged_model_tags(request: Request, model_id: str,
                          f: Given) -> Response:
    mlflow_model_repo.update_logged_model(synced(request), model_id, tags=f.pairs("tags"))
    return ok({})


@router.delete("/{model_id}/tags/{tag_key}")
def delete_logged_model_tag(request: Request, model_id: str, tag_key: str) -> Response:
    mlflow_model_repo.update_logged_model(synced(request), model_id, drop_tag=tag_key)
    return ok({})


@router.post("/{model_id}/params")
def log_logged_model_params(request: Request, model_id: str,
                            f: Given) -> Response:
    mlflow_model_repo.update_logged_model(synced(request), model_id, params=f.pairs("params"))
    return ok({})


def _equal(filter_text: str) -> dict[str, str]:
    """`name = 'model' and source_run_id = '…'`: the filters register_model sends."""
    equal, position = {}, 0
    while position < len(filter_text):
        match = _EQUALS.match(filter_text, position)
        if match is None or match[1].lower() not in _COLUMNS:
            raise MlflowError(INVALID, f"filter: mlopsd filters logged models by "
                              f"{', '.join(_COLUMNS)} = 'value' joined by 'and', not "
                              f"{filter_text[position:][:100]!r}")
        equal[_COLUMNS[match[1].lower()]] = match[2] if match[2] is not None else match[3]
        position = match.end()
        if match[4] and not filter_text[position:].strip():
            raise dangling_and(filter_text)
    return equal


@router.post("/search")
def search_logged_models(request: Request, f: Given) -> Response:
    store = synced(request)
    ids = [experiment_id(text) for text in f.texts("experiment_ids")]
    page = mlflow_model_repo.page_logged_models(
        store, experiment_ids=ids, equal=_equal(f.text("filter", required=False) or ""),
        after=token_in(f.text("page_token", required=False), "mlflow-logged-models"),
        limit=page_size(f.integer("max_results"), 100))
    return ok({"models": [render.logged_model(m) for m in page.items],
               **token_out(page.next, "mlflow-logged-models")})
