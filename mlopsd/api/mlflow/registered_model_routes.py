"""MLflow's registered models: create, get, search, update, tags, and aliases.

An alias set here is ours, moved through the same door as `mlops promote`
(`deploys.move_alias`: its history, audit entry and event); `production` needs an
approver's token, keeps the model's four-eyes rule and deploys blue-green, so the version
MLflow's client points `production` at is the one `/v1/models/{name}/predict` serves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlopsd.api.auth import require
from mlopsd.api.mlflow.context import (
    actor_of,
    daemon_of,
    name_pattern,
    ok,
    page_size,
    token_in,
    token_out,
)
from mlopsd.api.mlflow.errors import EXISTS, MISSING, MlflowError
from mlopsd.api.mlflow.fields import Given
from mlopsd.api.mlflow.registry_view import (
    number_of,
    our_aliases,
    registered_json,
    version_json,
)
from mlopsd.services import four_eyes
from mlopsd.services.tokens import APPROVER
from mlopsd.serving.served import PRODUCTION
from store import mlflow_models as mlflow_model_repo
from store.errors import Conflict

router = APIRouter(prefix="/mlflow/registered-models")
_REASON = "MLflow's client: set_registered_model_alias"


@router.post("/create")
def create_registered_model(request: Request, f: Given) -> Response:
    daemon, name = daemon_of(request), f.required("name")
    try:
        model = daemon.mlflow_registry.create_model(
            name, description=f.text("description", required=False), tags=f.pairs("tags"),
            actor=actor_of(request))
    except Conflict:
        raise MlflowError(EXISTS, f"Registered Model (name={name}) already exists.") from None
    return ok({"registered_model": registered_json(daemon.store, model)})


@router.get("/get")
def get_registered_model(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    model = mlflow_model_repo.get_registered_model(store, f.required("name"))
    return ok({"registered_model": registered_json(store, model)})


@router.get("/search")
def search_registered_models(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    page = mlflow_model_repo.page_registered_models(
        store, name_like=name_pattern(f.text("filter", required=False), "registered models"),
        after=token_in(f.text("page_token", required=False), "mlflow-registered-models"),
        limit=page_size(f.integer("max_results"), 100))
    return ok({"registered_models": [registered_json(store, m) for m in page.items],
               **token_out(page.next, "mlflow-registered-models")})


@router.patch("/update")
def update_registered_model(request: Request, f: Given) -> Response:
    daemon = daemon_of(request)
    model = daemon.mlflow_registry.update_model(
        f.required("name"), description=f.text("description", required=False) or "",
        actor=actor_of(request))
    return ok({"registered_model": registered_json(daemon.store, model)})


@router.post("/set-tag")
def set_registered_model_tag(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_registry.update_model(
        f.required("name"), tags={f.required("key"): f.text("value", required=False) or ""},
        actor=actor_of(request))
    return ok({})


@router.delete("/delete-tag")
def delete_registered_model_tag(request: Request, f: Given) -> Response:
    daemon_of(request).mlflow_registry.update_model(
        f.required("name"), drop_tag=f.required("key"), actor=actor_of(request))
    return ok({})


@router.post("/get-latest-versions")
def get_latest_versions(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    name = f.required("name")
    mlflow_model_repo.get_registered_model(store, name)
    return ok({"model_versions": [version_json(store, v)
                                  for v in mlflow_model_repo.latest_versions(store, name)]})


def _approver_for(request: Request, alias: str, what: str) -> None:
    if alias == PRODUCTION:
        require(request, APPROVER, f"{what} (the alias production deploys blue-green)")


@router.post("/alias")
def set_alias(request: Request, f: Given) -> Response:
    daemon, actor = daemon_of(request), actor_of(request)
    name, alias = f.required("name"), f.required("alias")
    version = daemon.mlflow_registry.ready_version(name, number_of(f))
    _approver_for(request, alias, f"moving {name}@{alias}")
    if alias == PRODUCTION:
        four_eyes.check_promotion_of(daemon, name, version, approver=actor)
    daemon.deploys.move_alias(name, alias, version, actor=actor, reason=_REASON)
    return ok({})


@router.delete("/alias")
def delete_alias(request: Request, f: Given) -> Response:
    daemon = daemon_of(request)
    name, alias = f.required("name"), f.required("alias")
    if alias not in our_aliases(daemon.store, name):
        raise MlflowError(MISSING, f"Registered model alias {alias} not found.")
    _approver_for(request, alias, f"removing {name}@{alias}")
    daemon.deploys.move_alias(name, alias, None, actor=actor_of(request),
                              reason="MLflow's client: delete_registered_model_alias")
    return ok({})


@router.get("/alias")
def get_version_by_alias(request: Request, f: Given) -> Response:
    store = daemon_of(request).store
    name, alias = f.required("name"), f.required("alias")
    ours = our_aliases(store, name).get(alias)
    if ours is None:
        raise MlflowError(MISSING, f"Registered model alias {alias} not found.")
    number = mlflow_model_repo.numbers_of(store, name).get(ours)
    if number is None:
        raise MlflowError(MISSING, f"{name}@{alias} is version {ours}, registered by mlops "
                          "itself, not through MLflow: it has no MLflow version number")
    return ok({"model_version": version_json(store, mlflow_model_repo.get_version(
        store, name, number))})
