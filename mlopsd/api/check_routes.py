"""CI gates over HTTP: a file checked against its dataset's rules, a model version against
production's gates. Each queues a job whose result is the report; nothing is stored,
moved or deployed (mlopsd/services/data_checks.py, mlopsd/retraining/model_gate.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from mlopsd.api.job_routes import actor_of
from mlopsd.api.model_names import known_model
from mlopsd.api.params import Name, Version
from mlopsd.api.upload_bound import max_upload_bytes, refuse_declared, stream_into
from mlopsd.api.upload_names import check_upload_name
from mlopsd.api.wire_out import out
from mlopsd.client.wire import JobOut, ModelCheckRequest

router = APIRouter(prefix="/api/v1", tags=["checks"])


@router.post("/datasets/{name}/check", response_model=JobOut, status_code=202,
             summary="Check a file (the body) against the dataset's contract and learned "
             "rules, storing nothing",
             description="The same checks as an ingest, in a worker (job `check_data`); the "
             "job's result is the report (a verdict per rule). No data version, no "
             "quarantine, no move: the upload is removed when the job ends. A body past `[ingest] "
             "max_upload_mb` is a 413.")
async def check_data(
    request: Request, name: Name,
    filename: Annotated[str, Query(max_length=255, description="the file's name (its "
                                                               "suffix says the format)")],
) -> JobOut:
    checks = request.app.state.daemon.data_checks
    check_upload_name(filename)
    bound = max_upload_bytes(request)
    refuse_declared(request, bound)
    await run_in_threadpool(checks.dataset, name)  # an unknown dataset before a byte is kept
    folder: Path = await run_in_threadpool(checks.folder)
    path = folder / filename
    try:
        # File work on a thread: this loop also answers predictions. Synced: a check still
        # queued at a restart runs then, on the whole file.
        with open(path, "xb") as sink:
            await stream_into(request, sink, bound)
            await run_in_threadpool(sink.flush)
            await run_in_threadpool(os.fsync, sink.fileno())
        job = await run_in_threadpool(lambda: checks.submit(name, path,
                                                            actor=actor_of(request)))
    except BaseException:
        checks.discard(folder)
        raise
    return out(job, JobOut)


@router.post("/models/{name}/versions/{version}/check", response_model=JobOut,
             status_code=202, dependencies=[Depends(known_model)],
             summary="Judge a version by its retrain policy's gates against production, "
             "deploying nothing",
             description="The retraining pipeline's comparison (job `gate_model`: both "
             "versions on the version's own holdout, a paired bootstrap CI) and its gates, a "
             "single prediction's latency and the input signature against the version "
             "`against` names; the job's result is the report. No alias moves, no pipeline.")
def check_model(request: Request, name: Name, version: Version,
                body: ModelCheckRequest | None = None) -> JobOut:
    body = body or ModelCheckRequest()
    job = request.app.state.daemon.model_gate.submit(
        name, version, against=body.against, max_latency_ms=body.max_latency_ms,
        latency_rows=body.latency_rows, actor=actor_of(request))
    return out(job, JobOut)
