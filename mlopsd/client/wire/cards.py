"""A model card: every fact about one model version a reviewer asks for, gathered by the
daemon into one document (`GET /api/v1/models/{name}/versions/{version}/card`); `mlops
models card` renders it as HTML or Markdown on the client side.

What a version's training did not record (versions trained before cards existed have no
intervals, slices or importance) is None here and named in `not_recorded`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mlopsd.client.wire.registry import AliasMoveOut
from mlopsd.client.wire.serving import DeploymentOut


class CardTextOut(BaseModel):
    """[model.card] of mlops.toml as the daemon reads it now."""

    declared: bool = Field(description="false: the model has no [[model]] entry (logged "
                           "from the SDK) or no [model.card]")
    intended_use: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    slices: list[str] = Field(default_factory=list)


class CardMetricOut(BaseModel):
    name: str
    value: float | None = Field(description="on the whole holdout")
    low: float | None = Field(default=None, description="the interval's bounds; null: not "
                              "recorded, or every resample was degenerate")
    high: float | None = None
    higher_is_better: bool | None = None
    train_value: float | None = Field(default=None, description="on (a sample of) the "
                                      "training rows: the train/holdout gap")


class CardIntervalOut(BaseModel):
    method: str
    confidence: float
    resamples: int
    rows: int | None = None
    seed: int


class CardSliceGroupOut(BaseModel):
    value: str
    rows: int
    few_rows: bool = Field(description="fewer than 30 rows: its figures are noisy")
    metrics: dict[str, float | None]


class CardSliceOut(BaseModel):
    column: str
    dtype: str
    how: str = Field(description="how the holdout's rows were grouped by this column")
    groups: list[CardSliceGroupOut]


class CardFeatureOut(BaseModel):
    feature: str
    gain: float | None = Field(description="total gain of its splits in the stored model")
    split: int | None = Field(description="how many splits use it")
    categorical: bool = False


class CardCurveOut(BaseModel):
    metric: str
    series: dict[str, list[float | None]] = Field(
        description="per step from the first: `train` and `holdout` (LightGBM's rounds), or "
        "`logged` (a metric an SDK run logged step by step)")


class CardDataVersionOut(BaseModel):
    dataset: str
    version: int
    rows: int | None
    content_hash: str | None
    source_name: str | None
    committed_at: datetime | None
    time_range: list[str | None] | None = Field(
        default=None, description="[first, last] of the dataset's time column")


class CardColumnOut(BaseModel):
    name: str
    dtype: str
    role: str = Field(description="input, target, time column, or not used")
    count: int = Field(description="values present, over the data versions")
    null_share: float
    min: Any = None
    max: Any = None
    mean: float | None = None
    distinct: int | None = None
    top: list[tuple[str, int]] | None = Field(default=None,
                                              description="the most frequent values")


class CardTrainingDataOut(BaseModel):
    selector: str | None = Field(description="the `data` selector as written")
    resolved: str | None = Field(description="the exact versions it named")
    versions: list[CardDataVersionOut]
    time_column: str | None = None
    time_range: dict[str, Any] | None = Field(
        default=None, description="{column, train: [first, last], holdout: [first, last]}")
    rows: dict[str, int | None] | None = Field(
        default=None, description="train, holdout, total, unlabelled")
    split: str | None = Field(default=None, description="time, stratified or random")
    columns: list[CardColumnOut] = Field(default_factory=list)
    profiled_versions: int = 0
    """how many of the versions the columns' profile merges (the newest, at most 100)"""


class CardLineageOut(BaseModel):
    run_id: str | None
    job_id: int | None = None
    git_commit: str | None = None
    dirty: bool | None = None
    code_path: str | None = None
    config_hash: str | None
    data_key: str | None
    signature_hash: str | None
    seed: int | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    host: str | None = None
    model_sha: str
    holdout_predictions_sha: str | None = None
    recovered: bool = Field(default=False, description="the lineage was rebuilt after a "
                            "restart and lacks what submit knew (the git state)")


class CardDecisionOut(BaseModel):
    at: datetime | None
    actor: str
    action: str = Field(description="registered, promoted, approved, rejected, gate passed, …")
    detail: str
    reason: str | None = None
    audit_id: int | None = None
    pipeline_id: int | None = None


class ModelCardOut(BaseModel):
    model: str
    version: str
    task: str
    description: str | None
    created_at: datetime
    archived: bool
    aliases: list[str] = Field(description="aliases pointing at this version now")
    bump_reason: str | None
    artifact_sha: str
    inputs: list[dict[str, Any]] = Field(description="the signature's inputs: name, dtype, "
                                         "categorical")
    target: dict[str, Any] | None = None
    card: CardTextOut
    headline: str = Field(description="the metric a retrain's gate decides on")
    metrics: list[CardMetricOut]
    interval: CardIntervalOut | None = None
    other_metrics: dict[str, Any] = Field(default_factory=dict,
                                          description="e.g. the confusion matrix")
    slices: list[CardSliceOut] | None = None
    importance: list[CardFeatureOut] | None = None
    curves: list[CardCurveOut] = Field(default_factory=list)
    best_iteration: int | None = None
    training_data: CardTrainingDataOut
    lineage: CardLineageOut
    approvals: list[CardDecisionOut]
    deploys: list[DeploymentOut] = Field(description="deploy steps to or from this version")
    alias_moves: list[AliasMoveOut]
    not_recorded: list[str] = Field(default_factory=list,
                                    description="what this version's training did not record")
    generated_at: datetime
