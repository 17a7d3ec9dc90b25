"""Retraining, the daemon's side: triggers become pipelines, one at a time per model, and one
driver thread advances every active pipeline.

- A trigger while the model's pipeline is active (running or awaiting approval) is merged
  into it: recorded on that pipeline and audited, never a second training.
- Automatic triggers (alerts, new rows) respect the policy's `cooldown`: within it after the
  last automatic pipeline they are held (audited) and start when it has passed (the latest
  held trigger per model, in memory: a restart forgets it). Schedules and people
  (`mlops retrain`) are not held back by it. A real retrain never merges into a dry run (it
  is held until the dry run ends); a person asking for one kind while the other runs is told
  so (409).
- After a restart the active pipelines go on from their recorded steps (a job the runner
  queued again is waited for again; see PipelineRun.recovered for canaries).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from mlopsd.retraining import policy
from mlopsd.retraining.pipeline import Env, PipelineError, PipelineRun, Stop
from store import audit
from store import pipelines as pipeline_repo

log = logging.getLogger("mlops.retraining")

AUTOMATIC = ("drift", "prediction_drift", "performance_drop", "schema_change", "new_rows")


class RetrainService:
    def __init__(self, env: Env, *, tick_s: float = 0.2) -> None:
        self.env, self.tick_s = env, tick_s
        self._runs: dict[int, PipelineRun] = {}
        self._held: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for row in pipeline_repo.listing(self.env.store, state="active", limit=10_000):
            run = PipelineRun(row, self.env)
            run.recovered()
            if run.state in pipeline_repo.ACTIVE:
                self._runs[run.id] = run
                log.info("pipeline %s of %s goes on after the restart", run.id, run.model)
        self._thread = threading.Thread(target=self._loop, name="retrain-pipelines",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- triggers ---------------------------------------------------------------------------

    def trigger(self, model: str, trigger: str, detail: dict[str, Any] | None = None, *,
                actor: str, dry_run: bool = False) -> dict[str, Any]:
        """Start a pipeline, or merge into the running one, or hold it (cooldown, or a dry
        run in the way) to start when that ends. Returns {"pipeline": Pipeline, "merged":
        bool} or {"pipeline": None, "skipped": why}."""
        self.env.training.spec(model)  # a model not in mlops.toml is a 404
        detail = detail or {}
        with self._lock:
            active = next((r for r in self._runs.values() if r.model == model), None)
            if active is not None and active.dry_run != dry_run:
                if trigger == "manual":
                    raise PipelineError(409, self._in_the_way(active, dry_run))
                if active.dry_run:  # a real retrain must not vanish into a dry run
                    return self._hold(model, trigger, detail, actor, dry_run,
                                      f"a dry run of {model} (pipeline {active.id}) is running")
            if active is not None:
                return self._merge(active, trigger, detail, actor, dry_run)
            if trigger in AUTOMATIC:
                why = self._cooling(model)
                if why is not None:
                    return self._hold(model, trigger, detail, actor, dry_run, why)
            row = pipeline_repo.create(self.env.store, model=model, trigger=trigger,
                                       detail=detail, dry_run=dry_run, actor=actor)
            self._runs[row.id] = PipelineRun(row, self.env)
            self._held.pop(model, None)
        audit.append(self.env.store, actor=actor, action="pipeline.started",
                     subject=f"pipeline:{row.id}",
                     details={"model": model, "trigger": trigger, "dry_run": dry_run,
                              **detail})
        self.env.bus.publish("pipeline.started", pipeline_id=row.id, model=model,
                             trigger=trigger, dry_run=dry_run)
        log.info("pipeline %s of %s started (%s%s)", row.id, model, trigger,
                 ", dry run" if dry_run else "")
        self._wake.set()
        return {"pipeline": row, "merged": False}

    @staticmethod
    def _in_the_way(active: PipelineRun, dry_run: bool) -> str:
        if active.dry_run:
            return (f"a dry run of {active.model} is running (pipeline {active.id}): wait for "
                    f"it or cancel it (mlops pipelines cancel {active.id})")
        return (f"pipeline {active.id} of {active.model} is running and goes further than a "
                f"dry run: see mlops pipelines show {active.id}")

    def _merge(self, active: PipelineRun, trigger: str, detail: dict[str, Any], actor: str,
               dry_run: bool) -> dict[str, Any]:
        merged = pipeline_repo.merge(self.env.store, active.id, {
            "trigger": trigger, "detail": detail, "actor": actor, "dry_run": dry_run,
            "at": datetime.now(UTC).isoformat()})
        if merged is None:  # it ended this instant: nothing to merge into
            return self._hold(active.model, trigger, detail, actor, dry_run,
                              f"pipeline {active.id} was ending")
        audit.append(self.env.store, actor=actor, action="pipeline.merged",
                     subject=f"pipeline:{active.id}", details={"trigger": trigger, **detail})
        self.env.bus.publish("pipeline.merged", pipeline_id=active.id, model=active.model,
                             trigger=trigger)
        return {"pipeline": merged, "merged": True}

    def _hold(self, model: str, trigger: str, detail: dict[str, Any], actor: str,
              dry_run: bool, why: str) -> dict[str, Any]:
        """Keep the trigger (the latest one per model, in memory) and start it once `why`
        has passed: a trigger in a cooldown is delayed, not lost."""
        self._held[model] = {"trigger": trigger, "detail": detail, "actor": actor,
                             "dry_run": dry_run}
        audit.append(self.env.store, actor=actor, action="retrain.held",
                     subject=f"model:{model}", reason=why,
                     details={"trigger": trigger, **detail})
        return {"pipeline": None, "skipped": f"{why}; it starts when that has passed"}

    def _release_held(self) -> None:
        with self._lock:
            busy = {r.model for r in self._runs.values()}
            ready = [(model, held) for model, held in self._held.items()
                     if model not in busy and not (held["trigger"] in AUTOMATIC
                                                   and self._cooling(model))]
            for model, held in ready:
                del self._held[model]
                try:
                    self.trigger(model, held["trigger"], held["detail"], actor=held["actor"],
                                 dry_run=held["dry_run"])
                except Exception:  # the model left the config meanwhile
                    log.exception("the held retrain of %s could not start", model)

    def _cooling(self, model: str) -> str | None:
        cooldown = policy.duration_s(self.env.model(model).retrain.cooldown)
        last = pipeline_repo.last_started(self.env.store, model, AUTOMATIC)
        if last is None or cooldown <= 0:
            return None
        until = last + timedelta(seconds=cooldown)
        if datetime.now(UTC) < until:
            return (f"cooldown: the last automatic retrain of {model} started at "
                    f"{last.isoformat(timespec='seconds')}; the next may start after "
                    f"{until.isoformat(timespec='seconds')}")
        return None

    # --- people -----------------------------------------------------------------------------

    def _active(self, pipeline_id: int) -> PipelineRun:
        run = self._runs.get(pipeline_id)
        if run is None:
            row = pipeline_repo.get(self.env.store, pipeline_id)  # 404 if unknown
            raise PipelineError(409, f"pipeline {pipeline_id} has ended ({row.state})")
        return run

    def decide(self, pipeline_id: int, approved: bool, *, actor: str,
               note: str | None) -> pipeline_repo.Pipeline:
        with self._lock:
            run = self._active(pipeline_id)
            run.decide(approved, actor=actor, note=note)
            if run.state not in pipeline_repo.ACTIVE:
                self._runs.pop(pipeline_id, None)
        self._wake.set()
        return pipeline_repo.get(self.env.store, pipeline_id)

    def cancel(self, pipeline_id: int, *, actor: str, note: str | None
               ) -> pipeline_repo.Pipeline:
        with self._lock:
            run = self._active(pipeline_id)
            run.cancel(actor=actor, note=note)
            self._runs.pop(pipeline_id, None)
        return pipeline_repo.get(self.env.store, pipeline_id)

    # --- the driver -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._held:
                self._release_held()
            with self._lock:
                runs = list(self._runs.values())
            for run in runs:
                if self._stopping.is_set():
                    return
                with self._lock:
                    if run.id not in self._runs:
                        continue
                    try:
                        ended = run.advance()
                    except Exception as exc:  # a bug or a store error: end it, keep going
                        log.exception("pipeline %s failed unexpectedly", run.id)
                        try:
                            run.stop("failed", f"unexpected error: {exc}")
                        except Exception:
                            log.exception("could not record the end of pipeline %s", run.id)
                        ended = True
                    if ended:
                        self._runs.pop(run.id, None)


__all__ = ["RetrainService", "Stop"]
