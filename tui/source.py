"""The UI's one door to the daemon: every read and every action the screens make, over
`mlopsd.client`. Blocking calls: screens call them only from thread workers.

Kept small and flat on purpose: what the screens need from the client, and no more. Long
lists come a page at a time, each page its own request after the last one's cursor.
"""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import datetime
from typing import Any

import orjson

from mlopsd.client import Client, MlopsError
from mlopsd.client.pages import PagedList
from mlopsd.client.wire import (
    AlertOut,
    AliasMoveOut,
    DatasetOut,
    DataVersionOut,
    DeployAbortOut,
    DeploymentOut,
    DeployOut,
    DeployStatusOut,
    DriftReportOut,
    IngestOut,
    JobLog,
    JobOut,
    MetricPointOut,
    ModelOut,
    ModelVersionOut,
    PerformanceOut,
    PipelineOut,
    QualityPointOut,
    Requeued,
    RetrainOut,
    RunOut,
    ScheduleOut,
    ServingOut,
    ServingStatsOut,
    Status,
)
from mlopsd.home import Home

ACTOR_PREFIX = "tui"
PAGE = 200
"""Rows asked for at a time: enough to fill a large terminal, never the whole store."""
MAX_LIMIT = 10_000
"""The most a screen holds of one list (`]` walks on a page at a time up to it)."""


def default_actor() -> str:
    try:
        import getpass

        return f"{ACTOR_PREFIX}:{getpass.getuser()}"
    except (KeyError, OSError):
        return ACTOR_PREFIX


class DaemonSource:
    """The daemon of one home. The client is made on first use and dropped when a call
    fails to reach the daemon, so the next call finds a restarted daemon's new port."""

    def __init__(self, home: Home, *, actor: str | None = None, timeout: float = 10.0) -> None:
        self.home = home
        self.actor = actor or default_actor()
        self.timeout = timeout
        self._client: Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = Client.from_home(self.home, actor=self.actor,
                                                timeout=self.timeout)
            return self._client

    def forget(self) -> None:
        """Drop the client (the daemon went away, or restarted on another port)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _walk(self, method: str, pages: int, page_size: int, **kwargs: Any) -> PagedList[Any]:
        """The first `pages` pages of a listing, each one request after the last one's
        cursor (never one large request); `.next` says whether there is more."""
        items: list[Any] = []
        after: str | None = None
        for number in range(max(1, pages)):
            cursor = {"after": after} if number else {}
            page = self._call(method, **kwargs, **cursor, limit=page_size)
            items.extend(page)
            after = getattr(page, "next", None)
            if after is None:
                break
        return PagedList(items, after)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client(), method)(*args, **kwargs)
        except MlopsError as exc:
            if not hasattr(exc, "status"):  # not an answer from the daemon: it is away
                self.forget()
            raise

    # --- system --------------------------------------------------------------------------

    def status(self) -> Status:
        return self._call("status")

    def audit(self, *, action: str | None = None, subject: str | None = None,
              limit: int = 50) -> list[Any]:
        return self._call("audit", action=action, subject=subject, limit=limit)

    # --- models --------------------------------------------------------------------------

    def models(self) -> list[ModelOut]:
        return self._call("list_models")

    def model_versions(self, name: str) -> list[ModelVersionOut]:
        return self._call("model_versions", name)

    def deploy_status(self, name: str) -> DeployStatusOut:
        return self._call("deploy_status", name)

    def serving(self) -> ServingOut:
        return self._call("serving")

    def alias_history(self, name: str) -> list[AliasMoveOut]:
        return self._call("alias_history", name)

    def deployments(self, name: str, limit: int = PAGE) -> list[DeploymentOut]:
        return self._call("deployments", name, limit=limit)

    def promote(self, name: str, version: str, alias: str, reason: str) -> AliasMoveOut:
        return self._call("promote", name, version, to=alias, reason=reason)

    def rollback(self, name: str, reason: str, alias: str = "production") -> AliasMoveOut:
        return self._call("rollback", name, alias=alias, reason=reason)

    def archive(self, name: str, version: str, reason: str) -> ModelVersionOut:
        return self._call("archive", name, version, reason=reason)

    def deploy(self, name: str, version: str, strategy: str, percent: float,
               reason: str) -> DeployOut:
        return self._call("deploy", name, version, strategy=strategy, percent=percent,
                          reason=reason)

    def deploy_promote(self, name: str, reason: str) -> AliasMoveOut:
        return self._call("deploy_promote", name, reason=reason)

    def deploy_abort(self, name: str, reason: str) -> DeployAbortOut:
        return self._call("deploy_abort", name, reason=reason)

    # --- retraining ----------------------------------------------------------------------

    def pipelines(self, *, model: str | None = None, state: str | None = None,
                  limit: int = PAGE) -> list[PipelineOut]:
        return self._call("pipelines", model=model, state=state, limit=limit)

    def decide(self, pipeline_id: int, approve: bool, note: str) -> PipelineOut:
        return self._call("decide", pipeline_id, approve, note=note)

    def retrain(self, model: str, reason: str, dry_run: bool = False) -> RetrainOut:
        return self._call("retrain", model, dry_run=dry_run, reason=reason)

    def schedules(self) -> list[ScheduleOut]:
        return self._call("schedules")

    # --- alerts --------------------------------------------------------------------------

    def alerts(self, *, state: str | None = None, pages: int = 1,
               page_size: int = PAGE) -> PagedList[AlertOut]:
        return self._walk("alerts", pages, page_size, state=state)

    def set_alert_state(self, alert_id: int, state: str, note: str) -> AlertOut:
        return self._call("set_alert_state", alert_id, state, note=note)

    # --- jobs ----------------------------------------------------------------------------

    def jobs(self, *, state: str | None = None, pages: int = 1,
             page_size: int = PAGE) -> PagedList[JobOut]:
        return self._walk("list_jobs", pages, page_size, state=state)

    def job_log(self, job_id: int, offset: int) -> JobLog:
        return self._call("job_log", job_id, offset)

    def cancel_job(self, job_id: int, reason: str) -> JobOut:
        return self._call("cancel_job", job_id, reason)

    # --- data ----------------------------------------------------------------------------

    def datasets(self) -> list[DatasetOut]:
        return self._call("list_datasets")

    def data_versions(self, dataset: str) -> list[DataVersionOut]:
        return self._call("list_versions", dataset)

    def data_version(self, dataset: str, version: int) -> DataVersionOut:
        return self._call("get_version", dataset, version)

    def ingests(self, dataset: str | None = None, limit: int = PAGE) -> list[IngestOut]:
        return self._call("list_ingests", dataset=dataset, limit=limit)

    def quarantine(self, dataset: str | None = None) -> list[IngestOut]:
        return self._call("quarantine", dataset)

    def requeue(self, file: str) -> Requeued:
        return self._call("requeue", file)

    def quality(self, dataset: str) -> list[QualityPointOut]:
        return self._call("quality", dataset)

    # --- runs ----------------------------------------------------------------------------

    def runs(self, *, filter: str | None = None, order_by: str | None = None,
             pages: int = 1, page_size: int = PAGE) -> PagedList[RunOut]:
        return self._walk("list_runs", pages, page_size, filter=filter or None,
                          order_by=order_by or None)

    def run(self, run_id: str) -> RunOut:
        return self._call("get_run", run_id)

    def metric_history(self, run_id: str, key: str) -> list[MetricPointOut]:
        return self._call("metric_history", run_id, key)

    # --- drift ---------------------------------------------------------------------------

    def drift_reports(self, *, model: str | None = None, limit: int = 50
                      ) -> list[DriftReportOut]:
        return self._call("drift_reports", model=model, limit=limit)

    def drift_report_full(self, report: DriftReportOut) -> dict[str, Any] | None:
        """The report's artifact (with each column's binned distributions), or None when
        it has none."""
        if not report.report_sha:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "report.json")
            self._call("download_artifact", report.report_sha, path)
            with open(path, "rb") as f:
                return orjson.loads(f.read())

    def serving_stats(self, name: str, *, since: datetime, bucket_s: float
                      ) -> ServingStatsOut:
        return self._call("serving_stats", name, since=since, bucket_s=bucket_s)

    def performance(self, name: str) -> PerformanceOut:
        return self._call("performance", name)
