"""The event catalogue: every event the daemon publishes, one name each, one typed payload
each. The daemon's bus accepts nothing else; the CLI (`mlops events`), the TUI and the alert
hooks read the same types; `GET /api/v1/events/schema` serves `json_schema()`.

On the wire (Server-Sent Events) an event is `id:`, `event:` (its name) and `data:` holding
the envelope `{"id", "at", "type", "data", "audit_id"}`; `data` is the payload below. Ids
count up across restarts (each event is written in the store transaction of the change it
tells of); `audit_id` names the audit entry written with the change, when there is one.
`stream.lost` alone has no id (no `id:` line, no "id" key): it says that events a client
asked for are no longer kept, and how many.

Kinds: *changes* (a row written: a job queued, an alert opened, an alias moved…) and
*telemetry* (`train.iteration`, `serving.stats`, `job.progress`, `score.progress`,
`run.metrics`): numbers while something runs, kept and replayed the same way.

Only pydantic here: the client side imports nothing of the daemon's.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

CATALOGUE: dict[str, type[EventData]] = {}
"""Event name → its payload model."""


class EventData(BaseModel):
    """A payload. Subclasses name their event with `name` and are catalogued."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name:
            if name in CATALOGUE:
                raise TypeError(f"event {name!r} is catalogued twice")
            CATALOGUE[name] = cls


class Event(BaseModel):
    """The envelope every event travels in (`stream.lost` alone has no id)."""

    id: int | None = None
    at: str
    type: str
    data: dict[str, Any]
    audit_id: int | None = None

    def payload(self) -> EventData:
        """The typed payload (raises for a name the catalogue does not know)."""
        return payload_of(self.type, self.data)


def payload_of(name: str, data: dict[str, Any]) -> EventData:
    cls = CATALOGUE.get(name)
    if cls is None:
        raise UnknownEvent(name)
    return cls.model_validate(data)


class UnknownEvent(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name[:100]!r} is not in the event catalogue")


# --- the daemon -------------------------------------------------------------------------

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


# --- data -------------------------------------------------------------------------------

class DatasetCreated(EventData):
    name: ClassVar[str] = "dataset.created"
    dataset: str
    by: str


class DatasetSchemaChanged(EventData):
    name: ClassVar[str] = "dataset.schema_changed"
    dataset: str
    file: str
    change: Any
    """Columns added, removed, retyped."""
    accepted: bool


class IngestCommitted(EventData):
    """A dropped file became a data version."""

    name: ClassVar[str] = "ingest.committed"
    dataset: str
    file: str
    version: int
    rows: int
    job_id: int


class IngestDuplicate(EventData):
    name: ClassVar[str] = "ingest.duplicate"
    dataset: str
    file: str
    duplicate_of: int | None
    job_id: int


class IngestQuarantined(EventData):
    name: ClassVar[str] = "ingest.quarantined"
    dataset: str
    file: str
    quarantined_as: str | None
    reason: str
    job_id: int | None


class IngestVanished(EventData):
    name: ClassVar[str] = "ingest.vanished"
    dataset: str
    file: str
    job_id: int


class IngestChanged(EventData):
    """The file changed while it was read: it is read again."""

    name: ClassVar[str] = "ingest.changed"
    dataset: str
    file: str
    job_id: int


class IngestRequeued(EventData):
    name: ClassVar[str] = "ingest.requeued"
    dataset: str
    file: str
    back_as: str


class IngestDone(EventData):
    """A parked file (stored, but `.done/` could not take it) has moved there at last."""

    name: ClassVar[str] = "ingest.done"
    dataset: str
    file: str
    done_as: str


class IngestDoneBlocked(EventData):
    name: ClassVar[str] = "ingest.done_blocked"
    dataset: str
    file: str
    stored_as: str
    error: str


class LabelsStored(EventData):
    name: ClassVar[str] = "labels.stored"
    dataset: str
    file: str
    rows: int
    job_id: int


class LabelsRejected(EventData):
    name: ClassVar[str] = "labels.rejected"
    dataset: str
    file: str
    reason: str
    kept_at: str
    job_id: int | None


class FeedbackReceived(EventData):
    name: ClassVar[str] = "feedback.received"
    model: str
    received: int
    matched: int


# --- training, runs and the registry ------------------------------------------------------

class TrainIteration(EventData):
    """Telemetry: a training's metrics at one boosting round (about 10 a second at most;
    the last round always)."""

    name: ClassVar[str] = "train.iteration"
    job_id: int
    model: str
    iteration: int
    train: dict[str, float | None]
    valid: dict[str, float | None]


class RunStarted(EventData):
    name: ClassVar[str] = "run.started"
    run_id: str
    experiment: str
    model: str | None = None


class RunMetrics(EventData):
    """Telemetry: the last value of each metric in a batch the SDK logged."""

    name: ClassVar[str] = "run.metrics"
    run_id: str
    metrics: dict[str, float | None]
    steps: dict[str, int]
    points: int


class RunEnded(EventData):
    name: ClassVar[str] = "run.ended"
    run_id: str
    state: str
    stale: bool = False
    """It stopped reporting and was marked failed."""


class ModelRegistered(EventData):
    name: ClassVar[str] = "model.registered"
    model: str
    version: str
    run_id: str | None
    reason: str
    """Why this version number: the semver bump's reason."""
    via: Literal["train", "log"]


class ModelReproduced(EventData):
    name: ClassVar[str] = "model.reproduced"
    model: str
    version: str
    identical: bool
    repaired: bool


class ModelAliasMoved(EventData):
    """An alias moved (for `production`: a blue-green deploy, the switch made)."""

    name: ClassVar[str] = "model.alias_moved"
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    kind: str
    """move or rollback."""
    actor: str
    reason: str | None


class ModelArchived(EventData):
    name: ClassVar[str] = "model.archived"
    model: str
    version: str
    actor: str
    reason: str | None = None


# --- deploys and serving ------------------------------------------------------------------

class DeployCanary(EventData):
    name: ClassVar[str] = "deploy.canary"
    model: str
    version: str
    percent: float
    deployment_id: int


class DeployShadow(EventData):
    name: ClassVar[str] = "deploy.shadow"
    model: str
    version: str
    deployment_id: int


class _DeployEnded(EventData):
    model: str
    version: str
    strategy: str
    deployment_id: int
    reason: str | None = None


class DeployPromoted(_DeployEnded):
    name: ClassVar[str] = "deploy.promoted"


class DeployAborted(_DeployEnded):
    name: ClassVar[str] = "deploy.aborted"


class DeployRolledBack(_DeployEnded):
    name: ClassVar[str] = "deploy.rolled_back"


class DeployEnded(_DeployEnded):
    """A canary or shadow ended without a verdict: the daemon restarted (it lived in
    memory)."""

    name: ClassVar[str] = "deploy.ended"


class DeployDrill(EventData):
    name: ClassVar[str] = "deploy.drill"
    model: str
    version: str
    failure_rate: float
    requests: int
    delay_s: float


class VersionServingStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str
    version: str
    requests: int
    """Requests answered in this second."""
    errors: int
    """…of which failed (server side)."""
    client_errors: int
    rows: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    """Latency quantiles of this second's requests."""


class ServingStats(EventData):
    """Telemetry, once a second while requests are served: per version, that second's
    requests, errors and latency quantiles."""

    name: ClassVar[str] = "serving.stats"
    window_s: float
    versions: list[VersionServingStats]


class ScoreProgress(EventData):
    name: ClassVar[str] = "score.progress"
    model: str
    version: str
    rows: int
    chunks: int


class ScoreDone(EventData):
    name: ClassVar[str] = "score.done"
    model: str
    job_id: int
    rows: int
    output: str


class ScoreFailed(EventData):
    name: ClassVar[str] = "score.failed"
    model: str
    job_id: int | None
    file: str
    reason: str
    kept_at: str


# --- monitoring and alerts ----------------------------------------------------------------

class DriftReported(EventData):
    name: ClassVar[str] = "drift.report"
    model: str
    report_id: int
    recorded: bool
    status: str | None
    dataset_drift: bool | None
    prediction_drift: bool | None
    drifted: list[str]


class _AlertEvent(EventData):
    """The alert as this change left it."""

    alert_id: int
    rule: str
    subject: str
    severity: str
    state: str
    message: str
    count: int
    detail: Any = None
    opened_at: str
    updated_at: str
    note: str | None = None
    by: str
    """Who changed it (`mlopsd` when the daemon did)."""


class AlertOpened(_AlertEvent):
    name: ClassVar[str] = "alert.opened"


class AlertRepeated(_AlertEvent):
    """Raised again while open: its count went up, its message and detail were updated."""

    name: ClassVar[str] = "alert.repeated"


class AlertAcknowledged(_AlertEvent):
    name: ClassVar[str] = "alert.acknowledged"


class AlertResolved(_AlertEvent):
    name: ClassVar[str] = "alert.resolved"


# --- retraining ---------------------------------------------------------------------------

class PipelineStarted(EventData):
    name: ClassVar[str] = "pipeline.started"
    pipeline_id: int
    model: str
    trigger: str
    dry_run: bool
    released: bool = False
    """It had been held (cooldown, or a dry run in the way) and starts now."""


class PipelineHeld(EventData):
    name: ClassVar[str] = "pipeline.held"
    pipeline_id: int
    model: str
    trigger: str
    why: str


class PipelineMerged(EventData):
    """A trigger joined a pipeline already running (or held)."""

    name: ClassVar[str] = "pipeline.merged"
    pipeline_id: int
    model: str
    trigger: str


class PipelineStep(EventData):
    """A pipeline's step started, finished, or changed its state (e.g. waiting for
    approval): its state and steps as saved."""

    name: ClassVar[str] = "pipeline.step"
    pipeline_id: int
    model: str
    state: str
    step: str | None
    step_state: str | None


class PipelineEnded(EventData):
    name: ClassVar[str] = "pipeline.ended"
    pipeline_id: int
    model: str
    state: str
    reason: str


# --- the stream itself --------------------------------------------------------------------

class StreamLost(EventData):
    """Sent (without an id) when events a client asked for are no longer kept (`expired`:
    older than the daemon keeps; `unknown`: an id this daemon never gave), or when it fell
    too far behind. The stream goes on after `resume_after`."""

    name: ClassVar[str] = "stream.lost"
    missed: int | None
    """How many events were missed; None when it cannot be known."""
    reason: Literal["expired", "unknown"]
    oldest_kept_id: int | None
    resume_after: int


TELEMETRY = frozenset({"train.iteration", "serving.stats", "job.progress", "score.progress",
                       "run.metrics"})
"""Numbers while something runs, rather than a change of state."""


def json_schema() -> dict[str, Any]:
    """A JSON schema (2020-12) of the envelope with its payload, one branch per event name;
    `x-events` lists the names with their payload's definition."""
    defs: dict[str, Any] = {}
    branches, names = [], {}
    for name, cls in sorted(CATALOGUE.items()):
        schema = cls.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[cls.__name__] = schema
        names[name] = {"$ref": f"#/$defs/{cls.__name__}",
                       "description": (cls.__doc__ or "").strip() or None}
        branches.append({
            "properties": {"type": {"const": name},
                           "data": {"$ref": f"#/$defs/{cls.__name__}"}},
        })
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "mlops-events",
        "title": "mlops events",
        "description": "An event as the daemon streams it (GET /api/v1/events): the "
                       "envelope, its `type` one of the catalogued names and `data` that "
                       "name's payload.",
        "type": "object",
        "required": ["at", "type", "data"],
        "properties": {
            "id": {"type": ["integer", "null"]},
            "at": {"type": "string"},
            "type": {"enum": sorted(CATALOGUE)},
            "data": {"type": "object"},
            "audit_id": {"type": ["integer", "null"]},
        },
        "oneOf": branches,
        "$defs": defs,
        "x-events": names,
    }
