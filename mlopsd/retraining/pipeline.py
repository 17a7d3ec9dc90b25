"""One retraining pipeline run, as a state machine over recorded steps:

materialise → validate → train → evaluate → compare → gate → approval → deploy → watch

`advance()` does what can be done now and returns; the service calls it again (a step that
waits for a job, a person, a canary or the watch window returns "wait"). Each step's outcome
and numbers are written to the pipeline's row as they change (one transaction each), so the
row alone answers "why did this model go to that version": the trigger, the data versions,
both models' metrics, the CI of the difference, the gate verdicts, the approver, the deploy
steps and the watch result. A step that fails ends the pipeline with a reason; nothing before
the deploy step touches production.

The steps live in two rooms: data_to_approval.py (up to the gate and a person's approval)
and rollout.py (deploy, trial, watch, rollback), on the shared state of run_state.py. Time
is the run's clock (`Env.clock`): a test moves it instead of waiting.
"""

from __future__ import annotations

from mlopsd.retraining.data_to_approval import DataToApproval
from mlopsd.retraining.rollout import RolloutAndWatch
from mlopsd.retraining.run_state import (
    JOB_ENDED,
    STEPS,
    WAIT,
    Env,
    PipelineError,
    Stop,
    dataset_of,
    retrain_config_from,
)
from store import jobs as job_repo
from store import pipelines as pipeline_repo

__all__ = ["STEPS", "Env", "PipelineError", "PipelineRun", "Stop", "dataset_of",
           "retrain_config_from"]

class PipelineRun(DataToApproval, RolloutAndWatch):
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
                # each step is the method named after it, in one of the two rooms
                outcome = getattr(self, f"_{entry['step']}")(entry)
            except Stop as stop:
                self._finish_step(entry, stop.step_state)
                self._end(stop.state, stop.reason)
                return True
            if outcome == WAIT:
                return False
            self._finish_step(entry, entry["state"] if entry["state"] == "skipped" else "done")
            self.save()

    def stop(self, state: str, reason: str) -> None:
        """End from outside (cancel, reject): the step in progress fails."""
        if self.steps and self.steps[-1]["state"] in ("running", "waiting"):
            self._finish_step(self.steps[-1], "failed", outcome=state)
        self._end(state, reason)

    def cancel(self, *, actor: str, note: str | None) -> None:
        entry = self.steps[-1] if self.steps else None
        if entry is not None and entry["state"] in ("running", "waiting"):
            job_id = entry["detail"].get("job_id")
            if entry["step"] in ("train", "compare") and job_id is not None:
                job = job_repo.get_job(self.env.store, job_id)
                if job.state not in JOB_ENDED:
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
            {"deployment_id": detail["deployment_id"], "at": self._stamp()})
        for key in ("deployment_id", "started"):
            detail.pop(key, None)
        self.save()
