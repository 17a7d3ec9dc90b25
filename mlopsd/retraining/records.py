"""The door for pipeline rows: each change of a pipeline — started, held, merged, a step
saved, ended — with its audit entry and its event in one store transaction (an ended
pipeline's alert too). The service and the pipeline runs call these; nothing else writes
the pipelines table."""

from __future__ import annotations

from typing import Any

from mlopsd.client.events import (
    PipelineEnded,
    PipelineHeld,
    PipelineMerged,
    PipelineStarted,
    PipelineStep,
)
from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from store import audit
from store import pipelines as pipeline_repo
from store.db import Store
from store.pipelines import Pipeline


class PipelineRecords:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store, self.bus = store, bus
        self.alerts = Alerts(store, bus)

    def start(self, *, model: str, trigger: str, detail: dict[str, Any], dry_run: bool,
              actor: str) -> Pipeline:
        with self.store.transaction():
            row = pipeline_repo.create(self.store, model=model, trigger=trigger,
                                       detail=detail, dry_run=dry_run, actor=actor)
            self._started(row, actor, {"model": model, "trigger": trigger,
                                       "dry_run": dry_run, **detail}, released=False)
        return row

    def release(self, held_id: int) -> Pipeline | None:
        """A held pipeline starts now; None when it is no longer held."""
        with self.store.transaction():
            row = pipeline_repo.release(self.store, held_id)
            if row is not None:
                self._started(row, "mlopsd", {"model": row.model, "trigger": row.trigger,
                                              "released": True, "dry_run": row.dry_run},
                              released=True)
        return row

    def _started(self, row: Pipeline, actor: str, details: dict[str, Any], *,
                 released: bool) -> None:
        entry = audit.append(self.store, actor=actor, action="pipeline.started",
                             subject=f"pipeline:{row.id}", details=details)
        self.bus.publish(PipelineStarted(pipeline_id=row.id, model=row.model,
                                         trigger=row.trigger, dry_run=row.dry_run,
                                         released=released), audit=entry)

    def merge(self, pipeline_id: int, model: str, trigger: dict[str, Any], *,
              actor: str) -> Pipeline | None:
        """A trigger joins an active pipeline; None when it has ended meanwhile."""
        with self.store.transaction():
            merged = pipeline_repo.merge(self.store, pipeline_id, trigger)
            if merged is not None:
                entry = audit.append(self.store, actor=actor, action="pipeline.merged",
                                     subject=f"pipeline:{pipeline_id}",
                                     details={"trigger": trigger["trigger"],
                                              **(trigger.get("detail") or {})})
                self.bus.publish(PipelineMerged(pipeline_id=pipeline_id, model=model,
                                                trigger=trigger["trigger"]), audit=entry)
        return merged

    def absorb(self, started: Pipeline, held: Pipeline) -> None:
        """A pipeline of the same kind started: the held one's triggers go into it and the
        held one ends `merged` (one transaction)."""
        with self.store.transaction():
            for trigger in [{"trigger": held.trigger, "detail": held.trigger_detail,
                             "actor": held.actor, "at": held.created_at.isoformat()},
                            *held.merged]:
                pipeline_repo.merge(self.store, started.id, trigger)
            self.end(held.id, state="merged", steps=[], challenger=None, champion=None,
                     reason=f"merged into pipeline {started.id}")

    def hold(self, *, model: str, trigger: str, detail: dict[str, Any], dry_run: bool,
             actor: str, why: str) -> Pipeline:
        with self.store.transaction():
            held = pipeline_repo.hold(self.store, model=model, trigger=trigger, detail=detail,
                                      dry_run=dry_run, actor=actor, why=why)
            entry = audit.append(self.store, actor=actor, action="retrain.held",
                                 subject=f"pipeline:{held.id}", reason=why,
                                 details={"model": model, "trigger": trigger, **detail})
            self.bus.publish(PipelineHeld(pipeline_id=held.id, model=model, trigger=trigger,
                                          why=why), audit=entry)
        return held

    def save(self, pipeline_id: int, model: str, *, state: str,
             steps: list[dict[str, Any]], challenger: str | None, champion: str | None,
             reason: str | None) -> Pipeline:
        """A step started, finished or changed: the row and `pipeline.step`."""
        with self.store.transaction():
            row = pipeline_repo.save(self.store, pipeline_id, state=state, steps=steps,
                                     challenger=challenger, champion=champion, reason=reason)
            if row.active:
                last = row.steps[-1] if row.steps else {}
                self.bus.publish(PipelineStep(pipeline_id=pipeline_id, model=model,
                                              state=row.state, step=last.get("step"),
                                              step_state=last.get("state")))
        return row

    def end(self, pipeline_id: int, *, state: str, steps: list[dict[str, Any]],
            challenger: str | None, champion: str | None, reason: str,
            alert: dict[str, Any] | None = None) -> Pipeline:
        """The end, its audit entry, its event and its alert (if any): a crash leaves all
        or none."""
        with self.store.transaction():
            row, ended = pipeline_repo.end(self.store, pipeline_id, state=state, steps=steps,
                                           challenger=challenger, champion=champion,
                                           reason=reason)
            if ended:
                entry = audit.append(self.store, actor="mlopsd", action=f"pipeline.{state}",
                                     subject=f"pipeline:{pipeline_id}", reason=reason,
                                     details={"model": row.model, "challenger": challenger,
                                              "champion": champion})
                self.bus.publish(PipelineEnded(pipeline_id=pipeline_id, model=row.model,
                                               state=state, reason=reason), audit=entry)
                if alert is not None:
                    self.alerts.raise_(**alert)
        return row
