"""Experiment tracking: experiments, runs, their batches of params, tags and metric points,
models logged from runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from mlopsd.client.wire.common import INT64, Inbound


class ExperimentOut(BaseModel):
    name: str
    created_at: datetime
    runs: int = Field(description="runs in the experiment")
    running: int = Field(description="of which still running")
    last_run_at: datetime | None = Field(description="when its newest run started")
    id: int = Field(description="its number (MLflow's experiment_id)")


class RunOut(BaseModel):
    id: str
    experiment: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    note: str | None
    lineage: Any
    job_id: int | None
    model: str | None
    error: str | None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float | None] = Field(
        default_factory=dict, description="Last value of each metric; null: NaN or ±inf")
    deleted_at: datetime | None = Field(
        None, description="When MLflow's client deleted it (left out of searches)")


class MetricPointOut(BaseModel):
    key: str
    value: float | None
    step: int
    at: datetime


class MetricIn(Inbound):
    key: str
    value: float | None = Field(description="null: NaN or ±inf, which JSON cannot carry")
    step: int = Field(default=0, ge=-INT64, le=INT64)
    at: datetime | None = None


class MetricColumnsIn(Inbound):
    """Metric points as parallel lists (what the SDK sends: far cheaper to encode, parse
    and insert than one object per point). `at` is seconds since the Unix epoch."""

    key: list[str]
    value: list[float | None] = Field(description="null: NaN or ±inf (stored as NaN)")
    step: list[Annotated[int, Field(ge=-INT64, le=INT64)]]
    at: list[Annotated[float, Field(ge=0, le=32_503_680_000)]] = Field(
        description="seconds since the Unix epoch, up to the year 3000")

    @model_validator(mode="after")
    def _same_length(self) -> MetricColumnsIn:
        if not len(self.key) == len(self.value) == len(self.step) == len(self.at):
            raise ValueError("metric columns key, value, step and at must have one entry per "
                             f"point (got {len(self.key)}, {len(self.value)}, "
                             f"{len(self.step)}, {len(self.at)})")
        return self


def _metrics_form(value: Any) -> str:
    return "rows" if isinstance(value, list) else "columns"


# Tagged by the JSON shape, so an error names the form that was sent, not every form.
Metrics = Annotated[
    Annotated[list[MetricIn], Tag("rows")] | Annotated[MetricColumnsIn, Tag("columns")],
    Discriminator(_metrics_form),
]


class RunBatch(Inbound):
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    metrics: Metrics = Field(
        default_factory=list,
        description="Points as a list of {key, value, step, at} or as columns "
                    "{key: [...], value: [...], step: [...], at: [epoch seconds ...]}")


class RunCreate(RunBatch):
    experiment: str
    note: str | None = None
    model: str | None = None
    id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$",
                           description="Chosen by the client (the SDK does), else made here")
    started_at: datetime | None = None
    state: str = Field(default="running",
                       description="running, or finished/failed/killed for a run sent whole")
    error: str | None = None


class RunLog(RunBatch):
    pass


class RunEnd(RunBatch):
    state: str = Field(default="finished", description="finished, failed or killed")
    error: str | None = None


class ModelLog(Inbound):
    """A LightGBM model logged from the SDK into a run (`run.log_model`)."""

    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    model_text: str = Field(max_length=1 << 30,
                            description="LightGBM's text format (Booster.model_to_string)")
    signature: dict[str, Any] = Field(
        description='{"inputs": [{name, dtype, categorical, categories}], "target": ..., '
                    '"threshold": ...}; inputs are the model\'s features, in order')
    task: str | None = Field(default=None, description="binary, multiclass or regression; "
                             "read from the model's objective when left out")
    metrics: dict[str, Any] | None = Field(
        default=None, description="Holdout metrics; the run's last metric values if left out")
    data: list[str] | None = Field(
        default=None, description="What it was trained on (e.g. data version hashes): the "
        "same list again makes a patch version, another a minor one")
    description: str | None = None


class Logged(BaseModel):
    run_id: str
    metrics: int
