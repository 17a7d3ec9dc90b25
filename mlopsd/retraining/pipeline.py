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

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlopsd.config import GatesConfig, ModelConfig, MonitoringConfig, RetrainConfig
from mlopsd.retraining import gates, policy
from mlopsd.retraining.records import PipelineRecords
from mlopsd.retraining.training_data import window_selector
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.selectors import parse, resolve
from mlopsd.services.alerts import Alerts
from mlopsd.services.degradation import degradation
from mlopsd.services.deploys import DeployService
from mlopsd.services.errors import ServiceError
from mlopsd.services.registry import Registry
from mlopsd.services.training import TrainService
from mlopsd.serving.performance import live_performance
from mlopsd.serving.served import PRODUCTION, ServedModels
from mlopsd.serving.stats import ServingStats
from store import data as data_repo
from store import deployments as deployment_repo
from store import jobs as job_repo
from store import models as model_repo
from store import pipelines as pipeline_repo
from store import runs as run_repo
from store.db import Store
from store.errors import Conflict, NotFound

log = logging.getLogger("mlops.retraining")

STEPS = ("materialise", "validate", "train", "evaluate", "compare", "gate", "approval",
         "deploy", "watch")
WAIT, DONE = "wait", "done"
_JOB_ENDED = ("succeeded", "failed", "cancelled", "interrupted")
PERFORMANCE_EVERY_S = 3.0


class Stop(Exception):
    """The pipeline ends here: `state` (failed, not_promoted, dry_run, rejected,
    rolled_back, superseded, cancelled) and why."""

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
    records: PipelineRecords = field(init=False)
    """The door for pipeline rows (with their audit entries and events)."""
    alerts: Alerts = field(init=False)
    registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        self.records = PipelineRecords(self.store, self.bus)
        self.alerts = Alerts(self.store, self.bus)
        self.registry = Registry(self.store, self.bus)


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
        self._last_performance = 0.0
        self._policy: RetrainConfig | None = None

    # --- bookkeeping ----------------------------------------------------------------------

    @property
    def config(self) -> ModelConfig:
        return self.env.model(self.model)

    @property
    def policy(self) -> RetrainConfig:
        """The retrain policy as it was when the pipeline started (kept in its first step):
        a reload meanwhile changes the next pipeline, not this one."""
        if self._policy is None:
            first = self.steps[0]["detail"].get("policy") if self.steps else None
            if first is None:  # not started yet: the config's (not kept: it may change)
                return self.config.retrain
            self._policy = retrain_config_from(first)
        return self._policy

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
        self.env.records.save(self.id, self.model, state=self.state, steps=self.steps,
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
        alert = None
        if state in ("failed", "rolled_back"):
            alert = {"rule": "retrain_failed" if state == "failed" else "auto_rollback",
                     "subject": f"model:{self.model}", "severity": "critical",
                     "message": f"retrain pipeline {self.id} of {self.model}: {reason}",
                     "detail": {"pipeline_id": self.id}}
        self.env.records.end(self.id, state=state, steps=self.steps,
                             challenger=self.challenger, champion=self.champion, reason=reason,
                             alert=alert)
        log.info("pipeline %s (%s) ended %s: %s", self.id, self.model, state, reason)

    def stop(self, state: str, reason: str) -> None:
        """End from outside (cancel, reject): the step in progress fails."""
        if self.steps and self.steps[-1]["state"] in ("running", "waiting"):
            self._finish_step(self.steps[-1], "failed", outcome=state)
        self._end(state, reason)

    # --- the steps ------------------------------------------------------------------------

    def _materialise(self, entry: dict[str, Any]) -> str:
        entry["detail"]["policy"] = dataclasses.asdict(self.config.retrain)
        try:
            selector = window_selector(self.env.store, self.config)
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
        production = self._production()
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

    def _production(self) -> str | None:
        try:
            return model_repo.get_model(self.env.store, self.model).aliases.get(PRODUCTION)
        except NotFound:  # no version registered yet
            return None

    def _train(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]

        def submit() -> job_repo.Job:
            return self.env.training.submit(
                self.model, actor=self._actor,
                reason=f"retrain pipeline {self.id} ({self.trigger})",
                tags={"pipeline": str(self.id), "trigger": self.trigger},
                data=self.step("materialise")["detail"]["resolved"])

        job = self._job_step(detail, "train", submit, "training")
        if job is None:
            return WAIT
        result = job.result or {}
        self.challenger = result.get("version")
        detail.update(version=self.challenger, run_id=result.get("run_id"),
                      bump_reason=result.get("bump_reason"))
        return DONE

    @property
    def _actor(self) -> str:
        return f"pipeline:{self.id}"

    def _job_step(self, detail: dict[str, Any], kind: str, submit: Callable[[], Any],
                  what: str) -> job_repo.Job | None:
        """The step's job once it has succeeded, else None (wait). Crash-proof: a job
        submitted just before a crash is found again by its actor, not submitted twice; one
        the crash interrupted is followed to its retry (or submitted again when the daemon
        stopped cleanly, which retries nothing)."""
        store = self.env.store
        if "job_id" not in detail:
            found = job_repo.newest_by_actor(store, kind, self._actor)
            detail["job_id"] = found.id if found is not None else submit().id
            self.save()
        job = job_repo.get_job(store, detail["job_id"])
        if job.state == "interrupted":
            retry = job_repo.last_retry(store, job.id)
            detail.setdefault("interrupted", []).append(job.id)
            detail["job_id"] = retry.id if retry is not None else submit().id
            self.save()
            return None
        if job.state not in _JOB_ENDED:
            return None
        if job.state != "succeeded":
            raise Stop("failed", f"the {what} job {job.id} {job.state}: {job.error}")
        return job

    def _evaluate(self, entry: dict[str, Any]) -> str:
        m = self.config
        metric = policy.metric_for(m.task, self.policy.gates.metric)
        challenger = model_repo.get_version(self.env.store, self.model, self.challenger)
        self.champion = self._production()
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
        job = self._job_step(detail, "compare", lambda: self.env.runner.submit(
            "compare", self._compare_params(), actor=self._actor), "comparison")
        if job is None:
            return WAIT
        detail.update({k: v for k, v in (job.result or {}).items() if k != "timings"})
        return DONE

    def _compare_params(self) -> dict[str, Any]:
        store, gates_config = self.env.store, self.policy.gates
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
        evaluated = self.step("evaluate")["detail"]
        metric = evaluated["metric"]
        compared = self.step("compare")
        comparison = compared["detail"] if compared and compared["state"] == "done" else None
        value = (comparison["challenger"]["value"] if comparison
                 else (evaluated["challenger"]["holdout_metrics"] or {}).get(metric))
        verdicts = gates.judge(self.policy.gates, metric, value, comparison)
        passed = all(v["passed"] for v in verdicts)
        entry["detail"].update(metric=metric, verdicts=verdicts, passed=passed)
        failing = "; ".join(v["detail"] for v in verdicts if not v["passed"])
        if self.challenger == self.champion:
            failing += f" (the retrained model is {self.champion} itself: same data, same model)"
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
        if self.policy.approval != "required":
            entry["state"] = "skipped"
            detail["why"] = "approval = auto"
            return DONE
        if detail.get("decision") == "approved":
            return DONE
        if entry["state"] != "waiting":
            entry["state"], self.state = "waiting", "awaiting_approval"
            with self.env.store.transaction():  # the step and its alert
                self.save()
                self._alert_approval()
        return WAIT

    def _alert_approval(self) -> None:
        self.env.alerts.raise_(
            rule="approval_pending", subject=f"pipeline:{self.id}",
            severity="info",
            message=f"{self.model}:{self.challenger} passed its gate and awaits approval "
                    f"(mlops approve {self.id} / mlops reject {self.id})",
            detail={"pipeline_id": self.id, "model": self.model, "version": self.challenger})

    def decide(self, approved: bool, *, actor: str, note: str | None) -> None:
        entry = self.steps[-1] if self.steps else None
        if self.state != "awaiting_approval" or entry is None or entry["step"] != "approval":
            raise PipelineError(409, f"pipeline {self.id} is {self.state}, not awaiting "
                                "approval")
        decision = "approved" if approved else "rejected"
        # The decision, its alert resolved, and (rejected) the version archived and the
        # pipeline's end: one transaction.
        with self.env.store.transaction():
            if not approved:
                try:
                    self.env.registry.archive(self.model, self.challenger or "", actor=actor,
                                              reason=note, pipeline_id=self.id)
                except Conflict as exc:
                    raise PipelineError(409, f"cannot reject {self.model}:{self.challenger}: "
                                        f"{exc}") from None
            entry["detail"].update(decision=decision, by=actor, note=note, at=_now())
            self.env.alerts.resolve("approval_pending", f"pipeline:{self.id}",
                                    f"{decision} by {actor}", by=actor)
            if approved:
                entry["state"], self.state = "running", "running"
                self.save()
                return
            self._finish_step(entry, "failed")
            self._end("rejected", f"{self.model}:{self.challenger} rejected by {actor}"
                      + (f": {note}" if note else "") + "; the version is archived")

    def _deploy(self, entry: dict[str, Any]) -> str:
        try:
            return self._deploy_step(entry)
        except ServiceError as exc:  # e.g. the version cannot serve: production unchanged
            raise Stop("failed", f"deploy of {self.model}:{self.challenger}: {exc}") from None

    def _deploy_step(self, entry: dict[str, Any]) -> str:
        detail = entry["detail"]
        if "deployment_id" in detail:
            return self._trial(detail)
        deploy = policy.deploy(self.policy.deploy)
        slot = self.env.served.slot(self.model)
        live = slot.live.version if slot is not None else None
        if live != self.champion:
            # Compared with one version, about to replace another: judge again instead.
            raise Stop("not_promoted", f"production moved from {self.champion} to {live} "
                       f"since the comparison: {self.challenger} was not compared with {live};"
                       " retrain again")
        if live == self.challenger:  # the retrain gave back the production model itself
            detail.update(strategy="none", note=f"{self.challenger} is live already")
            return DONE
        reason = f"retrain pipeline {self.id} ({self.trigger})"
        if deploy.strategy == "direct" or slot is None:
            move = self.env.deploys.move_alias(self.model, PRODUCTION, self.challenger,
                                               actor=self._deployer, reason=reason)
            detail.update(strategy="direct", from_version=move.from_version,
                          to_version=move.to_version,
                          note=None if deploy.strategy == "direct" else
                          f"{deploy.describe()} asked, but nothing serves yet: direct")
            return DONE
        if deploy.strategy == "canary":
            # The policy judges by the time the pipeline would promote, however short.
            canary_policy = self.env.deploys.canary_policy()
            trial_policy = dataclasses.replace(canary_policy, min_requests=min(
                deploy.for_requests or canary_policy.min_requests, canary_policy.min_requests))
            started = self.env.deploys.canary(self.model, self.challenger,
                                              percent=deploy.percent, actor=self._deployer,
                                              reason=reason, policy=trial_policy)
        else:
            started = self.env.deploys.shadow(self.model, self.challenger,
                                              actor=self._deployer, reason=reason)
        detail.update(strategy=deploy.strategy, policy=deploy.describe(),
                      percent=deploy.percent, for_requests=deploy.for_requests,
                      for_s=deploy.for_s, deployment_id=started["deployment_id"],
                      started=time.time(), from_version=live)
        self.save()
        return WAIT

    @property
    def _deployer(self) -> str:
        return (self.step("approval") or {}).get("detail", {}).get("by") or "mlopsd"

    def _trial(self, detail: dict[str, Any]) -> str:
        """A running canary or shadow: promoted once its span has passed and the evidence
        holds; ended (production unchanged) when its policy condemns it, or when it cannot
        gather enough requests in four times its span."""
        slot = self.env.served.slot(self.model)
        strategy = detail["strategy"]
        trial = (slot.canary if strategy == "canary" else slot.shadow) if slot else None
        if trial is None or trial.deployment_id != detail["deployment_id"]:
            return self._trial_ended(detail)
        if strategy == "canary":
            requests = trial.candidate.requests
            why = trial.verdict() or self._canary_performance(detail)
        else:
            requests = trial.compared + trial.errors
            rate = trial.errors / requests if requests else 0.0
            limit = self._error_limit()
            why = (f"the shadow failed {rate:.1%} of {requests} requests (limit {limit:.1%})"
                   if requests >= self.env.monitoring().min_requests and rate > limit
                   else None)
        if why is not None:
            try:
                self.env.deploys.abort(self.model, actor="mlopsd", only=trial,
                                       reason=f"pipeline {self.id}: {why}", state="rolled-back")
            except ServiceError:  # the canary watch ended it first
                return self._trial_ended(detail)
            raise Stop("rolled_back", f"the {strategy} of {self.model}:{self.challenger} was "
                       f"rolled back: {why}; production stays {detail['from_version']}")
        elapsed = time.time() - detail["started"]
        wanted = detail["for_requests"] or (self.env.deploys.canary_policy().min_requests
                                            if strategy == "canary" else 1)
        span = detail["for_s"]
        if requests >= wanted and (span is None or elapsed >= span):
            summary = trial.summary()
            move = self.env.deploys.promote(
                self.model, actor=self._deployer,
                reason=f"retrain pipeline {self.id}: {detail['policy']} passed")
            detail.update(trial={k: summary.get(k) for k in (
                "candidate", "champion", "errors", "compared", "compared_rows", "max_abs_diff")
                if k in summary}, to_version=move.to_version, requests=requests,
                seconds=round(elapsed, 3))
            return DONE
        patience = 4 * (span if span is not None else 3600.0)
        if elapsed > patience:
            self.env.deploys.abort(self.model, actor="mlopsd", only=trial,
                                   reason=f"pipeline {self.id}: too little traffic to judge")
            raise Stop("failed", f"the {strategy} of {self.model}:{self.challenger} saw "
                       f"{requests} of the {wanted} requests it needs in {elapsed:.0f} s; "
                       f"production stays {detail['from_version']}")
        return WAIT

    def _canary_performance(self, detail: dict[str, Any]) -> str | None:
        """Feedback labels for the canary's own answers since it started: a drop from its
        holdout metric beyond the model's limit condemns it before it is promoted."""
        since = datetime.fromtimestamp(detail["started"], UTC)
        return self._performance_drop(since, "canary", detail)

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

    def _error_limit(self) -> float:
        own = self.config.monitoring.error_rate
        return self.env.monitoring().error_rate if own is None else own

    def _watch(self, entry: dict[str, Any]) -> str:
        cfg = self.env.monitoring()
        span = policy.duration_s(self.policy.watch)
        detail = entry["detail"]
        if span <= 0 or self.step("deploy")["detail"].get("strategy") == "none":
            entry["state"] = "skipped"
            detail["why"] = "watch = 0" if span <= 0 else "nothing was deployed"
            return DONE
        if "rolling_back" in detail:  # a crash came between deciding and finishing it
            self._roll_back(detail, detail["rolling_back"])
        since = datetime.fromisoformat(self.step("deploy")["ended_at"])
        elapsed = (datetime.now(UTC) - since).total_seconds()
        if time.monotonic() - self._last_watch < 1.0 and elapsed < span:
            return WAIT
        self._last_watch = time.monotonic()
        slot = self.env.served.slot(self.model)
        if slot is None or slot.live.version != self.challenger:
            raise Stop("superseded", f"production moved to "
                       f"{slot.live.version if slot else 'nothing'} during the watch of "
                       f"{self.challenger} (by someone else): the watch ended",
                       step_state="done")
        detail["checks"] = detail.get("checks", 0) + 1
        why = self._watch_error_rate(slot, min(max(elapsed, 1.0), span), cfg, detail) or \
            self._performance_drop(since, PRODUCTION, detail)
        if why is not None:
            self._roll_back(detail, why)
        if elapsed < span:
            return WAIT
        detail["result"] = f"clear for {span:g} s ({detail['checks']} checks)"
        return DONE

    def _watch_error_rate(self, slot: Any, window_s: float, cfg: MonitoringConfig,
                          detail: dict[str, Any]) -> str | None:
        stats = self.env.stats.version(slot.live.key)
        requests, failed, _ = stats.window(window_s) if stats else (0, 0, None)
        limit = self._error_limit()
        detail.update(requests=requests, failed=failed)
        if requests >= cfg.min_requests and failed / requests > limit:
            return (f"error rate {failed / requests:.1%} over {requests} requests (limit "
                    f"{limit:.1%})")
        return None

    def _performance_drop(self, since: datetime, served_as: str,
                          detail: dict[str, Any]) -> str | None:
        """The challenger's answers as `served_as` since `since`, scored on their feedback
        labels: worse than its holdout metric by more than the model's limit, on at least
        `min_labels` rows, is why it must go. Scoring reads every labelled prediction of the
        window, so it runs at most every PERFORMANCE_EVERY_S, not on each tick."""
        if time.monotonic() - self._last_performance < PERFORMANCE_EVERY_S:
            return None
        self._last_performance = time.monotonic()
        cfg = self.env.monitoring()
        dataset, id_column = self.env.label_join(self.model)
        found = live_performance(self.env.store, self.model, since=since, id_column=id_column,
                                 dataset=dataset)
        live = next((v for v in found["versions"] if v["version"] == self.challenger
                     and v["served_as"] == served_as), None)
        if live is None:
            return None
        detail["labelled_rows"] = live["rows"]
        m = self.config
        worse = degradation(m.task, live["baseline"], live["metrics"])
        limit = m.monitoring.performance_drop or cfg.performance_drop
        if worse is not None and live["rows"] >= cfg.min_labels and worse.drop > limit:
            return f"{worse.describe()} on {live['rows']} labelled rows (limit {limit:.0%})"
        return None

    def _roll_back(self, detail: dict[str, Any], why: str) -> None:
        """Back to the version the deploy replaced. The decision is saved first, so a crash
        before the move finishes it after the restart."""
        target = self.step("deploy")["detail"].get("from_version")
        if target is None:
            raise Stop("failed", f"{self.model}:{self.challenger} went bad in its watch ({why}) "
                       "and there is no earlier production version to go back to")
        if detail.get("rolling_back") != why:
            detail["rolling_back"] = why
            self.save()
        slot = self.env.served.slot(self.model)
        if slot is None or slot.live.version != target:
            self.env.deploys.move_alias(
                self.model, PRODUCTION, target, actor="mlopsd", kind="rollback",
                reason=f"retrain pipeline {self.id}: automatic rollback in the watch: {why}")
        detail["rollback"] = why
        raise Stop("rolled_back", f"{self.model}:{self.challenger} rolled back to {target} in "
                   f"the watch window: {why}")

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
                self.env.alerts.resolve("approval_pending", f"pipeline:{self.id}",
                                        f"cancelled by {actor}", by=actor)
        self.stop("cancelled", f"cancelled by {actor}" + (f": {note}" if note else ""))

    def recovered(self) -> None:
        """After a restart. A canary or shadow ended with the daemon: if its promotion had
        happened (production is the challenger) the watch follows, else the trial starts
        again from the beginning. A pending approval is alerted again (the alert may not have
        been written). Everything else goes on where it stood."""
        entry = self.steps[-1] if self.steps else None
        if entry is None:
            return
        if entry["step"] == "approval" and entry["state"] == "waiting":
            self._alert_approval()
        if entry["step"] != "deploy" or entry["state"] != "running" \
                or "deployment_id" not in entry["detail"]:
            return
        detail = entry["detail"]
        slot = self.env.served.slot(self.model)
        if slot is not None and slot.live.version == self.challenger:
            detail["note"] = "promoted just before the daemon restarted"
            self._finish_step(entry, "done")
            self.save()
            return
        # The trial ended with the daemon (its numbers lived in memory): it starts again.
        detail.setdefault("restarted", []).append(
            {"deployment_id": detail["deployment_id"], "at": _now()})
        for key in ("deployment_id", "started"):
            detail.pop(key, None)
        self.save()


def retrain_config_from(data: dict[str, Any]) -> RetrainConfig:
    """A policy back from its `dataclasses.asdict` form."""
    known = {f.name for f in dataclasses.fields(RetrainConfig)}
    values = {k: v for k, v in data.items() if k in known}
    values["gates"] = GatesConfig(**values.get("gates", {}))
    return RetrainConfig(**values)


def dataset_of(model: ModelConfig) -> str:
    return parse(model.data).dataset
