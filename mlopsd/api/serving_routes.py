"""Deploys and serving over HTTP (the control side; predictions are /v1, see
mlopsd.serving.http): canary, shadow, promote, abort, history, the prediction log, batch
scoring uploads."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlopsd.api.auth import require
from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import Limit, Name, NameFilter, RowId, Text
from mlopsd.api.upload_names import check_upload_name
from mlopsd.api.wire_out import out as _out
from mlopsd.client.wire import (
    MAX_WINDOW_S,
    AliasMoveOut,
    DeployAbortOut,
    DeploymentOut,
    DeployOut,
    DeployRequest,
    DeployStatusOut,
    DriftReportOut,
    DriftRequest,
    DrillOut,
    DrillRequest,
    JobOut,
    Page,
    PerformanceOut,
    PredictionOut,
    ReasonRequest,
    ServingBucketOut,
    ServingOut,
    ServingStatsOut,
)
from mlopsd.runtime.file_moves import free_name
from mlopsd.services import four_eyes
from mlopsd.services.scoring import PROCESSING, ScoreError
from mlopsd.services.tokens import APPROVER
from mlopsd.serving.performance import live_performance
from mlopsd.serving.rollout import CanaryPolicy
from mlopsd.serving.served import PRODUCTION
from store import deployments as deployment_repo
from store import drift as drift_repo
from store import predictions as prediction_repo

router = APIRouter(prefix="/api/v1", tags=["serving"])


@router.post("/models/{name}/deploy", response_model=DeployOut,
             summary="Deploy a version: blue-green, canary or shadow",
             description="`canary`: `percent` of requests (sticky per "
             "`X-Client-Key`) go to the version; the policy rolls it back by itself when its "
             "error rate or p95 latency exceeds the champion's by the margins. `shadow`: the "
             "version scores every request in the background, logged and compared, never "
             "returned. `blue-green`: production switches now.")
def deploy(request: Request, name: Name, body: DeployRequest) -> Any:
    deploys = request.app.state.daemon.deploys
    actor = actor_of(request)
    if body.strategy == "blue-green":
        require(request, APPROVER, "a blue-green deploy moves production now")
        four_eyes.check_promotion_of(request.app.state.daemon, name, body.version,
                                     approver=actor)
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


@router.get("/models/{name}/deploy", response_model=DeployStatusOut,
            summary="The live version, and a canary or shadow with both arms' numbers")
def deploy_status(request: Request, name: Name) -> DeployStatusOut:
    return DeployStatusOut.model_validate(request.app.state.daemon.deploys.status(name))


@router.post("/models/{name}/deploy/promote", response_model=AliasMoveOut,
             summary="Make the canary (or shadow) version production")
def deploy_promote(request: Request, name: Name, body: ReasonRequest | None = None
                   ) -> AliasMoveOut:
    daemon = request.app.state.daemon
    trial = daemon.deploys.status(name)
    candidate = trial["canary"] or trial["shadow"]
    if candidate is not None:
        four_eyes.check_promotion_of(daemon, name, candidate["version"],
                                     approver=actor_of(request))
    move = daemon.deploys.promote(
        name, actor=actor_of(request), reason=(body or ReasonRequest()).reason)
    return _out(move, AliasMoveOut)


@router.post("/models/{name}/deploy/abort", response_model=DeployAbortOut,
             summary="End the canary and shadow; production stays as it is")
def deploy_abort(request: Request, name: Name, body: ReasonRequest | None = None
                 ) -> DeployAbortOut:
    return DeployAbortOut.model_validate(request.app.state.daemon.deploys.abort(
        name, actor=actor_of(request), reason=(body or ReasonRequest()).reason))


@router.post("/models/{name}/drill", response_model=DrillOut,
             summary="A failure drill: the live version fails on purpose for some requests, "
             "to prove the fallback and its alert")
def drill(request: Request, name: Name, body: DrillRequest) -> DrillOut:
    return DrillOut.model_validate(request.app.state.daemon.deploys.drill(
        name, failure_rate=body.failure_rate, requests=body.requests,
        delay_s=body.delay_ms / 1000, actor=actor_of(request), reason=body.reason))


@router.get("/models/{name}/deployments", response_model=Page[DeploymentOut],
            summary="Deployment history, newest first")
def deployments(request: Request, name: Name, after: After = None, limit: Limit = 100
                ) -> Page[DeploymentOut]:
    page = deployment_repo.page_history(request.app.state.daemon.store, name,
                                        after=cursor_in(after, "deployments"), limit=limit)
    return page_out(page, "deployments", lambda d: _out(d, DeploymentOut))


@router.get("/predictions", response_model=Page[PredictionOut],
            summary="The prediction log, newest first: one entry per scored row")
def predictions(request: Request, model: NameFilter = None, request_id: Text = None,
                after: After = None, limit: Limit = 100) -> Page[PredictionOut]:
    page = prediction_repo.page_predictions(
        request.app.state.daemon.store, model=model, request_id=request_id,
        after=cursor_in(after, "predictions"), limit=limit)
    return page_out(page, "predictions", lambda p: _out(p, PredictionOut))


@router.get("/serving", response_model=ServingOut,
            summary="What serves: live and standby versions, service numbers, the log queue")
def serving(request: Request) -> ServingOut:
    daemon = request.app.state.daemon
    slots = daemon.served.served()
    return ServingOut.model_validate(dict(
        models={name: {"live": slot.live.version,
                       "previous": slot.previous.version if slot.previous else None,
                       "stands_in_for": slot.stands_in_for}
                for name, slot in slots.items()},
        failed=daemon.served.problems(), stats=daemon.serving_stats.summary(),
        prediction_log=daemon.prediction_log.stats(), batching=daemon.batching.summary()))


@router.get("/models/{name}/serving-stats", response_model=ServingStatsOut,
            summary="Requests, rows and latency per version and time bucket, between two "
            "times (default: the last hour)",
            description="From the prediction log: answered requests only (failures are in "
            "`/serving` and `/metrics`), at the log's sampling rate. `bucket_s` defaults to "
            "a sixtieth of the range; at most 10,000 buckets.")
def serving_stats(request: Request, name: Name, since: datetime | None = None,
                  until: datetime | None = None,
                  bucket_s: Annotated[float | None, Query(gt=0, le=MAX_WINDOW_S)] = None
                  ) -> ServingStatsOut:
    try:
        until = _utc(until) if until else datetime.now(UTC)
        since = _utc(since) if since else until - timedelta(hours=1)
    except OverflowError:  # a time at the very edge of what a datetime holds
        raise ApiError(422, "since and until must be times between the years 1 and 9999",
                       field="until") from None
    span = (until - since).total_seconds()
    if span <= 0:
        raise ApiError(422, "since must be before until", field="since")
    if span > MAX_WINDOW_S:
        raise ApiError(422, "at most 366 days between since and until", field="since")
    bucket = bucket_s or max(span / 60, 1.0)
    if span / bucket > 10_000:
        raise ApiError(422, f"{span / bucket:.0f} buckets of {bucket:g} s: at most 10,000 "
                       "(a larger bucket_s)", field="bucket_s")
    buckets = prediction_repo.serving_buckets(request.app.state.daemon.store, name,
                                              since=since, until=until, bucket_s=bucket)
    return ServingStatsOut(model=name, since=since, until=until, bucket_s=bucket,
                           buckets=[_out(b, ServingBucketOut) for b in buckets])


def _utc(when: datetime) -> datetime:
    """A time as UTC (one without a zone is UTC already)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _link_free(tmp: Path, folder: Path, filename: str) -> Path:
    """Give the uploaded file its name (a free one: unlike rename, link fails if the name
    was taken meanwhile), then make the folder entry durable."""
    while True:
        final = free_name(folder, filename)
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return final


@router.post("/models/{name}/drift", response_model=JobOut, status_code=202,
             summary="Check the production version's drift against a data selector now")
def drift_check(request: Request, name: Name, body: DriftRequest | None = None) -> JobOut:
    body = body or DriftRequest()
    monitoring = request.app.state.daemon.monitoring
    if body.window_s is not None:
        job = monitoring.check_window(name, body.window_s, actor=actor_of(request),
                                      record=body.record)
    else:
        job = monitoring.check(name, body.against, actor=actor_of(request), record=body.record)
    return _out(job, JobOut)


@router.get("/drift", response_model=Page[DriftReportOut],
            summary="Drift reports, newest first (recorded=true: the drift stream only)")
def drift_reports(request: Request, model: NameFilter = None, dataset: NameFilter = None,
                  recorded: bool | None = None, after: After = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Page[DriftReportOut]:
    page = drift_repo.page_reports(request.app.state.daemon.store, model=model,
                                   dataset=dataset, recorded=recorded,
                                   after=cursor_in(after, "drift"), limit=limit)
    return page_out(page, "drift", lambda r: _out(r, DriftReportOut))


@router.get("/drift/{report_id}", response_model=DriftReportOut, summary="One drift report")
def drift_report(request: Request, report_id: RowId) -> DriftReportOut:
    return _out(drift_repo.get_report(request.app.state.daemon.store, report_id),
                DriftReportOut)


@router.get("/models/{name}/performance", response_model=PerformanceOut,
            summary="Live performance per version: logged predictions joined with the labels "
            "that came back, against the holdout metrics")
def performance(request: Request, name: Name, since: datetime | None = None
                ) -> PerformanceOut:
    daemon = request.app.state.daemon
    dataset, id_column = daemon.label_join(name)
    return PerformanceOut.model_validate(live_performance(
        daemon.store, name, since=since, id_column=id_column, dataset=dataset))


@router.post("/models/{name}/score", response_model=JobOut, status_code=202,
             summary="Score a file (CSV, Parquet, NDJSON) as a job, into outbox/<name>/",
             description="The body is the file, streamed. It is scored by the production "
             "version (or `version`) in chunks; the job's result names the output file.")
async def score(
    request: Request, name: Name,
    filename: Annotated[str, Query(max_length=255,
                                   description="the file's name (its suffix says the format)")],
    version: Annotated[str | None, Query(max_length=64)] = None,
    keep: Annotated[list[str] | None, Query(description="input columns to copy to the "
                                                        "output, e.g. an id")] = None,
) -> JobOut:
    daemon = request.app.state.daemon
    check_upload_name(filename)
    if "/" in name or name.startswith("."):
        raise ApiError(422, f"{name!r} is not a model name", field="name")
    # Before a byte is written: is there a version to score with? (ScoreError: a 4xx.)
    await run_in_threadpool(daemon.scoring.scorer, name, version)
    folder: Path = daemon.home.score / name / PROCESSING
    await run_in_threadpool(lambda: folder.mkdir(parents=True, exist_ok=True))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".tmp")
    try:
        # File work on a thread: this loop also answers predictions.
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                await run_in_threadpool(out.write, chunk)
            await run_in_threadpool(out.flush)
            await run_in_threadpool(os.fsync, out.fileno())
        final = await run_in_threadpool(_link_free, Path(tmp), folder, filename)
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        job = await run_in_threadpool(lambda: daemon.scoring.submit(
            name, final, actor=actor_of(request), version=version, keep=keep or []))
    except ScoreError:
        final.unlink(missing_ok=True)  # the model went away meanwhile: keep nothing
        raise
    return _out(job, JobOut)
