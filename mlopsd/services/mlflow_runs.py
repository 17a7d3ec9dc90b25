"""The door for what MLflow's client does to runs beyond ours (`runs.py` does the rest:
create, log): a run made as MLflow's, its state set (MLflow ends, fails, kills and resumes
runs at will), deleted and restored (audited: it hides the run from every search), a
tag removed, its inputs and outputs recorded. Each change and its event in one store
transaction."""

from __future__ import annotations

from datetime import datetime

from mlopsd.client.events import RunDeleted, RunEnded, RunRestored, RunStarted
from mlopsd.runtime.events import EventBus
from mlopsd.services.runs import Runs
from store import audit
from store import mlflow_runs as mlflow_run_repo
from store import runs as run_repo
from store.db import Store


class MlflowRuns:
    def __init__(self, store: Store, bus: EventBus, runs: Runs) -> None:
        self.store, self.bus, self.runs = store, bus, runs

    def create(self, new: run_repo.NewRun) -> run_repo.Run:
        """A running run, marked as MLflow's (never failed for want of a heartbeat)."""
        with self.store.transaction() as cur:
            run = self.runs.create(new)
            mlflow_run_repo.mark_mlflow(cur, run.id)
        return run

    def set_state(self, run_id: str, state: str, *, ended_at: datetime | None) -> None:
        self.runs.journal.sync()
        with self.store.transaction():
            before = mlflow_run_repo.set_state(self.store, run_id, state, ended_at=ended_at)
            if state == "running" and before != "running":
                run = run_repo.get_run(self.store, run_id)
                self.bus.publish(RunStarted(run_id=run_id, experiment=run.experiment,
                                            model=run.model))
            elif state != "running" and before != state:
                self.bus.publish(RunEnded(run_id=run_id, state=state))

    def delete(self, run_id: str, *, actor: str) -> None:
        self._lifecycle(run_id, deleted=True, actor=actor)

    def restore(self, run_id: str, *, actor: str) -> None:
        self._lifecycle(run_id, deleted=False, actor=actor)

    def _lifecycle(self, run_id: str, *, deleted: bool, actor: str) -> None:
        self.runs.journal.sync()
        with self.store.transaction():
            mlflow_run_repo.set_deleted(self.store, run_id, deleted)
            entry = audit.append(self.store, actor=actor,
                                 action="run.delete" if deleted else "run.restore",
                                 subject=f"run:{run_id}")
            payload = (RunDeleted if deleted else RunRestored)(run_id=run_id, actor=actor)
            self.bus.publish(payload, audit=entry)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.runs.journal.sync()
        mlflow_run_repo.delete_tag(self.store, run_id, key)

    def link(self, run_id: str, direction: str, kind: str, bodies: list[object]) -> None:
        """Datasets and models a run logged as inputs (log_inputs) or outputs (log_outputs)."""
        self.runs.journal.sync()
        mlflow_run_repo.add_links(self.store, run_id, direction, kind, bodies)
