"""Data: datasets, data versions, dropped files (ingests, quarantine), selectors, quality."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlopsd.client.wire.common import Inbound


class DatasetOut(BaseModel):
    name: str
    created_at: datetime
    schema_: dict[str, str] | None = Field(default=None, alias="schema")
    schema_version: int
    target: str | None
    time_column: str | None
    id_column: str | None
    reference_version: int | None
    versions: int = 0
    latest_version: int | None = None
    rows: int = 0
    last_committed_at: datetime | None = None

    model_config = ConfigDict(populate_by_name=True)


class DataVersionOut(BaseModel):
    dataset: str
    version: int
    content_hash: str
    snapshot_sha: str
    schema_hash: str
    schema_version: int
    n_rows: int
    n_columns: int
    source_name: str
    received_at: datetime
    committed_at: datetime
    profile: dict[str, Any] | None = Field(
        default=None, description="per column: count, nulls, min/max/mean/std, quantiles, "
        "histogram, categories, quality shares (one version only; not in listings)")


class IngestOut(BaseModel):
    id: int
    dataset: str
    source_name: str
    outcome: str
    version: int | None
    content_hash: str | None
    size_bytes: int | None
    received_at: datetime
    finished_at: datetime
    job_id: int | None
    quarantine_path: str | None
    issues: Any = Field(description="what the checks found: check, column, rows, values, rule")
    schema_change: Any
    requeued_at: datetime | None


class Upload(BaseModel):
    dataset: str
    path: str
    job_id: int | None = Field(description="the ingest job, unless the file was in flight")


class RequeueRequest(Inbound):
    file: str = Field(description="the quarantined file's name (as `mlops data quarantine` "
                      "lists it) or its path")


class Requeued(BaseModel):
    dataset: str
    path: str


class SelectorRequest(Inbound):
    selector: str = Field(max_length=1000, description="e.g. bikeshare@latest, bikeshare@2..5, "
                          "bikeshare@last:3, bikeshare@all[2011-03-01..2011-04-01]")


class ResolvedSelectorOut(BaseModel):
    selector: str
    canonical: str
    dataset: str
    versions: list[int]
    rows: int
    time_column: str | None
    start: datetime | None
    end: datetime | None


class ColumnQualityOut(BaseModel):
    """One column of one version, as its ingest measured it (a share is of the rows)."""

    null_share: float | None = None
    out_of_range_share: float | None = None
    unseen_share: float | None = None
    invalid_share: float | None = None
    nan_count: int | None = None
    inf_count: int | None = None


class QualityPointOut(BaseModel):
    """Data quality of one data version: a point of the series a client plots."""

    version: int
    committed_at: datetime
    source: str
    rows: int
    schema_version: int
    schema_changed: bool = Field(description="the schema differs from the version before")
    columns: dict[str, ColumnQualityOut]
