"""Experiment tracking over HTTP: runs, their batches of params, tags and metric points,
models logged from runs, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import ORJSONResponse

from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import (
    MAX_QUERY_TEXT,
    ExperimentName,
    Limit,
    MetricKey,
    NameFilter,
    RunId,
    Text,
)
from mlopsd.api.wire_out import out as _out
from mlopsd.client.wire import (
    ExperimentOut,
    JobOut,
    Logged,
    MetricColumnsIn,
    MetricPointOut,
    Metrics,
    ModelLog,
    Page,
    RunCreate,
    RunEnd,
    RunLog,
    RunOut,
)
from store import run_search
from store import runs as run_repo
from store.db import Store
from store.run_filter import FilterError

router = APIRouter(prefix="/api/v1", tags=["runs"])


def _metrics(metrics: Metrics) -> run_repo.MetricColumns:
    nan = float("nan")
    if isinstance(metrics, MetricColumnsIn):
        values = [nan if v is None else v for v in metrics.value]
        return run_repo.MetricColumns(metrics.key, values, metrics.step, metrics.at)
    return run_repo.MetricColumns.from_points(
        (m.key, nan if m.value is None else m.value, m.step, m.at) for m in metrics)


@router.post("/runs", response_model=RunOut, status_code=201,
             summary="Start a run (the Python SDK's start_run), or record a whole run at once",
             description="With `state` finished/failed/killed the run is created ended: the "
             "SDK sends a run that lasted less than its flush interval as this one request.")
def create_run(request: Request, body: RunCreate) -> RunOut:
    daemon = request.app.state.daemon
    columns = _metrics(body.metrics)
    try:
        new = run_repo.new_run(
            run_id=body.id, experiment=body.experiment, model=body.model, note=body.note,
            tags=body.tags, params=body.params, metrics=columns, state=body.state,
            error=body.error, started_at=body.started_at)
    except ValueError as exc:
        raise ApiError(422, str(exc), field="state") from None
    return _out(daemon.runs.create(new), RunOut)  # a whole run: group-committed


def _synced(request: Request) -> Store:
    """The store, with every acknowledged whole run applied to it."""
    daemon = request.app.state.daemon
    daemon.run_journal.sync()
    return daemon.store


@router.post("/runs/{run_id}/log", response_model=Logged,
             summary="Log params, tags and metric points in one batch (also a heartbeat)")
def log_run(request: Request, run_id: RunId, body: RunLog) -> Logged:
    columns = _metrics(body.metrics)
    count = request.app.state.daemon.runs.log(run_id, params=body.params, tags=body.tags,
                                              metrics=columns)
    return Logged(run_id=run_id, metrics=count)


@router.post("/runs/{run_id}/end", response_model=RunOut,
             summary="End a run, with its last batch")
def end_run(request: Request, run_id: RunId, body: RunEnd | None = None) -> RunOut:
    body = body or RunEnd()
    if body.state not in ("finished", "failed", "killed"):
        raise ApiError(422, f"state must be finished, failed or killed, not {body.state!r}",
                       field="state")
    columns = _metrics(body.metrics)
    daemon = request.app.state.daemon
    daemon.runs.end(run_id, body.state, error=body.error, params=body.params, tags=body.tags,
                    metrics=columns)
    return _out(run_repo.get_run(daemon.store, run_id), RunOut)


@router.post("/runs/{run_id}/models", response_model=JobOut, status_code=202,
             summary="Register a LightGBM model made by this run (the SDK's log_model)",
             description="The text is stored, then job `check_model` loads it in a worker "
             "and checks it against the signature; the version is registered when it "
             "passes (the job's result names it).")
def log_model(request: Request, run_id: RunId, body: ModelLog) -> JobOut:
    if not isinstance(body.signature.get("inputs"), list) or not body.signature["inputs"]:
        raise ApiError(422, "signature needs inputs: a list of {name, dtype, categorical, "
                       "categories}, one per model feature", field="signature")
    _synced(request)
    job = request.app.state.daemon.logged_models.submit(
        run_id, model=body.model, model_text=body.model_text, signature=body.signature,
        task=body.task, metrics=body.metrics, data=body.data, description=body.description,
        actor=actor_of(request))
    return _out(job, JobOut)


@router.get("/runs", response_model=Page[RunOut],
            summary="Search runs: filter by params, metrics, tags; sort",
            description="`filter` e.g. `metrics.auc > 0.8 and params.num_leaves = 31`; "
            "`order_by` e.g. `metrics.rmse asc` (default: newest first; runs without the "
            "metric last). A cursor belongs to its order: page on with the same `order_by`.")
def search_runs(
    request: Request,
    filter: Annotated[str, Query(max_length=MAX_QUERY_TEXT)] = "",
    order_by: Text = None,
    experiment: Text = None,
    model: NameFilter = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[RunOut]:
    # The order is part of the listing's name: a cursor of one order means nothing in
    # another.
    listing = "runs:" + " ".join((order_by or "").lower().split())
    try:
        page = run_search.search_runs(
            _synced(request), filter=filter, experiment=experiment, model=model,
            order_by=order_by, after=cursor_in(after, listing), limit=limit)
    except FilterError as exc:
        raise ApiError(422, str(exc), field="order_by" if "order by" in str(exc)
                       else "filter") from None
    return page_out(page, listing, lambda r: _out(r, RunOut))


@router.get("/experiments", response_model=Page[ExperimentOut],
            summary="Experiments by name, with their runs counted")
def list_experiments(request: Request, after: After = None, limit: Limit = 100
                     ) -> Page[ExperimentOut]:
    page = run_search.page_experiments(_synced(request), after=cursor_in(after, "experiments"),
                                       limit=limit)
    return page_out(page, "experiments", lambda e: _out(e, ExperimentOut))


@router.get("/experiments/{experiment:path}", response_model=ExperimentOut,
            summary="One experiment: its runs counted, the newest's start")
def get_experiment(request: Request, experiment: ExperimentName) -> ExperimentOut:
    return _out(run_search.get_experiment(_synced(request), experiment), ExperimentOut)


@router.get("/runs/{run_id}", response_model=RunOut,
            summary="One run: params, tags, last metric values, lineage")
def get_run(request: Request, run_id: RunId) -> RunOut:
    return _out(run_repo.get_run(_synced(request), run_id), RunOut)


@router.get("/runs/{run_id}/metrics/{key}", response_model=list[MetricPointOut],
            summary="A metric's history (per step)")
def metric_history(request: Request, run_id: RunId, key: MetricKey) -> ORJSONResponse:
    store = _synced(request)
    run_repo.get_run(store, run_id)
    # Straight to JSON: a curve of 10,000 points through pydantic costs ~0.1 s.
    return ORJSONResponse([{"key": p.key, "value": p.value, "step": p.step, "at": p.at}
                           for p in run_repo.metric_history(store, run_id, key)])
