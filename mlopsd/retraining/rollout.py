"""A pipeline's steps from the deploy on: put the approved challenger in production
(direct, or through a canary or shadow trial judged by the policy's span and its own
evidence), then watch it for the policy's window and roll back to the version it replaced
if it goes bad. Every span is measured on the run's clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from mlopsd.config import MonitoringConfig
from mlopsd.retraining import policy
from mlopsd.retraining.run_state import DONE, WAIT, RunState, Stop
from mlopsd.services.degradation import degradation
from mlopsd.services.errors import ServiceError
from mlopsd.serving.performance import live_performance
from mlopsd.serving.served import PRODUCTION
from store import deployments as deployment_repo

PERFORMANCE_EVERY_S = 3.0
WATCH_EVERY_S = 1.0
"""The service ticks every 0.2 s; the watch's error rate needs no finer look than this."""


class RolloutAndWatch(RunState):
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
                      started=self.clock.now().timestamp(), from_version=live)
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
        elapsed = self.clock.now().timestamp() - detail["started"]
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
        elapsed = (self.clock.now() - since).total_seconds()
        if not self._due(self._last_watch, WATCH_EVERY_S) and elapsed < span:
            return WAIT
        self._last_watch = self.clock.monotonic()
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
        if not self._due(self._last_performance, PERFORMANCE_EVERY_S):
            return None
        self._last_performance = self.clock.monotonic()
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

