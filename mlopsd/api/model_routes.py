"""The model registry over HTTP: training, versions, model cards, aliases (promote),
rollback, archive."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import Alias, Limit, Name, NameFilter, Version
from mlopsd.api.wire_out import out as _out
from mlopsd.client.wire import (
    AliasMoveOut,
    AliasRequest,
    ExportRequest,
    JobOut,
    ModelCardOut,
    ModelOut,
    ModelVersionOut,
    Page,
    ReasonRequest,
    RollbackRequest,
    TrainRequest,
)
from mlopsd.selectors import SelectorError
from mlopsd.services import four_eyes, model_cards
from mlopsd.serving.served import PRODUCTION
from store import models as model_repo

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.post("/models/{name}/train", response_model=JobOut, status_code=202,
             summary="Queue a training of a model declared in mlops.toml")
def train(request: Request, name: Name, body: TrainRequest | None = None) -> JobOut:
    body = body or TrainRequest()
    try:
        job = request.app.state.daemon.training.submit(
            name, actor=actor_of(request), reason=body.reason, tags=body.tags)
    except SelectorError as exc:
        raise ApiError(422, f"model {name!r}: {exc}", field="data") from None
    return _out(job, JobOut)


@router.post("/models/{name}/versions/{version}/reproduce", response_model=JobOut,
             status_code=202, summary="Retrain a version from its lineage and compare")
def reproduce(request: Request, name: Name, version: Version) -> JobOut:
    job = request.app.state.daemon.training.reproduce(name, version, actor=actor_of(request))
    return _out(job, JobOut)


@router.post("/models/{name}/versions/{version}/export", response_model=JobOut,
             status_code=202, summary="Queue an export of a version: a container or C",
             description="The job's result names a tar artifact (`GET /api/v1/artifacts/{sha}`): "
             "for `container`, the model text, its signature, a prediction server with the "
             "/v1 contract and a Dockerfile; for `c`, the model as dependency-free C with a "
             "header, a Makefile and an example program.")
def export(request: Request, name: Name, version: Version, body: ExportRequest) -> JobOut:
    job = request.app.state.daemon.exports.submit(name, version, body.format,
                                                  actor=actor_of(request), reason=body.reason)
    return _out(job, JobOut)


@router.get("/models", response_model=Page[ModelOut], summary="Registered models, by name")
def list_models(request: Request, after: After = None, limit: Limit = 100) -> Page[ModelOut]:
    page = model_repo.page_models(request.app.state.daemon.store,
                                  after=cursor_in(after, "models"), limit=limit)
    return page_out(page, "models", lambda m: _out(m, ModelOut))


@router.get("/models/{name}", response_model=ModelOut, summary="One model: aliases, latest")
def get_model(request: Request, name: Name) -> ModelOut:
    return _out(model_repo.get_model(request.app.state.daemon.store, name), ModelOut)


@router.get("/models/{name}/versions", response_model=Page[ModelVersionOut],
            summary="A model's versions, oldest first")
def list_versions(request: Request, name: Name, after: After = None, limit: Limit = 100
                  ) -> Page[ModelVersionOut]:
    store = request.app.state.daemon.store
    model_repo.get_model(store, name)
    page = model_repo.page_versions(store, name, after=cursor_in(after, "model-versions"),
                                    limit=limit)
    return page_out(page, "model-versions", lambda v: _out(v, ModelVersionOut))


@router.get("/models/{name}/versions/{version}", response_model=ModelVersionOut,
            summary="One version: signature, metrics, run")
def get_version(request: Request, name: Name, version: Version) -> ModelVersionOut:
    return _out(model_repo.get_version(request.app.state.daemon.store, name, version),
                ModelVersionOut)


@router.get("/models/{name}/versions/{version}/card", response_model=ModelCardOut,
            summary="A version's model card: every fact a reviewer asks for, in one document",
            description="Intended use, assumptions and limitations ([model.card] in "
            "mlops.toml), the holdout's metrics with bootstrap intervals, metrics per slice, "
            "feature importance, the training data (versions, rows, time span, profile), the "
            "lineage, the decisions about the version (registration, gates, approvals, "
            "promotions) and its deploy history. `mlops models card` renders it as HTML or "
            "Markdown. What the version's training did not record is null and named in "
            "`not_recorded`.")
def model_card(request: Request, name: Name, version: Version) -> ModelCardOut:
    daemon = request.app.state.daemon
    return ModelCardOut.model_validate(model_cards.gather(daemon.store, daemon.config, name,
                                                          version))


@router.post("/models/{name}/aliases/{alias}", response_model=AliasMoveOut,
             summary="Point an alias (production, staging, candidate, …) at a version",
             description="Moving `production` deploys blue-green: the version is loaded, "
             "hash-checked and warmed up beside the live one, then switched atomically.")
def move_alias(request: Request, name: Name, alias: Alias, body: AliasRequest) -> AliasMoveOut:
    if alias == PRODUCTION:
        four_eyes.check_promotion_of(request.app.state.daemon, name, body.version,
                                     approver=actor_of(request))
    move = request.app.state.daemon.deploys.move_alias(
        name, alias, body.version, actor=actor_of(request), reason=body.reason)
    return _out(move, AliasMoveOut)


@router.post("/models/{name}/rollback", response_model=AliasMoveOut,
             summary="Move an alias back to the version it pointed at before")
def rollback(request: Request, name: Name, body: RollbackRequest | None = None) -> AliasMoveOut:
    body = body or RollbackRequest()
    target = model_repo.rollback_target(request.app.state.daemon.store, name, body.alias)
    if target is None:
        raise ApiError(409, f"{name}@{body.alias} has no earlier version to go back to",
                       field="alias")
    move = request.app.state.daemon.deploys.move_alias(
        name, body.alias, target, actor=actor_of(request), reason=body.reason, kind="rollback")
    return _out(move, AliasMoveOut)


@router.get("/models/{name}/aliases/history", response_model=Page[AliasMoveOut],
            summary="Every alias move, newest first")
def alias_history(request: Request, name: Name, alias: NameFilter = None, after: After = None,
                  limit: Limit = 100) -> Page[AliasMoveOut]:
    page = model_repo.page_alias_history(request.app.state.daemon.store, name, alias,
                                         after=cursor_in(after, "alias-history"), limit=limit)
    return page_out(page, "alias-history", lambda m: _out(m, AliasMoveOut))


@router.post("/models/{name}/versions/{version}/archive", response_model=ModelVersionOut,
             summary="Archive a version (it keeps its record; it can no longer take an alias)")
def archive(request: Request, name: Name, version: Version,
            body: ReasonRequest | None = None) -> ModelVersionOut:
    daemon = request.app.state.daemon
    daemon.registry.archive(name, version, actor=actor_of(request),
                            reason=body.reason if body else None)
    return _out(model_repo.get_version(daemon.store, name, version), ModelVersionOut)


