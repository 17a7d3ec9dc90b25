"""What a finished drift check changes: its report, and — for a report of the drift stream
about the version in production — the alerts it raises and resolves, all in one store
transaction with their audit entries.

- Ad-hoc reports (a person's `--against`, `--window`, `--now` without `--record`) are stored
  and shown and change nothing: no alert, not the model's latest.
- Alerts name the model version they are about (`detail.model_version`). A report about
  another version than the one an open drift alert was raised for first resolves that
  alert ("production is riders:1.1.0 now"): a new production version starts a new alert,
  whose opening is a new retrain trigger (subject to the policy's cooldown).
- A report with no verdict ("not enough data") raises and resolves nothing.
- A stream report about a version no longer in production (it was queued before a deploy)
  is kept, but as ad hoc: it must not move the new version's alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlopsd.client.events import DriftReported
from mlopsd.config import Config
from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from mlopsd.services.degradation import degradation, kind_of_drop
from store import audit
from store import drift as drift_repo
from store import models as model_repo
from store.alerts import Alert
from store.db import Store
from store.jobs import Job

DRIFT_RULES = ("dataset_drift", "prediction_drift")


def retire_stale_alerts(door: Alerts, model: str, live_version: str | None, why: str, *,
                        unversioned_as: str = "") -> list[Alert]:
    """Resolve the drift alerts (and batch-found performance drops) raised about another
    version than `live_version` (all of them when nothing is live); an alert from before
    alerts named their version counts as about `unversioned_as`. One transaction."""
    subject = f"model:{model}"
    resolved = []
    with door.store.transaction():
        for rule in (*DRIFT_RULES, "performance_drop"):
            resolved += door.resolve(rule, subject, why, unless_version=live_version,
                                     unversioned_as=unversioned_as,
                                     only_batch=rule == "performance_drop")
    return resolved


class DriftOutcome:
    def __init__(self, config: Callable[[], Config], store: Store, bus: EventBus) -> None:
        self._config, self.store, self.bus = config, store, bus
        self.alerts = Alerts(store, bus)

    @property
    def config(self) -> Config:
        """The daemon's config as it is now (a reload replaces it)."""
        return self._config()

    def judge_performance(self, p: dict[str, Any], result: dict[str, Any]
                          ) -> dict[str, Any] | None:
        """Labelled rows in the batch: its metrics against the version's holdout metrics."""
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
                "kind": kind_of_drop(bool(result["dataset_drift"])) if degraded else None}

    def record(self, job: Job, result: dict[str, Any], live_version: str | None
               ) -> drift_repo.DriftReport:
        p = job.params
        model, version = p.get("model"), p.get("version")
        performance = self.judge_performance(p, result)
        prediction = result.get("prediction")
        asked = bool(p.get("record", True))
        stream = asked and live_version == version
        detail = {k: result.get(k) for k in ("note", "excluded", "not_inputs")
                  if result.get(k)}
        detail.update({k: p[k] for k in ("why", "significance", "min_rows") if p.get(k)
                       is not None})
        if asked and not stream:
            detail["not_recorded"] = (f"{model}:{version} is no longer in production "
                                      f"({live_version or 'nothing'} is): kept as ad hoc")
        rows = result.get("rows") or {}
        new = drift_repo.NewReport(
            model=model, model_version=version, dataset=p["current"][0]["dataset"],
            reference=p.get("reference_label", ""), current=p.get("current_label", ""),
            dataset_drift=result["dataset_drift"], drift_share=result["drift_share"],
            columns=result["columns"],
            prediction_drift=prediction.get("drifted") if prediction else None,
            prediction=prediction, report_sha=result["report_sha"], job_id=job.id,
            profile_sha=result.get("profile_sha"), performance=performance, recorded=stream,
            rows_reference=rows.get("reference"), rows_current=rows.get("current"),
            status=result.get("status"), detail=detail or None)
        with self.store.transaction() as cur:
            report = drift_repo.insert_report_in(cur, new)
            entry = audit.append(self.store, actor=job.actor, action="drift.report",
                                 subject=f"model:{model}",
                                 details={"report_id": report.id, "recorded": stream,
                                          "status": report.status,
                                          "dataset_drift": report.dataset_drift,
                                          "prediction_drift": report.prediction_drift})
            self.bus.publish(DriftReported(
                model=model or "", report_id=report.id, recorded=report.recorded,
                status=report.status, dataset_drift=report.dataset_drift,
                prediction_drift=report.prediction_drift,
                drifted=[c["column"] for c in report.columns if c.get("drifted")]),
                audit=entry)
            if stream:
                self._alerts(report, performance)
        return report

    def _alerts(self, report: drift_repo.DriftReport,
                performance: dict[str, Any] | None) -> None:
        """Within the report's transaction: the alerts it raises and resolves."""
        model, version = report.model or "", report.model_version or ""
        subject = f"model:{model}"
        retire_stale_alerts(self.alerts, model, version, f"resolved: production is "
                            f"{model}:{version} now; report {report.id} judges the drift "
                            "stream against it", unversioned_as=version)
        drifted = [c["column"] for c in report.columns if c.get("drifted")]
        judged = [c for c in report.columns if c.get("drifted") is not None]
        tag = {"report_id": report.id, "model_version": version}
        if report.dataset_drift:
            self.alerts.raise_(
                rule="dataset_drift", subject=subject, severity="warning",
                message=f"{report.current} drifted from {model}:{version}'s training data: "
                        f"{len(drifted)} of {len(judged)} columns "
                        f"({', '.join(drifted[:6])}{', …' if len(drifted) > 6 else ''}); "
                        f"{report.rows_current} rows against {report.rows_reference}",
                detail={**tag, "drift_share": report.drift_share})
        if report.prediction_drift:
            pred = report.prediction
            self.alerts.raise_(
                rule="prediction_drift", subject=subject, severity="warning",
                message=f"{model}:{version}'s predictions on {report.current} drifted "
                        f"({pred['test']} {pred['statistic']:.4g}, {report.rows_current} rows)",
                detail=tag)
        for rule, now in (("dataset_drift", report.dataset_drift),
                          ("prediction_drift", report.prediction_drift)):
            if now is False:  # a clean report clears what an earlier one raised
                self.alerts.resolve(rule, subject, f"resolved by itself: report "
                                  f"{report.id} ({report.current}) shows none")
        if not performance or performance.get("rows", 0) < self.config.monitoring.min_labels:
            return
        if performance.get("degraded"):
            self.alerts.raise_(
                rule="performance_drop", subject=subject, severity="critical",
                message=f"{model}:{version} on {report.current}: {performance['change']} "
                        f"— {performance['kind']}",
                detail={**tag, **performance})
        else:
            # A labelled batch that scores as well as the baseline clears a drop found on an
            # earlier batch; one found on feedback labels is the service watch's to clear.
            self.alerts.resolve("performance_drop", subject,
                              f"resolved by itself: report {report.id} ({report.current}) "
                              "scores within the limit", only_batch=True)
