"""Retraining schedules: the policies' cron expressions, kept in the store and run by
APScheduler.

The store keeps each schedule and when it last ran, so a run missed while the daemon was
down is found at start-up: if the newest missed fire time is within the policy's `grace`,
the schedule runs once now (however many were missed: coalesced), else it waits for its next
time. APScheduler itself keeps its jobs in memory only; its misfire grace covers a daemon
that was busy, not one that was down. A schedule's run is marked before its pipeline starts:
a crash between the two loses that run rather than doubling it.

APScheduler fires on the real clock (its own); what this module decides (which runs were
missed, when a schedule last ran) reads the clock it is given.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from mlopsd.config import ModelConfig
from mlopsd.retraining import policy
from mlopsd.retraining.clock import Clock
from mlopsd.retraining.service import RetrainService
from store import pipelines as pipeline_repo
from store.db import Store

log = logging.getLogger("mlops.retraining")

_PREFIX = "retrain:"
_MAX_COUNTED = 10_000


def schedule_id(model: str, cron: str, dry_run: bool) -> str:
    return f"{model}:{'dry-run:' if dry_run else ''}{cron}"


def wanted(models: dict[str, ModelConfig]) -> list[tuple[str, str, str, bool]]:
    out = []
    for name, m in models.items():
        for cron, dry_run in [*((c, False) for c in m.retrain.schedule),
                              *((c, True) for c in m.retrain.dry_run_schedule)]:
            out.append((schedule_id(name, cron, dry_run), name, cron, dry_run))
    return out


class RetrainSchedules:
    def __init__(self, store: Store, aps: BaseScheduler, service: RetrainService,
                 clock: Clock) -> None:
        self.store, self.aps, self.service, self.clock = store, aps, service, clock

    def sync(self, models: dict[str, ModelConfig]) -> dict[str, list[str]]:
        """Store and schedule what the config says; returns the ids added and removed."""
        added, removed = pipeline_repo.sync_schedules(self.store, wanted(models))
        for job in self.aps.get_jobs():
            if job.id.startswith(_PREFIX):
                job.remove()
        for schedule in pipeline_repo.schedules(self.store):
            m = models.get(schedule.model)
            if m is None:
                continue
            self.aps.add_job(self._fire, policy.cron_trigger(schedule.cron),
                             args=[schedule.id, None], id=_PREFIX + schedule.id,
                             name=f"retrain {schedule.model} ({schedule.cron}"
                                  f"{', dry run' if schedule.dry_run else ''})",
                             misfire_grace_time=max(1, int(policy.duration_s(m.retrain.grace))),
                             coalesce=True, max_instances=1, replace_existing=True)
        return {"added": added, "removed": removed}

    def run_missed(self, models: dict[str, ModelConfig], now: datetime | None = None) -> int:
        """At start-up: each schedule missed within its grace runs once. Returns how many."""
        now = now or self.clock.now()
        ran = 0
        for schedule in pipeline_repo.schedules(self.store):
            m = models.get(schedule.model)
            if m is None:
                continue
            since = schedule.last_run_at or schedule.created_at
            grace = policy.duration_s(m.retrain.grace)
            missed, newest = _missed(policy.cron_trigger(schedule.cron), since, now, grace)
            if newest is None:
                continue
            late = (now - newest).total_seconds()
            if late > grace:
                log.info("schedule %s missed %s run(s), the newest %.0f s ago: beyond its "
                         "grace (%g s), it waits for its next time", schedule.id, missed, late,
                         grace)
                continue
            self._fire(schedule.id, {"missed": missed, "newest_missed_at": newest.isoformat(),
                                     "coalesced": True, "late_s": round(late, 3)})
            ran += 1
        return ran

    def _fire(self, schedule_id: str, missed: dict[str, Any] | None) -> None:
        schedule = next((s for s in pipeline_repo.schedules(self.store) if s.id == schedule_id),
                        None)
        if schedule is None:
            return
        at = self.clock.now()
        pipeline_repo.mark_run(self.store, schedule_id, at)
        detail: dict[str, Any] = {"schedule": schedule_id, "cron": schedule.cron}
        if missed:
            detail["missed_while_down"] = missed
        try:
            self.service.trigger(schedule.model, "schedule", detail, actor="scheduler",
                                 dry_run=schedule.dry_run)
        except Exception:
            log.exception("schedule %s could not start its pipeline", schedule_id)

    def entries(self) -> list[dict[str, Any]]:
        return [self.entry(schedule) for schedule in pipeline_repo.schedules(self.store)]

    def entry(self, schedule: pipeline_repo.Schedule) -> dict[str, Any]:
        """A stored schedule with its next run (APScheduler's)."""
        job = self.aps.get_job(_PREFIX + schedule.id)
        return {"id": schedule.id, "model": schedule.model, "cron": schedule.cron,
                "dry_run": schedule.dry_run, "last_run_at": schedule.last_run_at,
                "next_run_at": job.next_run_time if job else None}


def _missed(trigger: Any, since: datetime, now: datetime, grace_s: float
            ) -> tuple[int, datetime | None]:
    """How many fire times fell in (since, now] (counted up to 10,000), and the newest of
    them: looked for from `now - grace` when that is later, so a long downtime with a
    frequent schedule still finds its newest fire time."""
    count, newest = 0, None
    at = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
    while at is not None and at <= now and count < _MAX_COUNTED:
        count, newest = count + 1, at
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    if at is not None and at <= now:  # counting stopped early: find the newest near now
        recent = max(since, now - timedelta(seconds=grace_s + 1))
        at = trigger.get_next_fire_time(None, recent)
        while at is not None and at <= now:
            newest = at
            at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return count, newest
