"""Events of the daemon itself and of its jobs."""

from __future__ import annotations

from typing import ClassVar

from mlopsd.client.events.base import EventData


class DaemonStarted(EventData):
    name: ClassVar[str] = "daemon.started"
    pid: int
    port: int
    version: str


class DaemonStopped(EventData):
    name: ClassVar[str] = "daemon.stopped"
    pid: int


class ConfigReloaded(EventData):
    name: ClassVar[str] = "config.reloaded"
    by: str
    models_changed: list[str]
    schedules: dict[str, list[str]]
    restart_needed: list[str]


class ConfigReloadFailed(EventData):
    name: ClassVar[str] = "config.reload_failed"
    error: str


# --- jobs -------------------------------------------------------------------------------

class JobQueued(EventData):
    name: ClassVar[str] = "job.queued"
    job_id: int
    kind: str
    actor: str
    subject: str | None = None
    """What the job is about: `dataset:bikes`, `model:riders`…"""
    file: str | None = None
    """The file it reads (an ingest's drop, a scoring's input), by name."""
    retry_of: int | None = None


class JobStarted(EventData):
    name: ClassVar[str] = "job.started"
    job_id: int
    kind: str
    pid: int


class JobCancelling(EventData):
    """A person asked to cancel a running job; `job.cancelled` follows when it has ended."""

    name: ClassVar[str] = "job.cancelling"
    job_id: int
    kind: str
    by: str


class JobRequeued(EventData):
    """The disk filled up under the job: it runs again once there is space."""

    name: ClassVar[str] = "job.requeued"
    job_id: int
    kind: str
    error: str | None


class _JobEnded(EventData):
    job_id: int
    kind: str
    error: str | None = None


class JobSucceeded(_JobEnded):
    name: ClassVar[str] = "job.succeeded"


class JobFailed(_JobEnded):
    name: ClassVar[str] = "job.failed"


class JobInterrupted(_JobEnded):
    name: ClassVar[str] = "job.interrupted"


class JobCancelled(_JobEnded):
    name: ClassVar[str] = "job.cancelled"


class JobProgress(EventData):
    """Telemetry from a worker: a step of its job done."""

    name: ClassVar[str] = "job.progress"
    job_id: int
    step: str
    seconds: float | None = None
    done_s: float | None = None
    artifact: str | None = None
