"""What one pipeline run is made of, whichever step it is at: the daemon's parts it works
with (`Env`), its row as it stands (steps, challenger, champion) and the bookkeeping every
step shares: the policy it started with, starting and finishing steps, saving, ending.

The steps themselves are in data_to_approval.py and rollout.py; pipeline.py drives them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlopsd.config import GatesConfig, ModelConfig, MonitoringConfig, RetrainConfig
from mlopsd.retraining.clock import Clock
from mlopsd.retraining.records import PipelineRecords
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.selectors import parse
from mlopsd.services.alerts import Alerts
from mlopsd.services.deploys import DeployService
from mlopsd.services.errors import ServiceError
from mlopsd.services.registry import Registry
from mlopsd.services.training import TrainService
from mlopsd.serving.served import PRODUCTION, ServedModels
from mlopsd.serving.stats import ServingStats
from store import models as model_repo
from store import pipelines as pipeline_repo
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.retraining")

STEPS = ("materialise", "validate", "train", "evaluate", "compare", "gate", "approval",
         "deploy", "watch")
WAIT, DONE = "wait", "done"
JOB_ENDED = ("succeeded", "failed", "cancelled", "interrupted")


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
    """What a pipeline works with: the daemon's parts, and the clock every decision that
    depends on time reads (the daemon's is the real one; tests pass one they move)."""

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
    clock: Clock
    records: PipelineRecords = field(init=False)
    """The door for pipeline rows (with their audit entries and events)."""
    alerts: Alerts = field(init=False)
    registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        self.records = PipelineRecords(self.store, self.bus)
        self.alerts = Alerts(self.store, self.bus)
        self.registry = Registry(self.store, self.bus)


class RunState:
    def __init__(self, row: pipeline_repo.Pipeline, env: Env) -> None:
        self.env, self.clock = env, env.clock
        self.id, self.model, self.dry_run = row.id, row.model, row.dry_run
        self.trigger, self.actor = row.trigger, row.actor
        self.state, self.reason = row.state, row.reason
        self.steps: list[dict[str, Any]] = [dict(s) for s in row.steps]
        self.challenger, self.champion = row.challenger, row.champion
        # Spacing of the watch's checks (clock.monotonic); not kept: a restart checks at once.
        self._last_watch: float | None = None
        self._last_performance: float | None = None
        self._policy: RetrainConfig | None = None

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

    def _stamp(self) -> str:
        return self.clock.now().isoformat()

    def _due(self, last: float | None, every_s: float) -> bool:
        """Whether work done at `last` (clock.monotonic) is due again, every `every_s`."""
        return last is None or self.clock.monotonic() - last >= every_s

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
        entry = {"step": following[0], "state": "running", "started_at": self._stamp(),
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
        entry["state"], entry["ended_at"] = state, self._stamp()

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

    def _production(self) -> str | None:
        try:
            return model_repo.get_model(self.env.store, self.model).aliases.get(PRODUCTION)
        except NotFound:  # no version registered yet
            return None

    @property
    def _actor(self) -> str:
        return f"pipeline:{self.id}"


def retrain_config_from(data: dict[str, Any]) -> RetrainConfig:
    """A policy back from its `dataclasses.asdict` form."""
    known = {f.name for f in dataclasses.fields(RetrainConfig)}
    values = {k: v for k, v in data.items() if k in known}
    values["gates"] = GatesConfig(**values.get("gates", {}))
    return RetrainConfig(**values)


def dataset_of(model: ModelConfig) -> str:
    return parse(model.data).dataset
