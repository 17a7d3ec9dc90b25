"""Serving's control side: deploys (canary, shadow, blue-green), drills, what serves and
its numbers, the prediction log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import Inbound


class DeployRequest(Inbound):
    version: str
    strategy: Literal["canary", "shadow", "blue-green"] = "canary"
    percent: float = Field(default=10.0, ge=0, le=100,
                           description="canary: share of requests, in percent")
    reason: str | None = None
    min_requests: int | None = Field(default=None, ge=1, le=1_000_000_000)
    error_margin: float | None = Field(default=None, ge=0, le=1)
    latency_margin: float | None = Field(default=None, ge=0, le=1_000_000)
    drill_failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="A failure drill: this share of the canary's "
        "requests fail on purpose, to prove the fallback and the auto-rollback work")


class DrillRequest(Inbound):
    failure_rate: float = Field(default=1.0, ge=0, le=1)
    delay_ms: float = Field(default=0.0, ge=0, le=60_000,
                            description="A latency drill: each request answered this late")
    requests: int = Field(default=10, ge=1, le=1_000_000)
    reason: str | None = None


class VersionStatsOut(BaseModel):
    """One version's (or one arm's) service numbers since it started serving; percentiles
    over its most recent requests (`window` of them)."""

    requests: int
    errors: int
    client_errors: int
    rows: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    window: int


class CanaryPolicyOut(BaseModel):
    min_requests: int
    error_margin: float
    latency_margin: float
    latency_floor_ms: float


class CanaryOut(BaseModel):
    strategy: Literal["canary"] = "canary"
    version: str
    percent: float
    deployment_id: int
    started: float = Field(description="seconds since the Unix epoch")
    drill_failure_rate: float
    policy: CanaryPolicyOut
    champion: VersionStatsOut
    candidate: VersionStatsOut


class ShadowOut(BaseModel):
    strategy: Literal["shadow"] = "shadow"
    version: str
    deployment_id: int
    started: float = Field(description="seconds since the Unix epoch")
    compared: int = Field(description="requests the shadow answered and was compared on")
    compared_rows: int
    errors: int
    skipped: int = Field(description="requests not shadowed: the shadow had fallen behind")
    mean_abs_diff: float | None
    max_abs_diff: float | None
    label_agreement: float | None


class BlueGreenOut(BaseModel):
    strategy: Literal["blue-green"] = "blue-green"
    from_version: str | None
    to_version: str | None


DeployOut = Annotated[CanaryOut | ShadowOut | BlueGreenOut, Field(discriminator="strategy")]
"""What a deploy started: a canary, a shadow (each with its numbers so far), or the
blue-green switch that is already done."""


class DeployStatusOut(BaseModel):
    model: str
    live: str
    previous: str | None = Field(description="kept loaded: a rollback is instant")
    canary: CanaryOut | None
    shadow: ShadowOut | None


class DeployAbortOut(BaseModel):
    model: str
    state: str
    ended: list[Annotated[CanaryOut | ShadowOut, Field(discriminator="strategy")]]


class DrillOut(BaseModel):
    model: str
    version: str
    failure_rate: float
    requests: int
    fallback: str = Field(description="what answers in the live version's place")


class DeploymentOut(BaseModel):
    id: int
    model: str
    strategy: str
    from_version: str | None
    to_version: str
    state: str
    detail: Any
    actor: str
    reason: str | None
    started_at: datetime
    ended_at: datetime | None


class PredictionOut(BaseModel):
    request_id: str
    row_index: int
    model: str
    version: str
    served_as: str
    predicted_at: datetime
    latency_ms: float
    inputs: Any
    output: Any
    label: Any


class ServedSlotOut(BaseModel):
    live: str
    previous: str | None = Field(description="kept loaded for an instant rollback")
    stands_in_for: str | None = Field(
        default=None, description="the production version the live one answers for, when "
        "that one cannot serve (a fallback)")


class PredictionLogStatsOut(BaseModel):
    offered: int
    logged_rows: int
    dropped: int
    unsampled: int
    sample_rate: float
    queued: int
    queued_rows: int
    input_issues: dict[str, dict[str, dict[str, int]]] = Field(
        description="per model, kind (ignored_columns, unseen_categories) and column: how "
        "many requests or rows")


class BatchingOut(BaseModel):
    batches: int = Field(description="predict calls made for two requests or more")
    batched_requests: int = Field(description="requests those calls answered")
    largest: int = Field(description="requests in the largest batch")
    alone: int = Field(description="small requests predicted alone (nothing to batch with)")


class ServingOut(BaseModel):
    models: dict[str, ServedSlotOut] = Field(
        description="Per served model: the live version and the previous one (kept loaded "
                    "for an instant rollback)")
    failed: dict[str, str] = Field(description="Models whose production version cannot serve")
    stats: dict[str, VersionStatsOut] = Field(
        description="Per model:version since the daemon started: requests, errors, rows, "
        "p50/p95/p99 latency (ms)")
    prediction_log: PredictionLogStatsOut
    batching: BatchingOut | None = Field(
        default=None, description="concurrent requests for one version predicted in one "
        "call (micro-batches), since the daemon started")


class ServingBucketOut(BaseModel):
    """The requests one version answered in one time bucket, as the prediction log has
    them (answered requests only, at the log's sampling rate)."""

    start: datetime
    version: str
    served_as: str = Field(description="production, canary, shadow, fallback, …")
    requests: int
    rows: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class ServingStatsOut(BaseModel):
    model: str
    since: datetime
    until: datetime
    bucket_s: float
    buckets: list[ServingBucketOut] = Field(description="oldest first; a bucket with no "
                                            "request is left out")
