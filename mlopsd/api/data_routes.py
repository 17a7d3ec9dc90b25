"""Datasets, data versions, drops (upload), quarantine, selectors, artifacts, alerts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from mlopsd.api.errors import ApiError
from mlopsd.api.job_routes import actor_of
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import (
    MAX_QUERY_TEXT,
    DataVersion,
    Limit,
    Name,
    NameFilter,
    RowId,
    Sha256,
    Text,
)
from mlopsd.api.upload_bound import max_upload_bytes, refuse_declared, stream_into
from mlopsd.api.upload_names import check_upload_name
from mlopsd.api.wire_out import out
from mlopsd.client.wire import (
    AlertOut,
    DatasetOut,
    DataVersionOut,
    IngestOut,
    JobOut,
    NoteRequest,
    Page,
    QualityPointOut,
    Requeued,
    RequeueRequest,
    ResolvedSelectorOut,
    SelectorRequest,
    Upload,
)
from mlopsd.config import DATASET_NAME
from mlopsd.selectors import ResolvedSelector, SelectorError, resolve
from store import alerts, ingest_records
from store import data as data_repo
from store import quality as quality_repo
from store.artifacts import ArtifactStore
from store.errors import ArtifactError, DiskFull

router = APIRouter(prefix="/api/v1", tags=["data"])



def _dataset_out(summary: data_repo.DatasetSummary) -> DatasetOut:
    d = summary.dataset
    return DatasetOut(
        name=d.name, created_at=d.created_at, schema=d.schema, schema_version=d.schema_version,
        target=d.target, time_column=d.time_column, id_column=d.id_column,
        reference_version=d.reference_version, versions=summary.versions,
        latest_version=summary.latest_version, rows=summary.rows,
        last_committed_at=summary.last_committed_at,
    )


@router.get("/datasets", response_model=Page[DatasetOut], summary="Datasets, by name")
def list_datasets(request: Request, after: After = None, limit: Limit = 100
                  ) -> Page[DatasetOut]:
    page = data_repo.page_datasets(request.app.state.daemon.store,
                                   after=cursor_in(after, "datasets"), limit=limit)
    return page_out(page, "datasets", _dataset_out)


@router.get("/datasets/{name}", response_model=DatasetOut, summary="One dataset")
def get_dataset(request: Request, name: Name) -> DatasetOut:
    return _dataset_out(data_repo.dataset_summary(request.app.state.daemon.store, name))


@router.get("/datasets/{name}/versions", response_model=Page[DataVersionOut],
            summary="A dataset's data versions, oldest first (profiles: one version's page)")
def list_versions(request: Request, name: Name, after: After = None, limit: Limit = 100
                  ) -> Page[DataVersionOut]:
    store = request.app.state.daemon.store
    data_repo.get_dataset(store, name)
    page = data_repo.page_versions(store, name, after=cursor_in(after, "data-versions"),
                                   limit=limit)
    return page_out(page, "data-versions", lambda v: out(v, DataVersionOut))


@router.get("/datasets/{name}/versions/{version}", response_model=DataVersionOut,
            summary="One data version with its per-column profile")
def get_version(request: Request, name: Name, version: DataVersion) -> DataVersionOut:
    v = data_repo.get_version(request.app.state.daemon.store, name, version)
    return DataVersionOut.model_validate(v, from_attributes=True)


@router.get("/ingests", response_model=Page[IngestOut],
            summary="What became of dropped files, newest first")
def list_ingests(
    request: Request,
    dataset: NameFilter = None,
    outcome: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[IngestOut]:
    if outcome is not None and outcome not in data_repo.INGEST_OUTCOMES:
        raise ApiError(422, f"unknown outcome {outcome!r} (one of "
                       f"{', '.join(data_repo.INGEST_OUTCOMES)})", field="outcome")
    page = data_repo.page_ingests(request.app.state.daemon.store, dataset=dataset,
                                  outcome=outcome, after=cursor_in(after, "ingests"),
                                  limit=limit)
    return page_out(page, "ingests", lambda i: out(i, IngestOut))


@router.post(
    "/datasets/{name}/files", response_model=Upload, status_code=202,
    summary="Drop a file into a dataset's inbox (the body is the file's bytes)",
    description="Written to a temp name, fsynced and renamed in: the same path as a file "
    "dropped into HOME/inbox/NAME/. The ingest job is queued at once. A body past "
    "`[ingest] max_upload_mb` is a 413, leaving nothing.",
)
async def upload(
    request: Request, name: Name,
    filename: Annotated[str, Query(max_length=255, description="the file's name")],
) -> Upload:
    daemon = request.app.state.daemon
    check_upload_name(filename)
    if not DATASET_NAME.match(name):
        raise ApiError(422, f"{name!r} is not a valid dataset name", field="name")
    bound = max_upload_bytes(request)
    refuse_declared(request, bound)
    folder: Path = daemon.home.inbox / name
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / filename
    if final.exists() or final.is_symlink():
        raise ApiError(409, f"{final} already exists and is waiting to be ingested",
                       field="filename")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            await stream_into(request, out, bound)  # past the bound: the temp file goes
            await run_in_threadpool(out.flush)
            await run_in_threadpool(os.fsync, out.fileno())
        os.link(tmp, final)  # fails if the name was taken meanwhile, unlike rename
    except FileExistsError:
        raise ApiError(409, f"{final} already exists", field="filename") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        job = await run_in_threadpool(daemon.ingest.file_ready, final, actor=actor_of(request))
    except DiskFull:
        final.unlink(missing_ok=True)  # not acknowledged, so not kept: the client retries
        raise
    return Upload(dataset=name, path=str(final), job_id=job.id if job else None)


@router.get("/quarantine", response_model=Page[IngestOut],
            summary="Rejected files still in quarantine, with their reasons, newest first")
def quarantine(request: Request, dataset: NameFilter = None, after: After = None,
               limit: Limit = 100) -> Page[IngestOut]:
    page = ingest_records.page_quarantined(request.app.state.daemon.store, dataset,
                                      after=cursor_in(after, "quarantine"), limit=limit)
    return page_out(page, "quarantine", lambda i: out(i, IngestOut))


@router.post("/quarantine/requeue", response_model=Requeued, status_code=202,
             summary="Put a quarantined file back into its inbox to be ingested again")
def requeue(request: Request, body: RequeueRequest) -> Requeued:
    daemon = request.app.state.daemon
    back = daemon.ingest.requeue(body.file, actor=actor_of(request))
    return Requeued(dataset=back.parent.name, path=str(back))


def _resolve(request: Request, text: str) -> ResolvedSelector:
    try:
        return resolve(request.app.state.daemon.store, text)
    except SelectorError as exc:
        raise ApiError(422, str(exc), field="selector") from None


@router.post("/selectors/resolve", response_model=ResolvedSelectorOut,
             summary="Which exact data versions a selector names now")
def resolve_selector(request: Request, body: SelectorRequest) -> ResolvedSelectorOut:
    r = _resolve(request, body.selector)
    return ResolvedSelectorOut(
        selector=body.selector, canonical=r.canonical, dataset=r.dataset,
        versions=[v.version for v in r.versions], rows=sum(v.n_rows for v in r.versions),
        time_column=r.time_column, start=r.start, end=r.end,
    )


@router.post("/materialise", response_model=JobOut, status_code=202,
             summary="Queue a job writing the selector's rows to one Parquet artifact")
def materialise(request: Request, body: SelectorRequest) -> JobOut:
    r = _resolve(request, body.selector)
    job = request.app.state.daemon.runner.submit("materialise", r.job_params(),
                                                 actor=actor_of(request))
    return JobOut.model_validate(job, from_attributes=True)


@router.get("/artifacts/{sha}", summary="Download an artifact (its hash is checked first)",
            response_class=FileResponse)
def artifact(request: Request, sha: Sha256) -> FileResponse:
    store = ArtifactStore(request.app.state.daemon.home.artifacts)
    try:
        path = store.verify(sha)
    except ArtifactError as exc:
        status = 404 if "missing" in str(exc) or "not a sha256" in str(exc) else 500
        raise ApiError(status, str(exc), field="sha") from None
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"X-Content-SHA256": sha})


@router.get("/datasets/{name}/quality", response_model=list[QualityPointOut],
            summary="Data quality over time: per version and column, null, out-of-range, "
            "unseen and invalid shares; schema changes")
def quality(request: Request, name: Name) -> list[QualityPointOut]:
    store = request.app.state.daemon.store
    data_repo.get_dataset(store, name)
    return [QualityPointOut.model_validate(p) for p in quality_repo.quality_series(store, name)]


@router.get("/alerts", response_model=Page[AlertOut],
            summary="Alerts, most recently seen first",
            description="An alert seen again moves to the front: a listing paged through "
            "meanwhile does not show it again further on.")
def list_alerts(
    request: Request,
    state: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT,
                                       description="open, acknowledged, resolved, "
                                       "or active (not resolved)")] = None,
    rule: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[AlertOut]:
    page = alerts.page_alerts(request.app.state.daemon.store, state=state, rule=rule,
                              after=cursor_in(after, "alerts"), limit=limit)
    return page_out(page, "alerts", lambda a: out(a, AlertOut))


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert")
def get_alert(request: Request, alert_id: RowId) -> AlertOut:
    return out(alerts.get_alert(request.app.state.daemon.store, alert_id), AlertOut)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut,
             summary="Acknowledge an alert (someone is on it)")
def ack_alert(request: Request, alert_id: RowId, body: NoteRequest | None = None) -> AlertOut:
    return _alert_state(request, alert_id, "acknowledged", (body or NoteRequest()).note)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert")
def resolve_alert(request: Request, alert_id: RowId, body: NoteRequest | None = None
                  ) -> AlertOut:
    return _alert_state(request, alert_id, "resolved", (body or NoteRequest()).note)


def _alert_state(request: Request, alert_id: int, state: str, note: str | None) -> AlertOut:
    alert = request.app.state.daemon.alerts.set_state(alert_id, state, note=note,
                                                      by=actor_of(request))
    return AlertOut.model_validate(alert, from_attributes=True)
