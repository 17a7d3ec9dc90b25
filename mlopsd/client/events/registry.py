"""Events of training, runs and the model registry."""

from __future__ import annotations

from typing import ClassVar, Literal

from mlopsd.client.events.base import EventData


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


class RunDeleted(EventData):
    """MLflow's client deleted a run: it is left out of searches until restored."""

    name: ClassVar[str] = "run.deleted"
    run_id: str
    actor: str


class RunRestored(EventData):
    name: ClassVar[str] = "run.restored"
    run_id: str
    actor: str


class ModelRegistered(EventData):
    name: ClassVar[str] = "model.registered"
    model: str
    version: str
    run_id: str | None
    reason: str
    """Why this version number: the semver bump's reason."""
    via: Literal["train", "log", "mlflow"]


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


class ModelUpdated(EventData):
    """MLflow's client changed a registered model's or a numbered version's description or
    tags (registry metadata, audited as `model.update` with the values)."""

    name: ClassVar[str] = "model.updated"
    model: str
    version: str | None
    """Our version, for a numbered version registered here; None for the model itself (or a
    number whose check has not passed)."""
    number: int | None
    """MLflow's version number; None for the model itself."""
    changed: Literal["description", "tags"]
    actor: str
