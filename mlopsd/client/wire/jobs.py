"""Jobs: what can be queued, the job records, their logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import Inbound


class JobSubmit(BaseModel):
    # Not Inbound: each kind checks its own params (names, selectors, numbers) by name.
    kind: str = Field(max_length=64, description="a job kind from GET /api/v1/job-kinds")
    params: dict[str, Any] = Field(default_factory=dict)


class JobCancel(Inbound):
    reason: str | None = None


class JobOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any] = Field(description="the kind's own parameters (GET "
                                   "/api/v1/job-kinds says which)")
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
    result: Any = Field(description="what the job returned; its shape is the kind's")
    cpu_s: float | None = None
    max_rss_mb: float | None = None


class JobKindOut(BaseModel):
    name: str
    idempotent: bool
    description: str
    queued_by: Literal["people", "daemon"] = Field(
        description="people: POST /api/v1/jobs accepts it with the params below; daemon: its "
        "params name files in the home, so only the daemon's services queue it")
    params: dict[str, str] = Field(default_factory=dict,
                                   description="for people's kinds: each param and what it is")


class JobLog(BaseModel):
    job_id: int
    offset: int
    next_offset: int
    text: str
    complete: bool = Field(description="the job has ended, so no more text will come")
