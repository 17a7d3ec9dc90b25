"""One retraining pipeline run, as a state machine over recorded steps:

materialise → validate → train → evaluate → compare → gate → approval → deploy → watch

`advance()` does what can be done now and returns; the service calls it again (a step that
waits for a job, a person, a canary or the watch window returns "wait"). Each step's outcome
and numbers are written to the pipeline's row as they change (one transaction each), so the
row alone answers "why did this model go to that version": the trigger, the data versions,
both models' metrics, the CI of the difference, the gate verdicts, the approver, the deploy
steps and the watch result. A step that fails ends the pipeline with a reason; nothing before
the deploy step touches production.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlopsd.config import ModelConfig, MonitoringConfig
from mlopsd.degradation import degradation
from mlopsd.deploys import DeployService
from mlopsd.events import EventBus
from mlopsd.retraining import gates, policy
from mlopsd.retraining.training_data import window_selector
from mlopsd.runner import JobRunner
from mlopsd.selectors import parse, resolve
from mlopsd.service_errors import ServiceError
from mlopsd.serving.performance import live_performance
from mlopsd.serving.served import PRODUCTION, ServedModels
from mlopsd.serving.stats import ServingStats
from mlopsd.training import TrainService
from store import alerts, audit
from store import data as data_repo
from store import deployments as deployment_repo
from store import jobs as job_repo
from store import models as model_repo
from store import pipelines as pipeline_repo
from store import runs as run_repo
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.retraining")

STEPS = ("materialise", "validate", "train", "evaluate", "compare", "gate", "approval",
         "deploy", "watch")
WAIT, DONE = "wait", "done"
_JOB_ENDED = ("succeeded", "failed", "cancelled", "interrupted")


class Stop(Exception):
    """The pipeline ends here: `state` (failed, not_promoted, dry_run, rejected,
    rolled_back, cancelled) and why."""

    def __init__(self, state: str, reason: str, *, step_state: str = "failed") -> None:
        super().__init__(reason)
        self.state, self.reason, self.step_state = state, reason, step_state


class PipelineError(ServiceError):
    pass


@dataclass
class Env:
    """What a pipeline works with: the daemon's parts."""

    store: Store
    runner: JobRunner
    training: TrainService
    deploys: DeployService
    served: ServedModels
    stats: ServingStats
    bus: EventBus
    model: Callable[[str], ModelConfig]
    monitoring: Callable[[], MonitoringConfig]
    label_join: Callable[[str], tuple[str | None, str | None]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PipelineRun:
    def __init__(self, row: pipeline_repo.Pipeline, env: Env) -> None:
        self.env = env
        self.id, self.model, self.dry_run = row.id, row.model, row.dry_run
        self.trigger, self.actor = row.trigger, row.actor
        self.state, self.reason = row.state, row.reason
        self.steps: list[dict[str, Any]] = [dict(s) for s in row.steps]
        self.challenger, self.champion = row.challenger, row.champion
        self._last_watch = 0.0

    # --- bookkeeping ----------------------------------------------------------------------

    @property
    def config(self) -> ModelConfig:
        return self.env.model(self.model)

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["step"] == name), None)

    def current(self) -> dict[str, Any] | None:
        """The step in progress, starting the next one when the last has finished."""
        if self.steps and self.steps[-1]["state"] in ("running", "waiting"):
            return self.steps[-1]
        done = {s["step"] for s in self.steps}
        following = [name for name in STEPS if name not in done]
        if not following:
            return None
        entry = {"step": following[0], "state": "running", "started_at": _now(),
                 "ended_at": None, "detail": {}}
        self.steps.append(entry)
        self.save()
        return entry

    def save(self) -> None:
        pipeline_repo.save(self.env.store, self.id, state=self.state, steps=self.steps,
                           challenger=self.challenger, champion=self.champion,
                           reason=self.reason)

    def _finish_step(self, entry: dict[str, Any], state: str, **detail: Any) -> None:
        entry["detail"].update(detail)
        entry["state"], entry["ended_at"] = state, _now()

    # --- driving ----------------------------------------------------------------------------

    def advance(self) -> bool:
        """Do what can be done now; True once the pipeline has ended."""
        if self.state not in pipeline_repo.ACTIVE:
            return True
        while True:
            entry = self.current()
            if entry is None:
                self._end("deployed", f"{self.model}:{self.challenger} is in production "
                          "and passed its watch")
                return True
            try:
                outcome = getattr(self, f"_{entry['step']}")(entry)
            except Stop as stop:
                self._finish_step(entry, stop.step_state)
                self._end(stop.state, stop.reason)
                return True
            if outcome == WAIT:
                return False
            self._finish_step(entry, entry["state"] if entry["state"] == "skipped" else "done")
            self.save()

    def _end(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        self.save()
        log.info("pipeline %s (%s) ended %s: %s", self.id, self.model, state, reason)
        self.env.bus.publish("pipeline.ended", pipeline_id=self.id, model=self.model,
                             state=state, reason=reason)
        audit.append(self.env.store, actor="mlopsd", action=f"pipeline.{state}",
                     subject=f"pipeline:{self.id}", reason=reason,
                     details={"model": self.model, "challenger": self.challenger,
                              "champion": self.champion})
        if state in ("failed", "rolled_back"):
            rule = "retrain_failed" if state == "failed" else "auto_rollback"
            alerts.raise_alert(self.env.store, rule=rule, subject=f"model:{self.model}",
                               severity="critical",
                               message=f"retrain pipeline {self.id} of {self.model}: {reason}",
                               detail={"pipeline_id": self.id})

    def stop(self, state: str, reason: str) -> None:
        """End from outside (cancel, reject): the step in progress fails."""
        if self.steps and self.steps[-1]["state"] in ("running", "waiting"):
            self._finish_step(self.steps[-1], "failed", outcome=state)
        self._end(state, reason)

    # --- the steps ------------------------------------------------------------------------

    def _materialise(self, entry: dict[str, Any]) -> str:
        selector = window_selector(self.env.store, self.config)
        try:
            resolved = resolve(self.env.store, selector)
        except (ValueError, NotFound) as exc:
            raise Stop("failed", f"no training data: {exc}") from None
        versions = [{"dataset": v.dataset, "version": v.version, "rows": v.n_rows,
                     "content_hash": v.content_hash} for v in resolved.versions]
        entry["detail"].update(selector=selector, resolved=resolved.canonical,
                               versions=versions, rows=sum(v["rows"] for v in versions))
        return DONE

    def _validate(self, entry: dict[str, Any]) -> str:
        m = self.config
        resolved = resolve(self.env.store, self.step("materialise")["detail"]["resolved"])
        checks = []
        columns: set[str] = set()
        for version in resolved.versions:
            profile = data_repo.get_version(self.env.store, version.dataset,
                                            version.version).profile or {}
            target = profile.get(m.target)
            if target is None:
                raise Stop("failed", f"{version.dataset}@{version.version} has no target column "
                           f"{m.target!r}")
            if not target.get("count"):
                raise Stop("failed", f"{version.dataset}@{version.version}: the target "
                           f"{m.target!r} has no value")
            columns |= set(profile)
        checks.append(f"target {m.target!r} present with values in every version")
        rows = sum(v.n_rows for v in resolved.versions)
        if rows < m.min_rows:
            raise Stop("failed", f"{rows} rows in {resolved.canonical}, fewer than min_rows "
                       f"{m.min_rows}")
        checks.append(f"{rows} rows >= min_rows {m.min_rows}")
        production = model_repo.get_model(self.env.store, self.model).aliases.get(PRODUCTION) \
            if self._registered() else None
        if production is not None:
            inputs = [i["name"] for i in (model_repo.get_version(
                self.env.store, self.model, production).signature or {}).get("inputs", [])]
            absent = [name for name in inputs if name not in columns]
            checks.append(f"production {production}'s inputs all present" if not absent else
                          f"production {production}'s inputs {', '.join(absent)} are absent: "
                          "the challenger will have a new input signature (a major version) "
                          "and the champion cannot be compared on this data")
        entry["detail"]["checks"] = checks
        return DONE

    def _registered(self) -> bool:
        try:
            model_repo.get_model(self.env.store, self.model)
        except NotFound:
            return False
        return True

    def _train(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]
        if "job_id" not in detail:
            job = self.env.training.submit(
                self.model, actor=f"pipeline:{self.id}",
                reason=f"retrain pipeline {self.id} ({self.trigger})",
                tags={"pipeline": str(self.id), "trigger": self.trigger},
                data=self.step("materialise")["detail"]["resolved"])
            detail["job_id"] = job.id
            self.save()
        job = self._wait_job(detail["job_id"], "training")
        if job is None:
            return WAIT
        result = job.result or {}
        self.challenger = result.get("version")
        detail.update(version=self.challenger, run_id=result.get("run_id"),
                      bump_reason=result.get("bump_reason"))
        return DONE

    def _wait_job(self, job_id: int, what: str) -> job_repo.Job | None:
        job = job_repo.get_job(self.env.store, job_id)
        if job.state not in _JOB_ENDED:
            return None
        if job.state != "succeeded":
            raise Stop("failed", f"the {what} job {job_id} {job.state}: {job.error}")
        return job

    def _evaluate(self, entry: dict[str, Any]) -> str:
        m = self.config
        metric = policy.metric_for(m.task, m.retrain.gates.metric)
        challenger = model_repo.get_version(self.env.store, self.model, self.challenger)
        self.champion = model_repo.get_model(self.env.store, self.model).aliases.get(
            PRODUCTION)
        champion = None
        if self.champion is not None:
            record = model_repo.get_version(self.env.store, self.model, self.champion)
            champion = {"version": self.champion, "holdout_metrics": record.metrics}
        entry["detail"].update(
            metric=metric, higher_is_better=policy.HIGHER_IS_BETTER[metric],
            challenger={"version": self.challenger, "holdout_metrics": challenger.metrics},
            champion=champion)
        return DONE

    def _compare(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]
        if self.champion is None:
            entry["state"] = "skipped"
            detail["why"] = "no production version to compare with"
            return DONE
        if "job_id" not in detail:
            detail["job_id"] = self.env.runner.submit(
                "compare", self._compare_params(), actor=f"pipeline:{self.id}").id
            self.save()
        job = self._wait_job(detail["job_id"], "comparison")
        if job is None:
            return WAIT
        detail.update({k: v for k, v in (job.result or {}).items() if k != "timings"})
        return DONE

    def _compare_params(self) -> dict[str, Any]:
        store, gates_config = self.env.store, self.config.retrain.gates
        train_job = job_repo.get_job(store, self.step("train")["detail"]["job_id"])
        challenger = model_repo.get_version(store, self.model, self.challenger)
        champion = model_repo.get_version(store, self.model, self.champion)
        lineage = run_repo.get_run(store, challenger.run_id).lineage if challenger.run_id \
            else {}
        return {
            "model": self.model, "train": train_job.params,
            "challenger": {"version": challenger.version, "model_sha": challenger.artifact_sha,
                           "signature": challenger.signature,
                           "holdout_predictions_sha": (lineage or {}).get(
                               "holdout_predictions_sha")},
            "champion": {"version": champion.version, "model_sha": champion.artifact_sha,
                         "signature": champion.signature},
            "metric": self.step("evaluate")["detail"]["metric"],
            "bootstrap": gates_config.bootstrap, "confidence": gates_config.confidence,
            "seed": gates_config.seed,
        }

    def _gate(self, entry: dict[str, Any]) -> str:
        m = self.config
        evaluated = self.step("evaluate")["detail"]
        metric = evaluated["metric"]
        compared = self.step("compare")
        comparison = compared["detail"] if compared and compared["state"] == "done" else None
        value = (comparison["challenger"]["value"] if comparison
                 else (evaluated["challenger"]["holdout_metrics"] or {}).get(metric))
        verdicts = gates.judge(m.retrain.gates, metric, value, comparison)
        passed = all(v["passed"] for v in verdicts)
        entry["detail"].update(metric=metric, verdicts=verdicts, passed=passed)
        failing = "; ".join(v["detail"] for v in verdicts if not v["passed"])
        if not passed:
            raise Stop("dry_run" if self.dry_run else "not_promoted",
                       f"{'dry run: ' if self.dry_run else ''}{self.model}:{self.challenger} "
                       f"did not pass the gate: {failing}", step_state="done")
        if self.dry_run:
            raise Stop("dry_run", f"dry run: {self.model}:{self.challenger} passed the gate "
                       "and would be deployed", step_state="done")
        return DONE

    def _approval(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]
        if self.config.retrain.approval != "required":
            entry["state"] = "skipped"
            detail["why"] = "approval = auto"
            return DONE
        if detail.get("decision") == "approved":
            return DONE
        if entry["state"] != "waiting":
            entry["state"], self.state = "waiting", "awaiting_approval"
            self.save()
            alerts.raise_alert(
                self.env.store, rule="approval_pending", subject=f"pipeline:{self.id}",
                severity="info",
                message=f"{self.model}:{self.challenger} passed its gate and awaits approval "
                        f"(mlops approve {self.id} / mlops reject {self.id})",
                detail={"pipeline_id": self.id, "model": self.model,
                        "version": self.challenger})
            self.env.bus.publish("pipeline.awaiting_approval", pipeline_id=self.id,
                                 model=self.model, version=self.challenger)
        return WAIT

    def decide(self, approved: bool, *, actor: str, note: str | None) -> None:
        entry = self.steps[-1] if self.steps else None
        if self.state != "awaiting_approval" or entry is None or entry["step"] != "approval":
            raise PipelineError(409, f"pipeline {self.id} is {self.state}, not awaiting "
                                "approval")
        entry["detail"].update(decision="approved" if approved else "rejected", by=actor,
                               note=note, at=_now())
        alerts.resolve_open(self.env.store, "approval_pending", f"pipeline:{self.id}",
                            f"{'approved' if approved else 'rejected'} by {actor}")
        if approved:
            entry["state"], self.state = "running", "running"
            self.save()
            return
        model_repo.set_archived(self.env.store, self.model, self.challenger)
        audit.append(self.env.store, actor=actor, action="model.archive",
                     subject=f"model:{self.model}", reason=note,
                     details={"version": self.challenger, "pipeline_id": self.id})
        self._finish_step(entry, "failed")
        self._end("rejected", f"{self.model}:{self.challenger} rejected by {actor}"
                  + (f": {note}" if note else "") + "; the version is archived")

    def _deploy(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]
        deploy = policy.deploy(self.config.retrain.deploy)
        slot = self.env.served.slot(self.model)
        reason = f"retrain pipeline {self.id} ({self.trigger})"
        actor = (self.step("approval") or {}).get("detail", {}).get("by") or "mlopsd"
        if slot is not None and slot.live.version == self.challenger:
            detail.update(strategy="none", note=f"{self.challenger} is live already")
            return DONE
        if deploy.strategy == "direct" or slot is None:
            move = self.env.deploys.move_alias(self.model, PRODUCTION, self.challenger,
                                               actor=actor, reason=reason)
            detail.update(strategy="direct", from_version=move.from_version,
                          to_version=move.to_version,
                          note=None if deploy.strategy == "direct" else
                          f"{deploy.describe()} asked, but nothing serves yet: direct")
            return DONE
        if "deployment_id" not in detail:
            if deploy.strategy == "canary":
                started = self.env.deploys.canary(self.model, self.challenger,
                                                  percent=deploy.percent, actor=actor,
                                                  reason=reason)
            else:
                started = self.env.deploys.shadow(self.model, self.challenger, actor=actor,
                                                  reason=reason)
            detail.update(strategy=deploy.strategy, policy=deploy.describe(),
                          deployment_id=started["deployment_id"], started=time.time(),
                          from_version=slot.live.version)
            self.save()
        trial = slot.canary if deploy.strategy == "canary" else slot.shadow
        if trial is None or trial.deployment_id != detail["deployment_id"]:
            return self._trial_ended(detail)
        requests = (trial.candidate.requests if deploy.strategy == "canary"
                    else trial.compared_rows)
        elapsed = time.time() - detail["started"]
        if (deploy.for_requests is not None and requests < deploy.for_requests) or (
                deploy.for_s is not None and elapsed < deploy.for_s):
            return WAIT
        summary = trial.summary()
        move = self.env.deploys.promote(self.model, actor=actor,
                                        reason=f"{reason}: {deploy.describe()} passed")
        detail.update(trial={k: summary.get(k) for k in ("candidate", "champion", "errors",
                                                         "compared_rows", "max_abs_diff")
                             if k in summary},
                      to_version=move.to_version, requests=requests,
                      seconds=round(elapsed, 3))
        return DONE

    def _trial_ended(self, detail: dict[str, Any]) -> str:
        found = next((d for d in deployment_repo.history(self.env.store, self.model, 50)
                      if d.id == detail["deployment_id"]), None)
        if found is not None and found.state == "promoted":
            detail["note"] = f"promoted by {found.actor}"
            return DONE
        state = found.state if found else "gone"
        why = found.reason if found and found.reason else state
        raise Stop("rolled_back", f"the {detail['strategy']} of {self.model}:{self.challenger} "
                   f"ended without promotion ({state}: {why}); production stays "
                   f"{detail.get('from_version')}")

    def _watch(self, entry: dict[str, Any]) -> str:
        m, cfg = self.config, self.env.monitoring()
        span = policy.duration_s(m.retrain.watch)
        detail = entry["detail"]
        if span <= 0:
            entry["state"] = "skipped"
            detail["why"] = "watch = 0"
            return DONE
        since = datetime.fromisoformat(self.step("deploy")["ended_at"])
        elapsed = (datetime.now(UTC) - since).total_seconds()
        if time.monotonic() - self._last_watch < 1.0 and elapsed < span:
            return WAIT
        self._last_watch = time.monotonic()
        slot = self.env.served.slot(self.model)
        if slot is None or slot.live.version != self.challenger:
            detail["note"] = (f"production moved to {slot.live.version if slot else 'nothing'}"
                              " by someone else: the watch ended")
            return DONE
        detail["checks"] = detail.get("checks", 0) + 1
        why = self._watch_error_rate(slot, min(max(elapsed, 1.0), span), m, cfg, detail) or \
            self._watch_performance(since, m, cfg, detail)
        if why is not None:
            self._roll_back(detail, why)
        if elapsed < span:
            return WAIT
        detail["result"] = f"clear for {span:g} s"
        return DONE

    def _watch_error_rate(self, slot: Any, window_s: float, m: ModelConfig,
                          cfg: MonitoringConfig, detail: dict[str, Any]) -> str | None:
        stats = self.env.stats.version(slot.live.key)
        requests, failed, _ = stats.window(window_s) if stats else (0, 0, None)
        limit = cfg.error_rate if m.monitoring.error_rate is None else m.monitoring.error_rate
        detail.update(requests=requests, failed=failed)
        if requests >= cfg.min_requests and failed / requests > limit:
            return (f"error rate {failed / requests:.1%} over {requests} requests (limit "
                    f"{limit:.1%})")
        return None

    def _watch_performance(self, since: datetime, m: ModelConfig, cfg: MonitoringConfig,
                           detail: dict[str, Any]) -> str | None:
        dataset, id_column = self.env.label_join(self.model)
        found = live_performance(self.env.store, self.model, since=since, id_column=id_column,
                                 dataset=dataset)
        live = next((v for v in found["versions"] if v["version"] == self.challenger
                     and v["served_as"] == PRODUCTION), None)
        if live is None:
            return None
        detail["labelled_rows"] = live["rows"]
        worse = degradation(m.task, live["baseline"], live["metrics"])
        limit = m.monitoring.performance_drop or cfg.performance_drop
        if worse is not None and live["rows"] >= cfg.min_labels and worse.drop > limit:
            return f"{worse.describe()} on {live['rows']} labelled rows (limit {limit:.0%})"
        return None

    def _roll_back(self, detail: dict[str, Any], why: str) -> None:
        detail["rollback"] = why
        if self.champion is None:
            raise Stop("failed", f"{self.model}:{self.challenger} went bad in its watch ({why}) "
                       "and there is no earlier production version to go back to")
        self.env.deploys.move_alias(
            self.model, PRODUCTION, self.champion, actor="mlopsd", kind="rollback",
            reason=f"retrain pipeline {self.id}: automatic rollback in the watch: {why}")
        raise Stop("rolled_back", f"{self.model}:{self.challenger} rolled back to "
                   f"{self.champion} in the watch window: {why}")

    # --- cancelling -------------------------------------------------------------------------

    def cancel(self, *, actor: str, note: str | None) -> None:
        entry = self.steps[-1] if self.steps else None
        if entry is not None and entry["state"] in ("running", "waiting"):
            job_id = entry["detail"].get("job_id")
            if entry["step"] in ("train", "compare") and job_id is not None:
                job = job_repo.get_job(self.env.store, job_id)
                if job.state not in _JOB_ENDED:
                    self.env.runner.cancel(job_id, actor=actor, reason=note)
            if entry["step"] == "deploy" and "deployment_id" in entry["detail"]:
                slot = self.env.served.slot(self.model)
                if slot is not None and (slot.canary or slot.shadow) is not None:
                    self.env.deploys.abort(self.model, actor=actor,
                                           reason=f"pipeline {self.id} cancelled")
            if entry["step"] == "approval":
                alerts.resolve_open(self.env.store, "approval_pending", f"pipeline:{self.id}",
                                    f"cancelled by {actor}")
        self.stop("cancelled", f"cancelled by {actor}" + (f": {note}" if note else ""))

    def recovered(self) -> None:
        """After a restart: a canary or shadow ended with the daemon (production is as its
        alias says); everything else goes on where it stood."""
        entry = self.steps[-1] if self.steps else None
        if entry is not None and entry["step"] == "deploy" and entry["state"] == "running" \
                and "deployment_id" in entry["detail"]:
            self.stop("failed", f"the daemon restarted during the {entry['detail']['strategy']}"
                      f" of {self.challenger}; production stays "
                      f"{entry['detail'].get('from_version')}")


def dataset_of(model: ModelConfig) -> str:
    return parse(model.data).dataset
