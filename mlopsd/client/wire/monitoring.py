"""Monitoring: alerts, drift checks and reports, live performance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import MAX_WINDOW_S, Inbound


class AlertOut(BaseModel):
    id: int
    rule: str
    subject: str
    severity: str
    state: str
    message: str
    detail: Any
    count: int
    opened_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    note: str | None


class DriftRequest(Inbound):
    against: str | None = Field(default=None, description="A data selector (default: the "
                                "latest version of the model's dataset)")
    window_s: float | None = Field(
        default=None, gt=0, le=MAX_WINDOW_S, description="Instead: what the model was asked in "
        "the last this many seconds (its prediction log; at most 366 days)")
    record: bool = Field(default=False, description="Make the report part of the model's "
                         "drift stream: it raises and resolves alerts and becomes the "
                         "latest. Without it a check is ad hoc: stored and shown only")


class DriftReportOut(BaseModel):
    id: int
    model: str | None
    model_version: str | None
    dataset: str
    reference: str
    current: str
    dataset_drift: bool | None = Field(description="Null when there was not enough data "
                                       "for a verdict (see status)")
    drift_share: float
    columns: Any = Field(description="Per column: test, statistic (approximate: an estimate "
                         "with its low/high bounds), p_value and p_test, threshold, drifted "
                         "(null: no verdict), rows of both sides, note")
    created_at: datetime
    prediction_drift: bool | None
    prediction: Any
    report_sha: str | None
    job_id: int | None
    profile_sha: str | None
    performance: Any = Field(default=None, description="When the batch carried the target: "
                             "the model's metrics on it, the change from its holdout "
                             "metrics, and which kind of drift a drop is")
    recorded: bool = Field(default=True, description="Part of the model's drift stream "
                           "(moves alerts, the latest is the model's state); false: an "
                           "ad-hoc check")
    rows_reference: int | None = None
    rows_current: int | None = None
    status: str | None = Field(default=None, description="drift, no_drift or "
                               "not_enough_data (no verdict, no alert)")
    detail: Any = Field(default=None, description="Notes: why it was checked, columns left "
                        "out of drift, why it has no verdict")


class LivePerformanceOut(BaseModel):
    """One version's metrics on the labels that came back for one way of serving it."""

    version: str
    served_as: str
    rows: int
    unusable_labels: int
    metrics: dict[str, float | list[list[int]] | None] = Field(
        description="the holdout's metric code on these rows (binary: with its confusion "
        "matrix)")
    baseline: dict[str, float] = Field(description="the version's holdout metrics")
    change: dict[str, float] = Field(description="relative change from the baseline")


class PerformanceOut(BaseModel):
    model: str
    since: datetime | None
    labelled_rows: int
    answered_by_default: int = Field(description="labelled answers the configured default "
                                     "gave (no model's performance)")
    versions: list[LivePerformanceOut]
