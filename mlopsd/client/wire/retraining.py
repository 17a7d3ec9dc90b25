"""Retraining: pipelines, schedules, reloading mlops.toml."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import Inbound


class RetrainRequest(Inbound):
    dry_run: bool = False
    reason: str | None = None


class PipelineOut(BaseModel):
    id: int
    model: str
    state: str
    trigger: str
    trigger_detail: Any
    dry_run: bool
    actor: str
    steps: list[dict[str, Any]] = Field(description="each step: name, state, times and its "
                                        "numbers (a step's numbers are its own)")
    merged: list[dict[str, Any]] = Field(description="triggers merged into this pipeline: "
                                         "trigger, detail, actor, at")
    challenger: str | None
    champion: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class RetrainOut(BaseModel):
    pipeline: PipelineOut | None
    merged: bool = False
    skipped: str | None = None


class ScheduleOut(BaseModel):
    id: str
    model: str
    cron: str
    dry_run: bool
    last_run_at: datetime | None
    next_run_at: datetime | None


class ReloadOut(BaseModel):
    models_changed: list[str]
    schedules: dict[str, list[str]]
    restart_needed: list[str]
