"""The JSON shapes of the HTTP API, shared by the daemon and the client.

Import-light (pydantic only): the client, the CLI and the TUI use these without loading
the store or the jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str = "ok"
    version: str


class WorkerPool(BaseModel):
    size: int
    running: list[int]
    queued: int


class SchedulerStatus(BaseModel):
    running: bool
    entries: list[dict[str, Any]]


class Status(BaseModel):
    version: str
    pid: int
    home: str
    host: str
    port: int
    started_at: datetime
    uptime_s: float
    schema_version: int
    scheduler: SchedulerStatus
    workers: WorkerPool
    jobs: dict[str, int] = Field(description="job counts by state")
    watched_dirs: list[str]
    auth: str = Field(description="'mutating' on loopback, 'all' when bound beyond it")


class JobSubmit(BaseModel):
    kind: str = Field(description="a job kind from GET /api/v1/job-kinds")
    params: dict[str, Any] = Field(default_factory=dict)


class JobCancel(BaseModel):
    reason: str | None = None


class JobOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    state: str
    idempotent: bool
    attempt: int
    retry_of: int | None
    actor: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    worker_pid: int | None
    error: str | None
    result: Any


class JobKindOut(BaseModel):
    name: str
    idempotent: bool
    description: str


class JobLog(BaseModel):
    job_id: int
    offset: int
    next_offset: int
    text: str
    complete: bool = Field(description="the job has ended, so no more text will come")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: Any


class EventOut(BaseModel):
    id: int
    at: str
    type: str
    data: dict[str, Any]
