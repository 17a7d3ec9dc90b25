"""The daemon itself: health, status, the audit log, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlopsd.client.events import EventData, payload_of
from mlopsd.client.wire.common import Inbound


class Health(BaseModel):
    status: str = "ok"
    version: str


class WorkerPool(BaseModel):
    size: int
    running: list[int]
    queued: int


class SchedulerEntryOut(BaseModel):
    id: str
    name: str
    trigger: str
    next_run_at: datetime | None


class SchedulerStatus(BaseModel):
    running: bool
    entries: list[SchedulerEntryOut]


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
    unservable: dict[str, str] = Field(
        default_factory=dict, description="Models whose production version cannot serve: "
        "why, and what answers instead")
    last_event_id: int = Field(default=0, description="The newest event's id: follow the "
                               "stream from here (`after`) to miss nothing from now on")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: Any


class AuditChainedOut(AuditEntryOut):
    """An entry as exported for a review: its fields and the chain's two hashes
    (store/audit_chain.py says what is hashed)."""

    prev_hash: str | None
    entry_hash: str | None


class AuditProblem(BaseModel):
    id: int = Field(description="the audit entry the problem was found at")
    problem: str


class OrphanEvent(BaseModel):
    event_id: int
    audit_id: int = Field(description="the audit entry the event names, missing from the log")


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_id: int | None
    last_id: int | None
    head: str | None = Field(description="the newest entry's hash: keep it, and a later "
                             "check shows nothing up to it was changed or removed")
    problems: list[AuditProblem]
    orphan_events: list[OrphanEvent] = Field(description="events naming an audit entry the "
                                             "log no longer has")


class HomeFinding(BaseModel):
    check: str = Field(description="artifacts, aliases, lineage, deployments, pipelines, "
                       "audit")
    subject: str
    problem: str


class HomeVerifyOut(BaseModel):
    ok: bool
    checked: dict[str, int] = Field(description="how many things each check looked at")
    findings: list[HomeFinding]


class EventOut(BaseModel):
    """One event of the stream. `id` is None only for `stream.lost` (the daemon's note that
    this subscriber missed events, `data.lost` of them), which has no place in the history."""

    id: int | None
    at: str | None = None
    type: str
    data: dict[str, Any]
    audit_id: int | None = None
    """The audit entry written with the change (see mlopsd.client.events)."""

    def payload(self) -> EventData:
        """`data` as the catalogue's typed payload for `type` (UnknownEvent for a name this
        client does not know: a newer daemon)."""
        return payload_of(self.type, self.data)


class TokenOut(BaseModel):
    name: str
    role: str = Field(description="viewer, operator, approver or admin")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None


class TokenMadeOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="shown this once; the daemon keeps only its SHA-256")


class TokenRequest(Inbound):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    role: Literal["viewer", "operator", "approver", "admin"]


class WhoAmI(BaseModel):
    name: str = Field(description="the token's name; `anonymous` without one")
    role: str
