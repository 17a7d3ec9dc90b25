"""mlops.toml: the daemon's configuration, one dataclass per section, with its defaults.

`mlopsd/config_load.py` reads the file into these and checks it strictly at start-up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsd.client.wire import NAME

LOG_LEVELS = ("debug", "info", "warning", "error")
DTYPES = ("int64", "float64", "bool", "string", "date", "datetime")
DATASET_NAME = re.compile(NAME)


class ConfigError(Exception):
    def __init__(self, path: Path, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class DaemonConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 0
    log_level: str = "info"
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    shutdown_grace_s: float = 10.0
    events_keep: int = 100_000
    """Events the outbox keeps for clients that resume (`Last-Event-ID`): the newest…"""
    events_keep_days: float = 7.0
    """…and none older than this."""
    tls_terminator: str = ""
    """What terminates TLS in front of a daemon bound beyond loopback (e.g. "caddy on
    https://models.example.org"): said, the start does not warn of clear-text tokens."""

    def worker_count(self) -> int:
        """Worker processes for jobs: leave one core for serving, but always at least one."""
        if self.workers:
            return self.workers
        return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class IngestConfig:
    auto_create: bool = True
    settle_s: float = 0.5
    rescan_interval_s: float = 30.0
    polling: bool = False
    max_attempts: int = 2
    max_decompressed_mb: float = 16384.0
    """A .gz/.zst drop that inflates past this is refused while it streams."""
    max_compression_ratio: float = 200.0
    """...and so is one inflating more than this many times its size (once past 256 MiB)."""
    max_upload_mb: float = 4096.0
    """A file uploaded over HTTP (a drop, `POST /datasets/NAME/files`, or a file `mlops check
    data` sends); more is a 413, and nothing of it is kept."""


@dataclass(frozen=True)
class TrackingConfig:
    run_timeout_s: float = 120.0
    """A run started from the SDK that reports nothing for this long is marked failed."""
    max_artifact_mb: float = 1024.0
    """A file MLflow's client uploads through the artifacts proxy; more is a 413."""


@dataclass(frozen=True)
class ServingConfig:
    fallback_to_previous: bool = True
    """A production version that cannot be loaded at start (a corrupt artifact): the
    version before it answers in its place, marked as a fallback; false: a 503."""
    max_rows: int = 100_000
    """Rows in one prediction request; more is a 413 (batch files go to score/)."""
    max_body_mb: float = 64.0
    batch_wait_ms: float = 0.2
    """A micro-batch waits at most this long for requests for the same version that are
    on their way; a lone request never waits."""
    batch_max_rows: int = 128
    """Rows in one micro-batch at most (1: no batching); bigger requests predict alone."""
    log_sample: float = 1.0
    """Share of prediction requests whose rows go to the prediction log."""
    log_queue: int = 10_000
    """Requests waiting to be logged; when full, entries are dropped and counted and the
    sampling rate halves until the writer catches up."""
    log_keep_days: float = 90.0
    """Logged predictions (and the feedback on them) older than this are deleted, hourly."""
    canary_min_requests: int = 200
    """A canary is judged once its candidate has answered this many requests."""
    canary_error_margin: float = 0.01
    """…and rolled back when its error rate exceeds the champion's by more than this,"""
    canary_latency_margin: float = 0.5
    """…or its p95 latency exceeds the champion's by more than this share"""
    canary_latency_floor_ms: float = 5.0
    """…and by more than this many milliseconds."""
    unseen_categories: dict[str, str] = field(default_factory=dict)
    """Per model: "missing" (the default: an unseen category is treated as missing, as
    LightGBM does) or "reject" (a 422 naming the row and value)."""
    fallback: dict[str, Any] = field(default_factory=dict)
    """Per model: the answer when its live version fails and no previous version can
    (e.g. riders = 0.0, churn = "no")."""


@dataclass(frozen=True)
class MonitoringConfig:
    latency_p95_ms: float = 200.0
    """Alert when a live version's p95 latency over the window is above this…"""
    error_rate: float = 0.01
    """…or its share of failed requests is above this,"""
    min_requests: int = 20
    """…once the window holds at least this many requests."""
    window_s: float = 60.0
    resolve_after_s: float = 60.0
    """An alert resolves itself once its condition has been clear this long."""
    check_interval_s: float = 5.0
    performance_drop: float = 0.05
    """Alert when a version's headline metric is this much worse than at registration
    (rmse up, auc or accuracy down: relative), on a labelled batch or on feedback…"""
    min_labels: int = 50
    """…with at least this many labelled rows."""
    performance_window_s: float = 3600.0
    """Feedback labels are judged over the predictions of this last stretch of time,"""
    performance_check_s: float = 30.0
    """…this often."""


@dataclass(frozen=True)
class HookConfig:
    """Where alerts are sent: `file` appends a JSON line, `command` runs with the alert as
    JSON on stdin, `webhook` POSTs it."""

    kind: str
    target: str
    rules: list[str] = field(default_factory=lambda: ["*"])
    timeout_s: float = 10.0
    retries: int = 4


HOOK_KINDS = ("file", "command", "webhook")


@dataclass(frozen=True)
class DatasetRules:
    max_null_share: float | None = None
    max_out_of_range_share: float = 0.01
    max_unseen_share: float = 0.01
    max_duplicate_share: float = 0.01
    range_margin: float = 0.1


@dataclass(frozen=True)
class ColumnRule:
    dtype: str | None = None
    min: float | None = None
    max: float | None = None
    max_null_share: float | None = None
    allowed: list[Any] | None = None
    level: str | None = None


@dataclass(frozen=True)
class DatasetConfig:
    name: str
    schema: dict[str, str] | None = None
    target: str | None = None
    time_column: str | None = None
    id_column: str | None = None
    time_parts: list[str] | None = None
    """Calendar columns (year, month, hour…): learned ranges and categories are not checked
    on them. Unset: columns named like one (see jobs/ingest/time_parts.py); [] for none."""
    delimiter: str = ","
    on_schema_change: str = "quarantine"
    rules: DatasetRules = field(default_factory=DatasetRules)
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    target_optional: bool = False
    """Drops may come without the target (production inputs, labelled later by label
    files joined on `id_column`): for a dataset a model watches ([model.monitoring] inputs),
    never for one a model trains on."""


TASKS = ("regression", "binary", "multiclass")


@dataclass(frozen=True)
class SplitConfig:
    holdout: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class ColumnTest:
    test: str | None = None
    """ks, wasserstein, psi (numbers); chisquare, jensenshannon, psi (categories)."""
    threshold: float | None = None


@dataclass(frozen=True)
class ModelMonitoring:
    """Per model, in [model.monitoring]: drift tests and alert limits (else the defaults
    and [monitoring])."""

    numeric_test: str = "auto"
    categorical_test: str = "auto"
    drift_share: float = 0.5
    """Dataset drift when at least this share of the columns drifted."""
    correction: str | None = None
    """none, bonferroni or bh, for the p-value tests."""
    columns: dict[str, ColumnTest] = field(default_factory=dict)
    significance: float = 0.01
    """Wasserstein, Jensen-Shannon and PSI call drift only when the difference is also
    significant (KS / chi-square p below this): small samples' noise is not drift. 1: off."""
    min_rows: int = 100
    """Fewer rows on either side: "not enough data", no verdict, no alert."""
    exclude: list[str] = field(default_factory=list)
    """Inputs left out of drift (e.g. calendar columns, which drift by construction)."""
    inputs: str | None = None
    """A dataset of production inputs this model watches: each new version of it is checked
    against the production version, like new versions of its training data."""
    latency_p95_ms: float | None = None
    error_rate: float | None = None
    performance_drop: float | None = None


@dataclass(frozen=True)
class GatesConfig:
    """[model.retrain.gates]: when a challenger may replace the champion."""

    metric: str | None = None
    """Decided on (default: rmse, auc or log_loss by task)."""
    minimum: float | None = None
    """The challenger's metric must reach this (metrics where higher is better)…"""
    maximum: float | None = None
    """…or stay under this (rmse, mae, log_loss)."""
    min_improvement: float = 0.0
    """The lower bound of the CI of (challenger - champion, positive = better) must be above
    this; a negative value lets a challenger no worse than this through."""
    bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 42


@dataclass(frozen=True)
class RetrainConfig:
    """[model.retrain]: the retraining policy (see mlopsd/retraining/policy.py for the forms)."""

    schedule: list[str] = field(default_factory=list)
    dry_run_schedule: list[str] = field(default_factory=list)
    """Schedules of dry runs: the pipeline up to the gate, never deploying."""
    retrain_on: list[str] = field(default_factory=list)
    cooldown: str = "1h"
    """At most one retrain started by an alert or new rows per this span."""
    max_concurrent: int = 1
    training_window: str = ""
    """Empty: the model's own `data` selector; or all, last K versions, last D days."""
    approval: str = "auto"
    separate_approver: bool = False
    """With approval = "required": four eyes, the token that started the pipeline or trained
    the version may not approve it or move it to production (mlopsd/services/four_eyes.py)."""
    deploy: str = "direct"
    watch: str = "30m"
    grace: str = "1h"
    """A schedule missed while the daemon was down runs once at start-up if this recent."""
    gates: GatesConfig = field(default_factory=GatesConfig)


@dataclass(frozen=True)
class ModelCard:
    """[model.card]: what a model card says that the registry cannot know (mlops models
    card). Texts are a string or a list of strings (one paragraph or bullet each)."""

    intended_use: str | list[str] = ""
    assumptions: str | list[str] = ""
    limitations: str | list[str] = ""
    slices: list[str] = field(default_factory=list)
    """Up to 3 columns of the data: the training job measures the holdout's metrics per
    value of each (mlopsd/config_card.py checks them)."""

    def paragraphs(self, key: str) -> list[str]:
        value = getattr(self, key)
        return [value] if isinstance(value, str) and value else list(value or [])


@dataclass(frozen=True)
class ModelConfig:
    name: str
    data: str
    """A data selector: bikeshare@all, bikeshare@last:3, bikeshare@all[2011-03-01..]…"""
    target: str
    task: str = "regression"
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    rounds: int = 500
    early_stopping: int | None = 50
    split: SplitConfig = field(default_factory=SplitConfig)
    threshold: float = 0.5
    min_rows: int = 50
    seed: int = 42
    num_threads: int = 2
    experiment: str | None = None
    description: str = ""
    monitoring: ModelMonitoring = field(default_factory=ModelMonitoring)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    card: ModelCard = field(default_factory=ModelCard)


@dataclass(frozen=True)
class Config:
    path: Path
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    dataset: tuple[DatasetConfig, ...] = ()
    model: tuple[ModelConfig, ...] = ()
    hook: tuple[HookConfig, ...] = ()

    def datasets(self) -> dict[str, DatasetConfig]:
        return {d.name: d for d in self.dataset}

    def models(self) -> dict[str, ModelConfig]:
        return {m.name: m for m in self.model}


