"""Jobs: queue by kind, list, show, cancel, read the log."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Query, Request

from jobs.registry import KINDS
from mlopsd.api.errors import ApiError
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import MAX_QUERY_TEXT, Limit, Offset, RowId, Text
from mlopsd.client.wire import JobCancel, JobKindOut, JobLog, JobOut, JobSubmit, Page
from mlopsd.services import job_requests
from store import jobs as job_repo

router = APIRouter(prefix="/api/v1", tags=["jobs"])

MAX_LOG_CHUNK = 1 << 20


def actor_of(request: Request) -> str:
    """Who asked, for the audit log: the token's name, and what the client calls itself
    (`X-Mlops-Actor`) before it: `cli@owner`, `alice`."""
    principal = getattr(request.state, "principal", None)
    name = principal.name if principal is not None else "anonymous"
    claim = request.headers.get("x-mlops-actor", "")[:200]
    return f"{claim}@{name}" if claim and claim != name else name


def _out(job: job_repo.Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


@router.get("/job-kinds", response_model=list[JobKindOut], summary="The kinds of job")
def job_kinds() -> list[JobKindOut]:
    people = job_requests.PEOPLE_KINDS
    return [
        JobKindOut(name=k.name, idempotent=k.idempotent, description=k.description,
                   queued_by="people" if k.name in people else "daemon",
                   params=people[k.name].params if k.name in people else {})
        for k in KINDS.values()
    ]


@router.get("/jobs", response_model=Page[JobOut], summary="Jobs, newest first")
def list_jobs(
    request: Request,
    state: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT,
                                       description="queued, running, succeeded…")] = None,
    kind: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[JobOut]:
    if state is not None and state not in job_repo.STATES:
        raise ApiError(422, f"unknown state {state!r} (one of {', '.join(job_repo.STATES)})",
                       field="state")
    page = job_repo.page_jobs(request.app.state.daemon.store, state=state, kind=kind,
                              after=cursor_in(after, "jobs"), limit=limit)
    return page_out(page, "jobs", _out)


@router.post("/jobs", response_model=JobOut, status_code=202,
             summary="Queue a job of a kind meant for people (GET /api/v1/job-kinds)")
def submit_job(request: Request, body: JobSubmit) -> JobOut:
    daemon = request.app.state.daemon
    return _out(job_requests.queue(daemon, body.kind, body.params, actor=actor_of(request)))


@router.get("/jobs/{job_id}", response_model=JobOut, summary="One job")
def get_job(request: Request, job_id: RowId) -> JobOut:
    return _out(job_repo.get_job(request.app.state.daemon.store, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, status_code=202,
             summary="Cancel a queued or running job")
def cancel_job(request: Request, job_id: RowId, body: JobCancel | None = None) -> JobOut:
    runner = request.app.state.daemon.runner
    reason = body.reason if body else None
    return _out(runner.cancel(job_id, actor=actor_of(request), reason=reason))


@router.get("/jobs/{job_id}/log", response_model=JobLog, summary="A job's log, from an offset")
def job_log(
    request: Request, job_id: RowId, offset: Offset = 0
) -> JobLog:
    job = job_repo.get_job(request.app.state.daemon.store, job_id)
    complete = job.state in job_repo.FINAL_STATES
    if not job.log_path:
        return JobLog(job_id=job_id, offset=offset, next_offset=offset, text="", complete=complete)
    try:
        with open(job.log_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            # Past the end there is nothing yet (a seek there can fail on some systems).
            chunk = b""
            if offset < size:
                f.seek(offset)
                chunk = f.read(MAX_LOG_CHUNK)
    except FileNotFoundError:
        chunk = b""
    # Cut at the last whole line (or UTF-8 character) so a reader can resume cleanly.
    if chunk and not complete and b"\n" in chunk:
        chunk = chunk[: chunk.rindex(b"\n") + 1]
    text = chunk.decode("utf-8", errors="replace")
    return JobLog(job_id=job_id, offset=offset, next_offset=offset + len(chunk), text=text,
                  complete=complete and len(chunk) < MAX_LOG_CHUNK)
