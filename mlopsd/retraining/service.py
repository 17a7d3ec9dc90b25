"""Retraining, the daemon's side: triggers become pipelines, one at a time per model, and one
driver thread advances every active pipeline.

- A trigger while the model's pipeline is active (running or awaiting approval) is merged
  into it: recorded on that pipeline and audited, never a second training.
- Automatic triggers (alerts, new rows) respect the policy's `cooldown`: within it after the
  last automatic pipeline they are held — a pipeline row in state `held` (audited; later
  ones merge into it; kept across restarts) — and start when it has passed, or are merged
  into a pipeline of the same kind that starts first. Schedules and people
  (`mlops retrain`) are not held back by it. A real retrain never merges into a dry run (it
  is held until the dry run ends); a person asking for one kind while the other runs is told
  so (409).
- After a restart the active pipelines go on from their recorded steps (a job the runner
  queued again is followed; a canary or shadow cut by the restart starts again: see
  PipelineRun.recovered).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from mlopsd.retraining import policy
from mlopsd.retraining.pipeline import Env, PipelineError, PipelineRun
from store import pipelines as pipeline_repo

log = logging.getLogger("mlops.retraining")
CLOCK_SLACK_S = 60.0
"""A last start this far ahead of the clock means the clock was set back (the store stamps
rows with the real clock; a moment apart is not a jump)."""

AUTOMATIC = ("drift", "prediction_drift", "performance_drop", "schema_change", "new_rows")


class RetrainService:
    def __init__(self, env: Env, *, tick_s: float = 0.2) -> None:
        self.env, self.tick_s, self.clock = env, tick_s, env.clock
        self._runs: dict[int, PipelineRun] = {}
        self._released_at: float | None = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="retrain-pipelines",
                                        daemon=True)
        self._thread.start()

    def recover(self) -> None:
        """Take up the active pipelines the store holds (after a restart)."""
        for row in pipeline_repo.listing(self.env.store, state="active", limit=10_000):
            run = PipelineRun(row, self.env)
            run.recovered()
            if run.state in pipeline_repo.ACTIVE:
                self._runs[run.id] = run
                log.info("pipeline %s of %s goes on after the restart", run.id, run.model)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- triggers ---------------------------------------------------------------------------

    def trigger(self, model: str, trigger: str, detail: dict[str, Any] | None = None, *,
                actor: str, dry_run: bool = False) -> dict[str, Any]:
        """Start a pipeline, or merge into the running one, or hold it (cooldown, or a dry
        run in the way) to start when that has passed. Returns {"pipeline": Pipeline,
        "merged": bool}, with "skipped": why when the pipeline is held."""
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
            with self.env.store.transaction():  # started, and what was held absorbed
                row = self.env.records.start(model=model, trigger=trigger, detail=detail,
                                             dry_run=dry_run, actor=actor)
                self._absorb_held(row)
            self._runs[row.id] = PipelineRun(row, self.env)
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
        merged = self.env.records.merge(active.id, active.model, {
            "trigger": trigger, "detail": detail, "actor": actor, "dry_run": dry_run,
            "at": self.clock.now().isoformat()}, actor=actor)
        if merged is None:  # it ended this instant: nothing to merge into
            return self._hold(active.model, trigger, detail, actor, dry_run,
                              f"pipeline {active.id} was ending")
        return {"pipeline": merged, "merged": True}

    def _hold(self, model: str, trigger: str, detail: dict[str, Any], actor: str,
              dry_run: bool, why: str) -> dict[str, Any]:
        """Keep the trigger as a held pipeline (in the store: a restart keeps it) that starts
        once `why` has passed: a trigger in a cooldown is delayed, not lost."""
        held = self.env.records.hold(model=model, trigger=trigger, detail=detail,
                                     dry_run=dry_run, actor=actor, why=why)
        return {"pipeline": held, "merged": False,
                "skipped": f"{why}; held as pipeline {held.id}, it starts when that has passed"}

    def _absorb_held(self, started: pipeline_repo.Pipeline) -> None:
        """A pipeline of the same kind starting now answers what was held: merged into it."""
        for held in pipeline_repo.listing(self.env.store, model=started.model,
                                          state=pipeline_repo.HELD):
            if held.dry_run != started.dry_run:
                continue
            self.env.records.absorb(started, held)

    def _release_held(self) -> None:
        """Start the held pipelines whose reason has passed (checked once a second)."""
        now = self.clock.monotonic()
        if self._released_at is not None and now - self._released_at < 1.0:
            return
        self._released_at = now
        with self._lock:
            busy = {r.model for r in self._runs.values()}
            for held in reversed(pipeline_repo.listing(self.env.store,
                                                       state=pipeline_repo.HELD)):
                if held.model in busy or (held.trigger in AUTOMATIC
                                          and self._cooling(held.model)):
                    continue
                row = self.env.records.release(held.id)
                if row is None:
                    continue
                busy.add(row.model)
                self._runs[row.id] = PipelineRun(row, self.env)
                log.info("held pipeline %s of %s starts now", row.id, row.model)

    def _cooling(self, model: str) -> str | None:
        cooldown = policy.duration_s(self.env.model(model).retrain.cooldown)
        last = pipeline_repo.last_started(self.env.store, model, AUTOMATIC)
        if last is None or cooldown <= 0:
            return None
        until = last + timedelta(seconds=cooldown)
        now = self.clock.now()
        if (last - now).total_seconds() > CLOCK_SLACK_S:
            # Only a wall clock set back puts the last start in the future: holding on
            # until the clock catches up could hold retrains for days, so it is said and
            # the cooldown is not applied.
            log.warning("the wall clock (%s) is behind the last automatic retrain of %s "
                        "(started %s): was the clock set back? its cooldown is not applied",
                        now.isoformat(timespec="seconds"), model,
                        last.isoformat(timespec="seconds"))
            return None
        if now < until:
            return (f"cooldown: the last automatic retrain of {model} started at "
                    f"{last.isoformat(timespec='seconds')}; the next may start after "
                    f"{until.isoformat(timespec='seconds')}")
        return None

    # --- people -----------------------------------------------------------------------------

    def _active(self, pipeline_id: int) -> PipelineRun:
        run = self._runs.get(pipeline_id)
        if run is None:
            row = pipeline_repo.get(self.env.store, pipeline_id)  # 404 if unknown
            state = "is held, not started" if row.state == pipeline_repo.HELD else \
                f"has ended ({row.state})"
            raise PipelineError(409, f"pipeline {pipeline_id} {state}")
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
            if pipeline_id not in self._runs and pipeline_repo.get(
                    self.env.store, pipeline_id).state == pipeline_repo.HELD:
                return self.env.records.end(
                    pipeline_id, state="cancelled", steps=[],
                    challenger=None, champion=None,
                    reason=f"cancelled by {actor} before it started" + (
                        f": {note}" if note else ""))
            run = self._active(pipeline_id)
            run.cancel(actor=actor, note=note)
            self._runs.pop(pipeline_id, None)
        return pipeline_repo.get(self.env.store, pipeline_id)

    # --- the driver -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            self.tick()

    def tick(self) -> None:
        """One pass: start what was held and may start now, advance every active pipeline.
        The driver thread calls it each `tick_s`; a test calls it after moving the clock."""
        try:
            self._release_held()
        except Exception:
            log.exception("held pipelines could not be started")
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

