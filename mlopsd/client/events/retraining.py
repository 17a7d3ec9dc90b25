"""Events of the retraining pipelines."""

from __future__ import annotations

from typing import ClassVar

from mlopsd.client.events.base import EventData


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
