"""Recording how a job ended, even when the disk is full; queueing again a job the home
would not take the writes of.

A worker that ended while the disk holding the home was full cannot have its end written
(DuckDB cannot grow its log): the ending is kept and written again every second, so the job
ends without a restart once space returns, and its file does not wait in the inbox for one.
A job that failed *because* the home would not take its writes — the disk full, or a folder
of the home refusing writes (read-only, not permitted; home_writes.py) — is queued again
(same id, attempt counted) rather than failed, up to `MAX_REQUEUES` times; meanwhile no new
job starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsd.client.events import (
    JobCancelled,
    JobFailed,
    JobInterrupted,
    JobRequeued,
    JobSucceeded,
)
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.home_writes import HomeWrites
from store import jobs as job_repo
from store.db import Store
from store.errors import DiskFull, is_disk_full
from store.jobs import Job

log = logging.getLogger("mlops.runner")

MAX_REQUEUES = 3
"""A job the home refused the writes of runs again at most this many times, then fails."""
REQUEUE = "requeue"
ENDED = {"succeeded": JobSucceeded, "failed": JobFailed, "interrupted": JobInterrupted,
         "cancelled": JobCancelled}


@dataclass
class Ending:
    job: Job
    state: str
    """succeeded, failed, interrupted, cancelled, or REQUEUE (the home refused its writes)."""
    error: str | None
    result: Any
    usage: dict[str, float] = field(default_factory=dict)
    completed: bool = False
    """The kind's completion has turned the result into store state (never run twice)."""
    refused_by: Path | None = None
    """For REQUEUE: the folder of the home that refused the job's write (None: the disk was
    full)."""


@dataclass
class Endings:
    store: Store
    bus: EventBus
    home: HomeWrites
    completions: dict[str, Callable[[Job, Any], Any]]
    finished_hooks: list[Callable[[Job], None]]
    kept: list[Ending] = field(default_factory=list)
    requeues: dict[int, int] = field(default_factory=dict)

    def ended(self, ending: Ending) -> None:
        """Record an ending now, or keep it for later if the disk is full."""
        if ending.state == "failed":
            full = is_disk_full(ending.error)
            refused_by = None if full else self.home.refusing_folder(ending.error)
            count = self.requeues.get(ending.job.id, 0)
            if (full or refused_by is not None) and count < MAX_REQUEUES:
                self.requeues[ending.job.id] = count + 1
                ending.state, ending.refused_by = REQUEUE, refused_by
        try:
            self._record(ending)
        except DiskFull as exc:
            self._keep(ending, exc)

    def retry(self) -> None:
        """Write the endings kept while the disk was full (the dispatcher calls this each
        turn); stop at the first that still cannot be written."""
        while self.kept:
            try:
                self._record(self.kept[0])
            except DiskFull:
                return
            ending = self.kept.pop(0)
            log.warning("space is back: recorded the end of job %s (%s)", ending.job.id,
                        ending.state)

    def paused(self) -> bool:
        """Whether new jobs wait: endings are kept, or the home does not take writes yet."""
        if self.kept:
            return True
        return self.home.waiting()

    def claim_failed(self, exc: BaseException) -> bool:
        """A job could not be claimed: True (and jobs pause) when the disk is full."""
        if isinstance(exc, DiskFull) or is_disk_full(exc):
            if not self.home.disk_full:
                log.error("the disk holding the home is full: no job starts until space "
                          "returns (%s)", exc)
            self.home.disk_full = True
            return True
        return False

    def _keep(self, ending: Ending, exc: DiskFull) -> None:
        self.kept.append(ending)
        self.home.disk_full = True
        log.error("the end of job %s (%s) cannot be recorded: %s; kept, and written as soon "
                  "as there is space", ending.job.id, ending.state, exc)

    def _record(self, ending: Ending) -> None:
        job = ending.job
        if ending.state == REQUEUE:
            folder = ending.refused_by
            why = "the disk was full" if folder is None else f"{folder} could not be written"
            with self.store.transaction():
                job_repo.requeue(self.store, job.id,
                                 error=f"queued again: {why} ({ending.error})")
                self.bus.publish(JobRequeued(job_id=job.id, kind=job.kind, error=ending.error))
            if folder is None:
                self.home.disk_full = True
                log.warning("job %s (%s) ran out of disk space; it runs again once space "
                            "returns", job.id, job.kind)
            else:
                log.warning("job %s (%s) could not write to %s; it runs again once it can",
                            job.id, job.kind, folder)
                self.home.refused(folder, ending.error or "")
            return
        if ending.state == "succeeded" and not ending.completed:
            complete = self.completions.get(job.kind)
            if complete is not None:
                try:
                    ending.result = complete(job, ending.result)
                except DiskFull:
                    raise
                except Exception as exc:
                    log.exception("recording the result of job %s failed", job.id)
                    ending.state, ending.result = "failed", None
                    ending.error = f"recording the result failed: {exc}"
            ending.completed = True
        with self.store.transaction():
            finished = job_repo.finish_job(
                self.store, job.id, ending.state, error=ending.error, result=ending.result,
                cpu_s=ending.usage.get("cpu_s"), max_rss_mb=ending.usage.get("max_rss_mb"))
            self.bus.publish(ENDED[ending.state](job_id=job.id, kind=job.kind,
                                                 error=ending.error))
        self.requeues.pop(job.id, None)
        log.log(logging.INFO if ending.state == "succeeded" else logging.WARNING,
                "job %s (%s) %s%s", job.id, job.kind, ending.state,
                f": {ending.error}" if ending.error else "")
        for hook in self.finished_hooks:
            try:
                hook(finished)
            except Exception:
                log.exception("handler for the end of job %s failed", job.id)
