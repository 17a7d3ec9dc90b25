"""Training, runs and the model registry: versions, aliases, promote, rollback, archive."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel

from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.selectors import SelectorError
from mlopsd.serving.rollout import CanaryPolicy
from mlopsd.serving.served import PRODUCTION
from mlopsd.wire import (
    AliasMoveOut,
    AliasRequest,
    DeploymentOut,
    DeployRequest,
    JobOut,
    Logged,
    MetricColumnsIn,
    MetricPointOut,
    Metrics,
    ModelLog,
    ModelOut,
    ModelVersionOut,
    PredictionOut,
    ReasonRequest,
    RollbackRequest,
    RunCreate,
    RunEnd,
    RunLog,
    RunOut,
    ServingOut,
    TrainRequest,
)
from store import audit
from store import deployments as deployment_repo
from store import models as model_repo
from store import predictions as prediction_repo
from store import runs as run_repo
from store.run_filter import FilterError

router = APIRouter(prefix="/api/v1", tags=["models"])


Wire = TypeVar("Wire", bound=BaseModel)


def _out(obj: object, cls: type[Wire]) -> Wire:
    """A store dataclass as its wire model."""
    return cls.model_validate(obj, from_attributes=True)


@router.post("/models/{name}/train", response_model=JobOut, status_code=202,
             summary="Queue a training of a model declared in mlops.toml")
def train(request: Request, name: str, body: TrainRequest | None = None) -> JobOut:
    body = body or TrainRequest()
    try:
        job = request.app.state.daemon.training.submit(
            name, actor=actor_of(request), reason=body.reason, tags=body.tags)
    except SelectorError as exc:
        raise ApiError(422, f"model {name!r}: {exc}", field="data") from None
    return _out(job, JobOut)


@router.post("/models/{name}/versions/{version}/reproduce", response_model=JobOut,
             status_code=202, summary="Retrain a version from its lineage and compare")
def reproduce(request: Request, name: str, version: str) -> JobOut:
    job = request.app.state.daemon.training.reproduce(name, version, actor=actor_of(request))
    return _out(job, JobOut)


@router.get("/models", response_model=list[ModelOut], summary="Registered models")
def list_models(request: Request) -> list[ModelOut]:
    return [_out(m, ModelOut) for m in model_repo.list_models(request.app.state.daemon.store)]


@router.get("/models/{name}", response_model=ModelOut, summary="One model: aliases, latest")
def get_model(request: Request, name: str) -> ModelOut:
    return _out(model_repo.get_model(request.app.state.daemon.store, name), ModelOut)


@router.get("/models/{name}/versions", response_model=list[ModelVersionOut],
            summary="A model's versions, oldest first")
def list_versions(request: Request, name: str) -> list[ModelVersionOut]:
    store = request.app.state.daemon.store
    model_repo.get_model(store, name)
    return [_out(v, ModelVersionOut) for v in model_repo.list_versions(store, name)]


@router.get("/models/{name}/versions/{version}", response_model=ModelVersionOut,
            summary="One version: signature, metrics, run")
def get_version(request: Request, name: str, version: str) -> ModelVersionOut:
    return _out(model_repo.get_version(request.app.state.daemon.store, name, version),
                ModelVersionOut)


@router.post("/models/{name}/aliases/{alias}", response_model=AliasMoveOut,
             summary="Point an alias (production, staging, candidate, …) at a version",
             description="Moving `production` deploys blue-green: the version is loaded, "
             "hash-checked and warmed up beside the live one, then switched atomically.")
def move_alias(request: Request, name: str, alias: str, body: AliasRequest) -> AliasMoveOut:
    move = request.app.state.daemon.deploys.move_alias(
        name, alias, body.version, actor=actor_of(request), reason=body.reason)
    return _out(move, AliasMoveOut)


@router.post("/models/{name}/rollback", response_model=AliasMoveOut,
             summary="Move an alias back to the version it pointed at before")
def rollback(request: Request, name: str, body: RollbackRequest | None = None) -> AliasMoveOut:
    body = body or RollbackRequest()
    target = model_repo.rollback_target(request.app.state.daemon.store, name, body.alias)
    if target is None:
        raise ApiError(409, f"{name}@{body.alias} has no earlier version to go back to",
                       field="alias")
    move = request.app.state.daemon.deploys.move_alias(
        name, body.alias, target, actor=actor_of(request), reason=body.reason, kind="rollback")
    return _out(move, AliasMoveOut)


@router.post("/models/{name}/deploy", summary="Deploy a version: blue-green, canary or "
             "shadow", description="`canary`: `percent` of requests (sticky per "
             "`X-Client-Key`) go to the version; the policy rolls it back by itself when its "
             "error rate or p95 latency exceeds the champion's by the margins. `shadow`: the "
             "version scores every request in the background, logged and compared, never "
             "returned. `blue-green`: production switches now.")
def deploy(request: Request, name: str, body: DeployRequest) -> dict[str, Any]:
    deploys = request.app.state.daemon.deploys
    actor = actor_of(request)
    if body.strategy == "blue-green":
        move = deploys.move_alias(name, PRODUCTION, body.version, actor=actor,
                                  reason=body.reason)
        return {"strategy": "blue-green", "from_version": move.from_version,
                "to_version": move.to_version}
    if body.strategy == "shadow":
        return deploys.shadow(name, body.version, actor=actor, reason=body.reason)
    defaults = deploys._policy()
    policy = CanaryPolicy(
        min_requests=body.min_requests or defaults.min_requests,
        error_margin=defaults.error_margin if body.error_margin is None else body.error_margin,
        latency_margin=(defaults.latency_margin if body.latency_margin is None
                        else body.latency_margin),
        latency_floor_ms=defaults.latency_floor_ms)
    return deploys.canary(name, body.version, percent=body.percent, actor=actor,
                          reason=body.reason, policy=policy,
                          drill_failure_rate=body.drill_failure_rate)


@router.get("/models/{name}/deploy", summary="The live version, and a canary or shadow with "
            "both arms' numbers")
def deploy_status(request: Request, name: str) -> dict[str, Any]:
    return request.app.state.daemon.deploys.status(name)


@router.post("/models/{name}/deploy/promote", response_model=AliasMoveOut,
             summary="Make the canary (or shadow) version production")
def deploy_promote(request: Request, name: str, body: ReasonRequest | None = None
                   ) -> AliasMoveOut:
    move = request.app.state.daemon.deploys.promote(
        name, actor=actor_of(request), reason=(body or ReasonRequest()).reason)
    return _out(move, AliasMoveOut)


@router.post("/models/{name}/deploy/abort", summary="End the canary and shadow; production "
             "stays as it is")
def deploy_abort(request: Request, name: str, body: ReasonRequest | None = None
                 ) -> dict[str, Any]:
    return request.app.state.daemon.deploys.abort(
        name, actor=actor_of(request), reason=(body or ReasonRequest()).reason)


@router.get("/models/{name}/deployments", response_model=list[DeploymentOut],
            summary="Deployment history, newest first")
def deployments(request: Request, name: str, limit: int = 100) -> list[DeploymentOut]:
    return [_out(d, DeploymentOut)
            for d in deployment_repo.history(request.app.state.daemon.store, name, limit)]


@router.get("/predictions", response_model=list[PredictionOut],
            summary="The prediction log, newest first: one entry per scored row")
def predictions(request: Request, model: str | None = None, request_id: str | None = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[PredictionOut]:
    return [_out(p, PredictionOut) for p in prediction_repo.list_predictions(
        request.app.state.daemon.store, model=model, request_id=request_id, limit=limit)]


@router.get("/serving", response_model=ServingOut,
            summary="What serves: live and standby versions, service numbers, the log queue")
def serving(request: Request) -> ServingOut:
    daemon = request.app.state.daemon
    slots = daemon.served.served()
    return ServingOut(
        models={name: {"live": slot.live.version,
                       "previous": slot.previous.version if slot.previous else None}
                for name, slot in slots.items()},
        failed=dict(daemon.served.failed), stats=daemon.serving_stats.summary(),
        prediction_log=daemon.prediction_log.stats())


@router.get("/models/{name}/aliases/history", response_model=list[AliasMoveOut],
            summary="Every alias move, newest first")
def alias_history(request: Request, name: str, alias: str | None = None) -> list[AliasMoveOut]:
    return [_out(m, AliasMoveOut)
            for m in model_repo.alias_history(request.app.state.daemon.store, name, alias)]


@router.post("/models/{name}/versions/{version}/archive", response_model=ModelVersionOut,
             summary="Archive a version (it keeps its record; it can no longer take an alias)")
def archive(request: Request, name: str, version: str) -> ModelVersionOut:
    store = request.app.state.daemon.store
    model_repo.set_archived(store, name, version)
    audit.append(store, actor=actor_of(request), action="model.archive",
                 subject=f"model:{name}", details={"version": version})
    return _out(model_repo.get_version(store, name, version), ModelVersionOut)


def _metrics(metrics: Metrics) -> run_repo.MetricColumns:
    if isinstance(metrics, MetricColumnsIn):
        return run_repo.MetricColumns(metrics.key, metrics.value, metrics.step, metrics.at)
    return run_repo.MetricColumns.from_points((m.key, m.value, m.step, m.at) for m in metrics)


def _publish_metrics(request: Request, run_id: str, columns: run_repo.MetricColumns) -> None:
    """The last value per metric of a batch, for live curves."""
    if not columns.keys:
        return
    last: dict[str, tuple[int, float]] = {}
    for key, value, step in zip(columns.keys, columns.values, columns.steps, strict=True):
        last[key] = (step, value)
    request.app.state.daemon.bus.publish(
        "run.metrics", run_id=run_id, metrics={k: v for k, (_, v) in last.items()},
        steps={k: s for k, (s, _) in last.items()}, points=len(columns))


@router.post("/runs", response_model=RunOut, status_code=201,
             summary="Start a run (the Python SDK's start_run), or record a whole run at once",
             description="With `state` finished/failed/killed the run is created ended: the "
             "SDK sends a run that lasted less than its flush interval as this one request.")
def create_run(request: Request, body: RunCreate) -> RunOut:
    columns = _metrics(body.metrics)
    try:
        run = run_repo.create_run(
            request.app.state.daemon.store, run_id=body.id, experiment=body.experiment,
            model=body.model, note=body.note, tags=body.tags, params=body.params,
            metrics=columns, state=body.state, error=body.error, started_at=body.started_at)
    except ValueError as exc:
        raise ApiError(422, str(exc), field="state") from None
    bus = request.app.state.daemon.bus
    bus.publish("run.started", run_id=run.id, experiment=body.experiment)
    _publish_metrics(request, run.id, columns)
    if body.state != "running":
        bus.publish("run.ended", run_id=run.id, state=body.state)
    return _out(run, RunOut)


@router.post("/runs/{run_id}/log", response_model=Logged,
             summary="Log params, tags and metric points in one batch (also a heartbeat)")
def log_run(request: Request, run_id: str, body: RunLog) -> Logged:
    columns = _metrics(body.metrics)
    count = run_repo.log_batch(request.app.state.daemon.store, run_id, params=body.params,
                               tags=body.tags, metrics=columns)
    _publish_metrics(request, run_id, columns)
    return Logged(run_id=run_id, metrics=count)


@router.post("/runs/{run_id}/end", response_model=RunOut,
             summary="End a run, with its last batch")
def end_run(request: Request, run_id: str, body: RunEnd | None = None) -> RunOut:
    body = body or RunEnd()
    if body.state not in ("finished", "failed", "killed"):
        raise ApiError(422, f"state must be finished, failed or killed, not {body.state!r}",
                       field="state")
    columns = _metrics(body.metrics)
    store = request.app.state.daemon.store
    run_repo.end_run(store, run_id, body.state, error=body.error, params=body.params,
                     tags=body.tags, metrics=columns)
    _publish_metrics(request, run_id, columns)
    request.app.state.daemon.bus.publish("run.ended", run_id=run_id, state=body.state)
    return _out(run_repo.get_run(store, run_id), RunOut)


@router.post("/runs/{run_id}/models", response_model=JobOut, status_code=202,
             summary="Register a LightGBM model made by this run (the SDK's log_model)",
             description="The text is stored, then job `check_model` loads it in a worker "
             "and checks it against the signature; the version is registered when it "
             "passes (the job's result names it).")
def log_model(request: Request, run_id: str, body: ModelLog) -> JobOut:
    if not isinstance(body.signature.get("inputs"), list) or not body.signature["inputs"]:
        raise ApiError(422, "signature needs inputs: a list of {name, dtype, categorical, "
                       "categories}, one per model feature", field="signature")
    job = request.app.state.daemon.logged_models.submit(
        run_id, model=body.model, model_text=body.model_text, signature=body.signature,
        task=body.task, metrics=body.metrics, data=body.data, description=body.description,
        actor=actor_of(request))
    return _out(job, JobOut)


@router.get("/runs", response_model=list[RunOut],
            summary="Search runs: filter by params, metrics, tags; sort",
            description="`filter` e.g. `metrics.auc > 0.8 and params.num_leaves = 31`; "
            "`order_by` e.g. `metrics.rmse asc` (default: newest first).")
def search_runs(
    request: Request,
    filter: str = "",
    order_by: str | None = None,
    experiment: str | None = None,
    model: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[RunOut]:
    expression = filter
    if model:
        expression = " and ".join(p for p in (expression, f"model = '{model}'") if p)
    try:
        rows = run_repo.search_runs(request.app.state.daemon.store, filter=expression,
                                    experiment=experiment, order_by=order_by, limit=limit)
    except FilterError as exc:
        raise ApiError(422, str(exc), field="filter") from None
    return [_out(r, RunOut) for r in rows]


@router.get("/runs/{run_id}", response_model=RunOut,
            summary="One run: params, tags, last metric values, lineage")
def get_run(request: Request, run_id: str) -> RunOut:
    return _out(run_repo.get_run(request.app.state.daemon.store, run_id), RunOut)


@router.get("/runs/{run_id}/metrics/{key}", response_model=list[MetricPointOut],
            summary="A metric's history (per step)")
def metric_history(request: Request, run_id: str, key: str) -> ORJSONResponse:
    store = request.app.state.daemon.store
    run_repo.get_run(store, run_id)
    # Straight to JSON: a curve of 10,000 points through pydantic costs ~0.1 s.
    return ORJSONResponse([{"key": p.key, "value": p.value, "step": p.step, "at": p.at}
                           for p in run_repo.metric_history(store, run_id, key)])
