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

from mlopsd.client.events.access import TokenCreated, TokenReplaced, TokenRevoked
from mlopsd.client.events.base import (
    CATALOGUE,
    Event,
    EventData,
    UnknownEvent,
    payload_of,
)
from mlopsd.client.events.data import (
    DatasetCreated,
    DatasetSchemaChanged,
    FeedbackReceived,
    IngestChanged,
    IngestCommitted,
    IngestDone,
    IngestDoneBlocked,
    IngestDuplicate,
    IngestQuarantined,
    IngestRequeued,
    IngestVanished,
    LabelsRejected,
    LabelsStored,
    PredictionsPruned,
)
from mlopsd.client.events.jobs import (
    ConfigReloaded,
    ConfigReloadFailed,
    DaemonStarted,
    DaemonStopped,
    JobCancelled,
    JobCancelling,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobQueued,
    JobRequeued,
    JobStarted,
    JobSucceeded,
)
from mlopsd.client.events.monitoring import (
    AlertAcknowledged,
    AlertOpened,
    AlertRepeated,
    AlertResolved,
    DriftReported,
)
from mlopsd.client.events.registry import (
    ModelAliasMoved,
    ModelArchived,
    ModelRegistered,
    ModelReproduced,
    ModelUpdated,
    RunDeleted,
    RunEnded,
    RunMetrics,
    RunRestored,
    RunStarted,
    TrainIteration,
)
from mlopsd.client.events.retraining import (
    PipelineEnded,
    PipelineHeld,
    PipelineMerged,
    PipelineStarted,
    PipelineStep,
)
from mlopsd.client.events.serving import (
    DeployAborted,
    DeployCanary,
    DeployDrill,
    DeployEnded,
    DeployPromoted,
    DeployRolledBack,
    DeployShadow,
    ScoreDone,
    ScoreFailed,
    ScoreProgress,
    ServingStats,
    VersionServingStats,
)
from mlopsd.client.events.stream import (
    TELEMETRY,
    StreamLost,
    json_schema,
)

__all__ = [
    "CATALOGUE",
    "TELEMETRY",
    "AlertAcknowledged",
    "AlertOpened",
    "AlertRepeated",
    "AlertResolved",
    "ConfigReloadFailed",
    "ConfigReloaded",
    "DaemonStarted",
    "DaemonStopped",
    "DatasetCreated",
    "DatasetSchemaChanged",
    "DeployAborted",
    "DeployCanary",
    "DeployDrill",
    "DeployEnded",
    "DeployPromoted",
    "DeployRolledBack",
    "DeployShadow",
    "DriftReported",
    "Event",
    "EventData",
    "FeedbackReceived",
    "IngestChanged",
    "IngestCommitted",
    "IngestDone",
    "IngestDoneBlocked",
    "IngestDuplicate",
    "IngestQuarantined",
    "IngestRequeued",
    "IngestVanished",
    "JobCancelled",
    "JobCancelling",
    "JobFailed",
    "JobInterrupted",
    "JobProgress",
    "JobQueued",
    "JobRequeued",
    "JobStarted",
    "JobSucceeded",
    "LabelsRejected",
    "LabelsStored",
    "ModelAliasMoved",
    "ModelArchived",
    "ModelRegistered",
    "ModelReproduced",
    "ModelUpdated",
    "PipelineEnded",
    "PipelineHeld",
    "PipelineMerged",
    "PipelineStarted",
    "PipelineStep",
    "PredictionsPruned",
    "RunDeleted",
    "RunEnded",
    "RunMetrics",
    "RunRestored",
    "RunStarted",
    "ScoreDone",
    "ScoreFailed",
    "ScoreProgress",
    "ServingStats",
    "StreamLost",
    "TokenCreated",
    "TokenReplaced",
    "TokenRevoked",
    "TrainIteration",
    "UnknownEvent",
    "VersionServingStats",
    "json_schema",
    "payload_of",
]
