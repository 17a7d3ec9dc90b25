"""Events of datasets: ingests, versions, labels, feedback."""

from __future__ import annotations

from typing import Any, ClassVar

from mlopsd.client.events.base import EventData


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


class PredictionsPruned(EventData):
    """Logged predictions made before `before` (ISO 8601, UTC) were deleted with the feedback
    on them: older than `[serving] log_keep_days`."""

    name: ClassVar[str] = "predictions.pruned"
    before: str
    predictions: int
    feedback: int


class FeedbackReceived(EventData):
    name: ClassVar[str] = "feedback.received"
    model: str
    received: int
    matched: int
