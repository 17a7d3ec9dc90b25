"""Retraining over HTTP: start (or dry-run) a pipeline, list and show pipelines, approve,
reject or cancel one, list the schedules, reload mlops.toml."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import Limit, Name, NameFilter, RowId, Text
from mlopsd.api.wire_out import out as _out
from mlopsd.client.wire import (
    NoteRequest,
    Page,
    PipelineOut,
    ReloadOut,
    RetrainOut,
    RetrainRequest,
    ScheduleOut,
)
from mlopsd.config import ConfigError
from store import pipelines as pipeline_repo

router = APIRouter(prefix="/api/v1", tags=["retraining"])


@router.post("/models/{name}/retrain", response_model=RetrainOut, status_code=202,
             summary="Start a retraining pipeline now (or merge into the running one)",
             description="With dry_run the pipeline stops after the gate's decision: "
             "nothing is deployed.")
def retrain(request: Request, name: Name, body: RetrainRequest | None = None) -> RetrainOut:
    body = body or RetrainRequest()
    detail = {"reason": body.reason} if body.reason else {}
    started = request.app.state.daemon.retraining.trigger(
        name, "manual", detail, actor=actor_of(request), dry_run=body.dry_run)
    pipeline = started.get("pipeline")
    return RetrainOut(pipeline=_out(pipeline, PipelineOut) if pipeline else None,
                      merged=started.get("merged", False), skipped=started.get("skipped"))


@router.get("/pipelines", response_model=Page[PipelineOut],
            summary="Retraining pipelines, newest first")
def list_pipelines(request: Request, model: NameFilter = None, state: Text = None,
                   after: After = None, limit: Limit = 100) -> Page[PipelineOut]:
    page = pipeline_repo.page(request.app.state.daemon.store, model=model, state=state,
                              after=cursor_in(after, "pipelines"), limit=limit)
    return page_out(page, "pipelines", lambda p: _out(p, PipelineOut))


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut,
            summary="One pipeline: trigger, steps with their numbers, outcome")
def get_pipeline(request: Request, pipeline_id: RowId) -> PipelineOut:
    return _out(pipeline_repo.get(request.app.state.daemon.store, pipeline_id), PipelineOut)


@router.post("/pipelines/{pipeline_id}/approve", response_model=PipelineOut,
             summary="Approve a challenger awaiting approval: it is deployed")
def approve(request: Request, pipeline_id: RowId, body: NoteRequest | None = None) -> PipelineOut:
    return _out(request.app.state.daemon.retraining.decide(
        pipeline_id, True, actor=actor_of(request), note=(body or NoteRequest()).note),
        PipelineOut)


@router.post("/pipelines/{pipeline_id}/reject", response_model=PipelineOut,
             summary="Reject a challenger awaiting approval: it is archived")
def reject(request: Request, pipeline_id: RowId, body: NoteRequest | None = None) -> PipelineOut:
    return _out(request.app.state.daemon.retraining.decide(
        pipeline_id, False, actor=actor_of(request), note=(body or NoteRequest()).note),
        PipelineOut)


@router.post("/pipelines/{pipeline_id}/cancel", response_model=PipelineOut,
             summary="Cancel a running pipeline (its job or canary is stopped)")
def cancel(request: Request, pipeline_id: RowId, body: NoteRequest | None = None) -> PipelineOut:
    return _out(request.app.state.daemon.retraining.cancel(
        pipeline_id, actor=actor_of(request), note=(body or NoteRequest()).note), PipelineOut)


@router.get("/schedules", response_model=Page[ScheduleOut],
            summary="Retraining schedules by model, with their last and next run")
def schedules(request: Request, after: After = None, limit: Limit = 100) -> Page[ScheduleOut]:
    daemon = request.app.state.daemon
    page = pipeline_repo.page_schedules(daemon.store, after=cursor_in(after, "schedules"),
                                        limit=limit)
    return page_out(page, "schedules", lambda s: ScheduleOut(
        **daemon.retrain_schedules.entry(s)))


@router.post("/reload", response_model=ReloadOut,
             summary="Read mlops.toml again and apply its models and policies")
def reload(request: Request) -> ReloadOut:
    try:
        return ReloadOut(**request.app.state.daemon.reload(actor=actor_of(request)))
    except ConfigError as exc:
        raise ApiError(400, f"mlops.toml cannot be used, the running config stays: {exc}",
                       field="config") from None
