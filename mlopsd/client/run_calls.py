"""The client's calls about experiment tracking: experiments, runs (search, show, metric
history) and the calls the tracking SDK makes (create, log, end, log a model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlopsd.client.pages import PagedList
from mlopsd.client.tracking import ActiveRun
from mlopsd.client.transport import Transport
from mlopsd.client.wire import (
    ExperimentOut,
    JobOut,
    Logged,
    MetricColumnsIn,
    MetricPointOut,
    RunOut,
)


def _batch(params: dict[str, Any] | None, tags: dict[str, Any] | None,
           metrics: MetricColumnsIn | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if params:
        body["params"] = params
    if tags:
        body["tags"] = tags
    if metrics is not None and metrics.key:
        # Straight from the lists (the SDK builds them unvalidated, for speed); orjson
        # writes NaN and ±inf as null, which the daemon stores as NaN.
        body["metrics"] = {"key": metrics.key, "value": metrics.value, "step": metrics.step,
                           "at": metrics.at}
    return body


class RunCalls(Transport):
    def list_experiments(self, *, after: str | None = None, limit: int = 100
                         ) -> PagedList[ExperimentOut]:
        """Experiments by name, with how many runs each has."""
        return self._page(ExperimentOut, "/api/v1/experiments", {"after": after,
                                                                  "limit": limit})

    def get_experiment(self, name: str) -> ExperimentOut:
        return self._one(ExperimentOut, "GET", f"/api/v1/experiments/{name}")

    def list_runs(self, *, experiment: str | None = None, model: str | None = None,
                  filter: str | None = None, order_by: str | None = None,
                  after: str | None = None, limit: int = 100) -> PagedList[RunOut]:
        """Runs, e.g. filter="metrics.auc > 0.8 and params.num_leaves = 31",
        order_by="metrics.auc desc" (default: newest first). A cursor belongs to its
        order: page on with the same order_by."""
        return self._page(RunOut, "/api/v1/runs", {
            "experiment": experiment, "model": model, "filter": filter,
            "order_by": order_by, "after": after, "limit": limit})

    def get_run(self, run_id: str) -> RunOut:
        return self._one(RunOut, "GET", f"/api/v1/runs/{run_id}")

    def metric_history(self, run_id: str, key: str) -> list[MetricPointOut]:
        return self._many(MetricPointOut, f"/api/v1/runs/{run_id}/metrics/{key}")

    def start_run(self, *, experiment: str, tags: dict[str, str] | None = None,
                  note: str | None = None, model: str | None = None,
                  flush_interval_s: float = 1.0) -> ActiveRun:
        """A run to log into; use it as a context manager (see mlopsd.client.tracking)."""
        return ActiveRun(self, experiment=experiment, tags=tags, note=note, model=model,
                         flush_interval_s=flush_interval_s)

    # --- what the tracking SDK sends -------------------------------------------------------

    def create_run(self, experiment: str, *, run_id: str | None = None,
                   note: str | None = None, model: str | None = None,
                   started_at: datetime | None = None, params: dict[str, Any] | None = None,
                   tags: dict[str, Any] | None = None, metrics: MetricColumnsIn | None = None,
                   state: str = "running", error: str | None = None) -> RunOut:
        """A run with its first batch; with a final `state` (finished, failed, killed) a
        whole run in one request. `run_id`: 32 hex digits chosen by the caller."""
        body = {"experiment": experiment, "id": run_id, "note": note, "model": model,
                "started_at": started_at.isoformat() if started_at else None,
                "state": state, "error": error, **_batch(params, tags, metrics)}
        return self._one(RunOut, "POST", "/api/v1/runs", json=body)

    def log_batch(self, run_id: str, *, params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None, metrics: MetricColumnsIn | None = None
                  ) -> Logged:
        """Params (set once), tags and metric points of a running run; an empty batch is
        a heartbeat that keeps the run alive."""
        return self._one(Logged, "POST", f"/api/v1/runs/{run_id}/log",
                         json=_batch(params, tags, metrics))

    def end_run(self, run_id: str, state: str = "finished", *, error: str | None = None,
                params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None,
                metrics: MetricColumnsIn | None = None) -> RunOut:
        """End a running run with its last batch."""
        return self._one(RunOut, "POST", f"/api/v1/runs/{run_id}/end", json={
            "state": state, "error": error, **_batch(params, tags, metrics)})

    def log_model_text(self, run_id: str, *, model: str, model_text: str,
                       signature: dict[str, Any], task: str | None = None,
                       metrics: dict[str, Any] | None = None, data: list[str] | None = None,
                       description: str | None = None) -> JobOut:
        """Queue the check and registration of a LightGBM model text made by the run (job
        `check_model`; its result names the version). `run.log_model` wraps this."""
        return self._one(JobOut, "POST", f"/api/v1/runs/{run_id}/models", json={
            "model": model, "model_text": model_text, "signature": signature, "task": task,
            "metrics": metrics, "data": data, "description": description})
