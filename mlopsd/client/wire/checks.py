"""CI gates (`mlops check data`, `mlops check model`): the request for a model check, and
the report both kinds of check leave as their job's result."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import NAME, Inbound


class ModelCheckRequest(Inbound):
    against: str = Field(default="production", pattern=NAME, description="An alias (its "
                         "version is the one to beat) or a version; `production` with no "
                         "production version: nothing to beat, as in a retraining")
    max_latency_ms: float | None = Field(
        default=None, gt=0, le=60_000, description="The bound on a single prediction's p95 "
        "(default: the model's [model.monitoring] latency_p95_ms, else [monitoring]'s)")
    latency_rows: int = Field(default=200, ge=1, le=10_000,
                              description="Single-row predictions timed")


class CheckItem(BaseModel):
    """One rule or gate of a check and how the file or version fared."""

    name: str = Field(description="the rule or gate: read, schema, out_of_range, allowed, "
                      "…; floor, significance, latency, signature")
    target: str | None = Field(description="the column (data) or metric (model) it is about")
    status: Literal["passed", "warning", "failed", "error", "skipped"]
    level: str = Field(description="error: a breach fails the check; warning: an ingest "
                       "would accept the file with a data-quality alert")
    rule: str | None = Field(description="what the rule holds, in words")
    message: str | None = Field(description="what was found, where")


class CheckReport(BaseModel):
    """A check's result (the job's `result`): a verdict and one item per rule or gate."""

    kind: Literal["data", "model"]
    subject: str = Field(description="the dataset, or MODEL:VERSION")
    verdict: Literal["pass", "fail", "error"]
    summary: str
    checks: list[CheckItem]
    file: str | None = None
    rows: int | None = None
    columns: int | None = None
    content_hash: str | None = None
    reference: str | None = Field(default=None, description="data: what learned rules "
                                  "were learned from")
    against: str | None = Field(default=None, description="model: the version it was "
                                "compared with")
    metric: str | None = None
    comparison: dict[str, Any] | None = None
    latency: dict[str, Any] | None = None
    timings: dict[str, float] | None = None
