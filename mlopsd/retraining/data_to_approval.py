"""A pipeline's steps up to a person's approval: gather the data (materialise, validate),
train the challenger, evaluate it, compare it with the champion on the same holdout, gate,
and wait for approval when the policy asks for one. Nothing here touches production."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from mlopsd.retraining import gates, policy
from mlopsd.retraining.comparison import compare_params
from mlopsd.retraining.run_state import DONE, JOB_ENDED, WAIT, PipelineError, RunState, Stop
from mlopsd.retraining.training_data import window_selector
from mlopsd.selectors import resolve
from mlopsd.services import four_eyes
from store import data as data_repo
from store import jobs as job_repo
from store import models as model_repo
from store.errors import Conflict, NotFound


class DataToApproval(RunState):
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
        if job.state not in JOB_ENDED:
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
        store = self.env.store
        train_job = job_repo.get_job(store, self.step("train")["detail"]["job_id"])
        return compare_params(
            store, self.model, train_job.params,
            model_repo.get_version(store, self.model, self.challenger),
            model_repo.get_version(store, self.model, self.champion),
            self.step("evaluate")["detail"]["metric"], self.policy.gates)

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
        if approved:
            four_eyes.check(self.policy, starter=self.actor, approver=actor,
                            what=f"pipeline {self.id}")
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
            entry["detail"].update(decision=decision, by=actor, note=note, at=self._stamp())
            self.env.alerts.resolve("approval_pending", f"pipeline:{self.id}",
                                    f"{decision} by {actor}", by=actor)
            if approved:
                entry["state"], self.state = "running", "running"
                self.save()
                return
            self._finish_step(entry, "failed")
            self._end("rejected", f"{self.model}:{self.challenger} rejected by {actor}"
                      + (f": {note}" if note else "") + "; the version is archived")

