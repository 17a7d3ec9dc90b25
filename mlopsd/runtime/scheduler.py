"""APScheduler 3.x, started and stopped with the daemon.

The grace time is set on purpose: APScheduler's default of 1 s silently skips runs that
start late (see ../shared/TRAPS.md). Jobs run in its thread pool and only queue work on
the job runner; the work itself runs in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler


@dataclass(frozen=True)
class ScheduledEntry:
    id: str
    name: str
    trigger: str
    next_run_at: datetime | None


class Scheduler:
    def __init__(self, misfire_grace_s: int = 3600) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={
                "misfire_grace_time": misfire_grace_s,
                "coalesce": True,
                "max_instances": 1,
            },
        )

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def entries(self) -> list[ScheduledEntry]:
        return [
            ScheduledEntry(job.id, job.name, str(job.trigger), job.next_run_time)
            for job in self._scheduler.get_jobs()
        ]

    @property
    def aps(self) -> BackgroundScheduler:
        """The underlying scheduler, for the parts of the daemon that add schedules."""
        return self._scheduler
