"""The JSON shapes of the HTTP API, shared by the daemon and the client.

Import-light (pydantic only): the client, the CLI and the TUI use these without loading
the store or the jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

MAX_TEXT = 10_000
"""Any string a client sends (a reason, a note, a name) has at most this many characters,
unless its field says otherwise."""
INT64 = 2**63 - 1
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""Models, datasets and aliases: what a folder, a URL and a log line can all carry."""
MAX_WINDOW_S = 366 * 86400.0


class Inbound(BaseModel):
    """A request body: every string and number has bounds (finite, within what a column
    holds), so a value past them is a 422 naming the field, never a server error."""

    model_config = ConfigDict(str_max_length=MAX_TEXT, allow_inf_nan=False)

UNKNOWN_MODEL = "unknown_model"
"""The error code of a 404 for a model name that is neither registered nor declared."""

IGNORED_COLUMNS_HEADER = "x-ignored-columns"
"""On a prediction reply: the input columns the model does not use, comma-separated."""
UNSEEN_CATEGORIES_HEADER = "x-unseen-categories"
"""On a prediction reply: per categorical input, the rows whose value the model never saw
in training (treated as missing), as `column=rows` pairs, comma-separated."""


def format_unseen_categories(counts: dict[str, int]) -> str:
    return ",".join(f"{column}={rows}" for column, rows in counts.items())


def parse_unseen_categories(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in text.split(","):
        column, sep, rows = pair.rpartition("=")
        if sep and column and rows.isdigit():
            counts[column] = int(rows)
    return counts


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str = "ok"
    version: str


class WorkerPool(BaseModel):
    size: int
    running: list[int]
    queued: int


class SchedulerStatus(BaseModel):
    running: bool
    entries: list[dict[str, Any]]


class Status(BaseModel):
    version: str
    pid: int
    home: str
    host: str
    port: int
    started_at: datetime
    uptime_s: float
    schema_version: int
    scheduler: SchedulerStatus
    workers: WorkerPool
    jobs: dict[str, int] = Field(description="job counts by state")
    watched_dirs: list[str]
    auth: str = Field(description="'mutating' on loopback, 'all' when bound beyond it")
    unservable: dict[str, str] = Field(
        default_factory=dict, description="Models whose production version cannot serve: "
        "why, and what answers instead")


class JobSubmit(BaseModel):
    # Not Inbound: each kind checks its own params (names, selectors, numbers) by name.
    kind: str = Field(max_length=64, description="a job kind from GET /api/v1/job-kinds")
    params: dict[str, Any] = Field(default_factory=dict)


class JobCancel(Inbound):
    reason: str | None = None


class JobOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    state: str
    idempotent: bool
    attempt: int
    retry_of: int | None
    actor: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    worker_pid: int | None
    error: str | None
    result: Any
    cpu_s: float | None = None
    max_rss_mb: float | None = None


class JobKindOut(BaseModel):
    name: str
    idempotent: bool
    description: str
    queued_by: Literal["people", "daemon"] = Field(
        description="people: POST /api/v1/jobs accepts it with the params below; daemon: its "
        "params name files in the home, so only the daemon's services queue it")
    params: dict[str, str] = Field(default_factory=dict,
                                   description="for people's kinds: each param and what it is")


class JobLog(BaseModel):
    job_id: int
    offset: int
    next_offset: int
    text: str
    complete: bool = Field(description="the job has ended, so no more text will come")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: Any


class EventOut(BaseModel):
    id: int
    at: str
    type: str
    data: dict[str, Any]
    audit_id: int | None = None
    """The audit entry written with the change (see mlopsd.client.events)."""


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

    model_config = {"populate_by_name": True}


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
    profile: dict[str, Any] | None = None


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
    issues: Any
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


class TrainRequest(Inbound):
    reason: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class AliasRequest(Inbound):
    version: str
    reason: str | None = None


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


class NoteRequest(Inbound):
    note: str | None = None


class ReasonRequest(Inbound):
    reason: str | None = None


class RollbackRequest(Inbound):
    alias: str = Field(default="production", pattern=NAME)
    reason: str | None = None


class ModelOut(BaseModel):
    name: str
    created_at: datetime
    task: str
    description: str | None
    aliases: dict[str, str]
    latest: str | None


class ModelVersionOut(BaseModel):
    model: str
    version: str
    created_at: datetime
    artifact_sha: str
    signature: Any
    metrics: Any
    run_id: str | None
    archived: bool
    signature_hash: str | None
    data_key: str | None
    config_hash: str | None
    bump_reason: str | None


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


class ServingOut(BaseModel):
    models: dict[str, dict[str, str | None]] = Field(
        description="Per served model: the live version and the previous one (kept loaded "
                    "for an instant rollback)")
    failed: dict[str, str] = Field(description="Models whose production version cannot serve")
    stats: dict[str, dict[str, Any]] = Field(
        description="Per model:version: requests, errors, rows, p50/p95/p99 latency (ms)")
    prediction_log: dict[str, Any]


class AliasMoveOut(BaseModel):
    id: int
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    actor: str
    reason: str | None
    at: datetime
    kind: str


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
    steps: list[dict[str, Any]]
    merged: list[dict[str, Any]]
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
