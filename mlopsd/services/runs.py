"""The door for tracked runs (the SDK's runs; trainings record theirs in `training.py`):
each change and its event (`run.started`, `run.metrics`, `run.ended`) in one store
transaction. Whole runs go through the journal, which writes their events when it applies
them. Runs are not audited: they record work, they change nothing that is served or
decided (and a script may make hundreds a second)."""

from __future__ import annotations

from datetime import datetime

from mlopsd.client.events import RunEnded, RunMetrics, RunStarted
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.run_journal import RunJournal
from store import runs as run_repo
from store.db import Store


class Runs:
    def __init__(self, store: Store, bus: EventBus, journal: RunJournal) -> None:
        self.store, self.bus, self.journal = store, bus, journal

    def create(self, new: run_repo.NewRun) -> run_repo.Run:
        """A running run (its first batch with it), or a whole run (journalled)."""
        if new.state != "running":
            return self.journal.append(new)
        with self.store.transaction():
            run = run_repo.create_run_from(self.store, new)
            self.bus.publish(RunStarted(run_id=run.id, experiment=new.experiment,
                                        model=new.model))
            self._metrics(run.id, new.metrics)
        return run

    def log(self, run_id: str, *, params: dict[str, str] | None, tags: dict[str, str] | None,
            metrics: run_repo.MetricColumns, running_only: bool = True) -> int:
        self.journal.sync()
        with self.store.transaction():
            count = run_repo.log_batch(self.store, run_id, params=params, tags=tags,
                                       metrics=metrics, running_only=running_only)
            self._metrics(run_id, metrics)
        return count

    def end(self, run_id: str, state: str, *, error: str | None,
            params: dict[str, str] | None, tags: dict[str, str] | None,
            metrics: run_repo.MetricColumns) -> None:
        self.journal.sync()
        with self.store.transaction():
            run_repo.end_run(self.store, run_id, state, error=error, params=params, tags=tags,
                             metrics=metrics)
            self._metrics(run_id, metrics)
            self.bus.publish(RunEnded(run_id=run_id, state=state))

    def fail_stale(self, older_than: datetime) -> list[str]:
        """Runs that stopped reporting are failed."""
        with self.store.transaction():
            failed = run_repo.fail_stale_runs(self.store, older_than=older_than)
            for run_id in failed:
                self.bus.publish(RunEnded(run_id=run_id, state="failed", stale=True))
        return failed

    def _metrics(self, run_id: str, columns: run_repo.MetricColumns) -> None:
        """The last value per metric of a batch, for live curves."""
        if not columns.keys:
            return
        last: dict[str, tuple[int, float]] = {}
        for key, value, step in zip(columns.keys, columns.values, columns.steps, strict=True):
            last[key] = (step, value)
        self.bus.publish(RunMetrics(
            run_id=run_id, metrics={k: _finite(v) for k, (_, v) in last.items()},
            steps={k: s for k, (s, _) in last.items()}, points=len(columns)))


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None
