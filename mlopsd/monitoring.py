"""Monitoring, the daemon's half: every new data version of a dataset that a production
model trains on is compared with that model's reference (the data versions its production
version was trained on), as job `drift`; the report goes to the store, and dataset or
prediction drift raises an alert.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from mlopsd.config import Config, ModelMonitoring
from mlopsd.degradation import degradation
from mlopsd.events import EventBus
from mlopsd.runner import JobRunner
from mlopsd.selectors import resolve
from mlopsd.service_errors import ServiceError
from mlopsd.serving.served import ServedModels
from store import alerts, audit
from store import drift as drift_repo
from store import models as model_repo
from store import predictions as prediction_repo
from store import runs as run_repo
from store.artifacts import ArtifactStore
from store.db import Store
from store.errors import Conflict
from store.jobs import Job

log = logging.getLogger("mlops.monitoring")


class MonitorError(ServiceError):
    pass


class MonitoringService:
    def __init__(self, config: Config, store: Store, runner: JobRunner, served: ServedModels,
                 bus: EventBus, artifacts: ArtifactStore) -> None:
        self.config, self.store, self.runner, self.served, self.bus = (
            config, store, runner, served, bus)
        self.artifacts = artifacts
        runner.completions["drift"] = self._complete
        runner.finished_hooks.append(self._finished)

    def _finished(self, job: Job) -> None:
        """A failed job is an alert (ingest and train raise their own); a new data version
        is checked against every production model that trains on its dataset."""
        if job.state == "failed" and job.kind not in ("ingest", "train", "reproduce"):
            alerts.raise_alert(
                self.store, rule="job_failed", subject=f"job:{job.kind}", severity="warning",
                message=f"job {job.id} ({job.kind}) failed: {job.error}",
                detail={"job_id": job.id, "params": {k: v for k, v in job.params.items()
                                                     if k in ("model", "dataset", "source")}})
            return
        if job.kind != "ingest" or job.state != "succeeded" or not job.result:
            return
        dataset, version = job.result.get("dataset"), job.result.get("version")
        if not dataset or not version or job.result.get("duplicate_of"):
            return
        for name, declared in self.config.models().items():
            if declared.data.split("@", 1)[0] != dataset or self.served.slot(name) is None:
                continue
            try:
                self.check(name, f"{dataset}@{version}", actor="mlopsd")
            except MonitorError as exc:
                log.warning("no drift check of %s on %s@%s: %s", name, dataset, version,
                            exc.message)

    def check_window(self, name: str, seconds: float, *, actor: str) -> Job:
        """Queue a drift check of what the production version was asked in the last
        `seconds` (the prediction log's inputs) against its training data."""
        until = datetime.now(UTC)
        since = until - timedelta(seconds=seconds)
        version, _ = self._version_and_reference(name)
        tmp = self.artifacts.tmp_path(".parquet")
        try:
            rows = prediction_repo.export_inputs(
                self.store, name, since=since, until=until,
                inputs=(version.signature or {}).get("inputs", []), path=str(tmp))
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        if rows == 0:
            tmp.unlink(missing_ok=True)
            raise MonitorError(409, f"{name} logged no prediction in the last {seconds:g} s")
        sha = self.artifacts.adopt(tmp)
        label = f"log:{name}[{since:%Y-%m-%dT%H:%M:%S}..{until:%Y-%m-%dT%H:%M:%S}]"
        return self.check(name, actor=actor, current_override=(
            [{"dataset": "prediction-log", "version": 0, "snapshot_sha": sha}], label))

    def _version_and_reference(self, name: str) -> tuple[Any, list[dict[str, Any]]]:
        slot = self.served.slot(name)
        if slot is None:
            raise MonitorError(409, f"{name} has no production version to check")
        version = model_repo.get_version(self.store, name, slot.live.version)
        if version.run_id is None:
            raise MonitorError(409, f"{name}:{version.version} has no run, hence no record "
                               "of its training data to compare with")
        reference = (run_repo.get_run(self.store, version.run_id).lineage or {}).get("data")
        if not reference:
            raise MonitorError(409, f"{name}:{version.version} was not trained on data "
                               "versions this daemon knows (logged from the SDK?)")
        return version, reference

    def check(self, name: str, against: str | None = None, *, actor: str,
              current_override: tuple[list[dict[str, Any]], str] | None = None) -> Job:
        """Queue a drift check of the production version of `name` against a selector
        (default: the latest version of its dataset)."""
        version, reference = self._version_and_reference(name)
        if current_override is not None:
            current, current_label = current_override
        else:
            dataset = reference[0]["dataset"]
            try:
                resolved = resolve(self.store, against or f"{dataset}@latest")
            except Exception as exc:
                raise MonitorError(422, str(exc), "against") from None
            current = [{"dataset": v.dataset, "version": v.version,
                        "snapshot_sha": v.snapshot_sha} for v in resolved.versions]
            current_label = resolved.canonical
        profile = drift_repo.stored_profile(self.store, model=name,
                                            model_version=version.version,
                                            reference=_label(reference))
        declared = self.config.models().get(name)
        settings = declared.monitoring if declared else ModelMonitoring()
        job = self.runner.submit("drift", {
            "model": name, "version": version.version, "signature": version.signature,
            "model_sha": version.artifact_sha, "reference": reference, "current": current,
            "reference_label": _label(reference), "current_label": current_label,
            "numeric_test": settings.numeric_test,
            "categorical_test": settings.categorical_test, "share": settings.drift_share,
            "correction": settings.correction,
            "tests": {c: t.test for c, t in settings.columns.items() if t.test},
            "thresholds": {c: t.threshold for c, t in settings.columns.items()
                           if t.threshold is not None},
            **({"profile_sha": profile} if profile else {})}, actor=actor)
        self.bus.publish("drift.queued", model=name, version=version.version, job_id=job.id,
                         current=current_label)
        return job

    def _judge_performance(self, p: dict[str, Any], result: dict[str, Any]
                           ) -> dict[str, Any] | None:
        """A labelled batch: its metrics against the version's holdout metrics."""
        found = result.get("performance")
        if not found or not found.get("metrics"):
            return found
        version = model_repo.get_version(self.store, p["model"], p["version"])
        task = (version.signature or {}).get("task") or "regression"
        worse = degradation(task, version.metrics, found["metrics"])
        cfg = self.config.monitoring
        declared = self.config.models().get(p["model"])
        limit = (declared.monitoring.performance_drop if declared else None) or (
            cfg.performance_drop)
        degraded = bool(worse and found["rows"] >= cfg.min_labels and worse.drop > limit)
        return {**found, "degraded": degraded,
                "change": worse.describe() if worse else None,
                "metric": worse.metric if worse else None,
                "drop": worse.drop if worse else None,
                "kind": kind_of_drop(result["dataset_drift"]) if degraded else None}

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        p = job.params
        prediction = result.get("prediction")
        performance = self._judge_performance(p, result)
        report = drift_repo.insert_report(
            self.store, model=p.get("model"), model_version=p.get("version"),
            dataset=p["current"][0]["dataset"], reference=p.get("reference_label", ""),
            current=p.get("current_label", ""), dataset_drift=result["dataset_drift"],
            drift_share=result["drift_share"], columns=result["columns"],
            prediction_drift=prediction["drifted"] if prediction else None,
            prediction=prediction, report_sha=result["report_sha"], job_id=job.id,
            profile_sha=result.get("profile_sha"), performance=performance)
        subject = f"model:{p.get('model')}"
        drifted = [c["column"] for c in result["columns"] if c["drifted"]]
        if report.dataset_drift:
            alerts.raise_alert(
                self.store, rule="dataset_drift", subject=subject, severity="warning",
                message=f"{report.current} drifted from {p.get('model')}:{p.get('version')}'s "
                        f"training data: {len(drifted)} of {len(result['columns'])} columns "
                        f"({', '.join(drifted[:6])}{', …' if len(drifted) > 6 else ''})",
                detail={"report_id": report.id, "drift_share": report.drift_share})
        for rule, drifted_now in (("dataset_drift", report.dataset_drift),
                                  ("prediction_drift", report.prediction_drift)):
            if drifted_now is False:  # a clean report clears what an earlier one raised
                cleared = alerts.resolve_open(
                    self.store, rule, subject,
                    f"resolved by itself: report {report.id} ({report.current}) shows none")
                if cleared is not None:
                    audit.append(self.store, actor="mlopsd", action="alert.resolved",
                                 subject=f"alert:{cleared.id}", reason=cleared.note,
                                 details={"rule": rule, "subject": subject})
        if performance and not performance.get("degraded") and (
                performance.get("rows") or 0) >= self.config.monitoring.min_labels:
            self._clear_batch_performance_drop(subject, report)
        if report.prediction_drift:
            alerts.raise_alert(
                self.store, rule="prediction_drift", subject=subject, severity="warning",
                message=f"{p.get('model')}:{p.get('version')}'s predictions on "
                        f"{report.current} drifted ({prediction['test']} "
                        f"{prediction['statistic']:.4g})",
                detail={"report_id": report.id})
        if performance and performance.get("degraded"):
            alerts.raise_alert(
                self.store, rule="performance_drop", subject=subject, severity="critical",
                message=f"{p.get('model')}:{p.get('version')} on {report.current}: "
                        f"{performance['change']} — {performance['kind']}",
                detail={"report_id": report.id, **performance})
        audit.append(self.store, actor=job.actor, action="drift.report", subject=subject,
                     details={"report_id": report.id, "dataset_drift": report.dataset_drift,
                              "prediction_drift": report.prediction_drift})
        self.bus.publish("drift.report", model=p.get("model"), report_id=report.id,
                         dataset_drift=report.dataset_drift,
                         prediction_drift=report.prediction_drift, drifted=drifted)
        return {**result, "report_id": report.id}


    def _clear_batch_performance_drop(self, subject: str, report: Any) -> None:
        """A labelled batch that scores as well as the baseline clears a performance drop
        found on an earlier batch; one found on feedback labels is the service watch's to
        clear (its own window decides)."""
        for alert in alerts.list_alerts(self.store, state="active", rule="performance_drop"):
            if alert.subject != subject or "report_id" not in (alert.detail or {}):
                continue
            note = (f"resolved by itself: report {report.id} ({report.current}) scores within "
                    "the limit")
            try:
                cleared = alerts.set_state(self.store, alert.id, "resolved", note=note)
            except Conflict:  # resolved meanwhile
                continue
            audit.append(self.store, actor="mlopsd", action="alert.resolved",
                         subject=f"alert:{cleared.id}", reason=note,
                         details={"rule": "performance_drop", "subject": subject})


def kind_of_drop(inputs_drifted: bool) -> str:
    """Concept drift is performance falling while the inputs look as before: the relation
    between inputs and target changed. With drifted inputs, the inputs explain it."""
    return ("data drift: the inputs moved away from the training data" if inputs_drifted
            else "concept drift: the inputs look as in training, the target relation changed")


def _label(reference: list[dict[str, Any]]) -> str:
    if not reference:
        return ""
    return f"{reference[0]['dataset']}@" + ",".join(str(r["version"]) for r in reference)

