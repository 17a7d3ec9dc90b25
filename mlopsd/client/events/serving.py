"""Events of deploys and serving."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from mlopsd.client.events.base import EventData


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
