"""The job runner: a durable queue in the store, worker processes, results written back.

Each job gets a process of its own (worker_processes.py: forked from a forkserver that has
the heavy libraries loaded): one job crashing (segfault, OOM kill) cannot take others
down, cancelling is terminating a process, and the kernel tells us how a worker died. One
dispatcher thread owns all worker handles; everything else talks to it through the store
and a wake pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobs.context import InvalidParams
from jobs.paths import confine_params
from jobs.registry import KINDS
from mlopsd.client.events import (
    JobCancelled,
    JobCancelling,
    JobFailed,
    JobInterrupted,
    JobQueued,
    JobStarted,
    UnknownEvent,
    payload_of,
)
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.home_writes import HomeWrites
from mlopsd.runtime.job_endings import Ending, Endings
from mlopsd.runtime.worker_processes import WorkerProcesses, death_reason
from store import audit
from store import jobs as job_repo
from store.db import Store
from store.errors import Conflict, DiskFull
from store.jobs import Job

log = logging.getLogger("mlops.runner")

class UnknownJobKind(Exception):
    def __init__(self, kind: str, known: list[str] | None = None) -> None:
        names = ", ".join(known if known is not None else sorted(KINDS))
        super().__init__(f"unknown job kind {str(kind)[:100]!r} (known: {names})")


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    conn: Connection
    outcome: tuple[str, Any] | None = None
    usage: dict[str, float] | None = None
    cancelled_by: str | None = None
    kill_at: float | None = None


@dataclass
class JobRunner:
    store: Store
    bus: EventBus
    job_logs: Path
    artifacts_root: Path
    home_root: Path
    """Every path a job is given must resolve inside it."""
    workers: int
    completions: dict[str, Callable[[Job, Any], Any]] = field(default_factory=dict)
    """Per kind: turns a worker's result into store state before the job counts as done;
    what it returns is kept as the job's result, and if it raises the job fails."""
    finished_hooks: list[Callable[[Job], None]] = field(default_factory=list)
    """Called once a job's end is committed, whatever its end: succeeded, failed, cancelled
    (also while queued), interrupted by a stop (a crash's are left to each service's start,
    as the hooks were not heard)."""
    preparers: dict[str, Callable[[Job], dict[str, Any]]] = field(default_factory=dict)
    """Per kind: the params the worker gets, built from the store when the job starts (not
    when it was queued), so it sees everything committed before it."""
    exclusive: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    """Per kind: a key; two jobs with the same key never run at once (one ingest per
    dataset, one training per model), so each sees what the one before it committed."""
    crash_hints: dict[str, str] = field(default_factory=dict)
    """Per kind: what a worker that died without a result most likely means."""
    home_writes: HomeWrites = field(init=False)
    """Whether the home takes jobs' writes (no job starts while it does not); services
    listen to it."""
    _workers: WorkerProcesses = field(init=False)
    _endings: Endings = field(init=False)
    _running: dict[int, _Running] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: bool = False
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.home_writes = HomeWrites(self.home_root)
        self._endings = Endings(self.store, self.bus, self.home_writes, self.completions,
                                self.finished_hooks)
        self._workers = WorkerProcesses()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # --- life cycle -------------------------------------------------------------------

    def recover(self) -> list[Job]:
        """Jobs a crash left running become interrupted; idempotent ones are queued again
        (one transaction, with their events)."""
        requeued = []
        reason = "interrupted: the daemon stopped while this job ran"
        with self.store.transaction():
            for job in job_repo.interrupt_running(self.store, reason):
                self.bus.publish(JobInterrupted(job_id=job.id, kind=job.kind, error=reason))
                if not job.idempotent:
                    log.warning("job %s (%s) was interrupted and is not retried", job.id,
                                job.kind)
                    continue
                retry = job_repo.create_job(
                    self.store,
                    job.kind,
                    job.params,
                    idempotent=True,
                    actor="mlopsd:recovery",
                    retry_of=job.id,
                    attempt=job.attempt + 1,
                )
                log.info("job %s was interrupted; queued again as job %s", job.id, retry.id)
                self.bus.publish(JobQueued(job_id=retry.id, kind=retry.kind,
                                           actor=retry.actor, **about(retry.params),
                                           retry_of=job.id))
                requeued.append(retry)
        return requeued

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def stop(self, grace_s: float) -> None:
        """Stop dispatching; give running jobs `grace_s` to finish, then interrupt them."""
        self._stopping = True
        self._wake()
        deadline = time.monotonic() + grace_s
        while self._running_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            for entry in self._running.values():
                if entry.process.is_alive():
                    entry.process.kill()
        if self._thread:
            self._thread.join(timeout=10)

    # --- requests from other threads -----------------------------------------------------

    def submit(self, kind: str, params: dict[str, Any], *, actor: str) -> Job:
        """Queue a job: its row, the audit entry and `job.queued` in one transaction (the
        caller's, if it has one open)."""
        spec = KINDS.get(kind)
        if spec is None:
            raise UnknownJobKind(kind)
        checked = spec.check_params(dict(params))
        confine_params(self.home_root, checked, spec.path_params)
        with self.store.transaction():
            job = job_repo.create_job(
                self.store, kind, checked, idempotent=spec.idempotent, actor=actor
            )
            entry = audit.append(
                self.store, actor=actor, action="job.submit", subject=f"job:{job.id}",
                details={"kind": kind, "params": checked},
            )
            self.bus.publish(JobQueued(job_id=job.id, kind=kind, actor=actor,
                                       **about(checked)), audit=entry)
        self._wake()
        return job

    def cancel(self, job_id: int, *, actor: str, reason: str | None = None) -> Job:
        """Cancel a queued job at once (its end, audit entry and event in one transaction),
        or ask a running one's worker to stop (audited, `job.cancelling`; `job.cancelled`
        follows when it has ended)."""
        job = job_repo.get_job(self.store, job_id)
        message = f"cancelled by {actor}" + (f": {reason}" if reason else "")
        if self._stop_running(job, actor, reason, message):
            return job
        if job.state != "queued":
            raise Conflict(f"job {job_id} is already {job.state}")
        try:
            with self.store.transaction():
                cancelled = job_repo.finish_job(self.store, job_id, "cancelled",
                                                error=message)
                entry = audit.append(self.store, actor=actor, action="job.cancel",
                                     subject=f"job:{job_id}", reason=reason)
                self.bus.publish(JobCancelled(job_id=job_id, kind=job.kind, error=message),
                                 audit=entry)
        except Conflict:
            # It was claimed between our read and our update: cancel the live process.
            if not self._stop_running(job, actor, reason, message):
                raise
            return job_repo.get_job(self.store, job_id)
        self._ended(cancelled)
        return cancelled

    def _ended(self, job: Job) -> None:
        """The finished hooks of a job that ended without a worker (cancelled while queued,
        or its preparation failed), as `Endings` calls them for one that ran: each kind's
        leftovers (an upload, a reservation, a waiter) go whatever the end."""
        for hook in self.finished_hooks:
            try:
                hook(job)
            except Exception:
                log.exception("handler for the end of job %s failed", job.id)

    def _stop_running(self, job: Job, actor: str, reason: str | None, message: str) -> bool:
        with self._lock:
            entry = self._running.get(job.id)
            if entry is None:
                return False
            with self.store.transaction():
                audited = audit.append(self.store, actor=actor, action="job.cancel",
                                       subject=f"job:{job.id}", reason=reason)
                self.bus.publish(JobCancelling(job_id=job.id, kind=job.kind, by=actor),
                                 audit=audited)
            entry.cancelled_by = message
            entry.process.terminate()
            entry.kill_at = time.monotonic() + 5
            return True

    def running_jobs(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def warm_up(self) -> None:
        """Start the forkserver now, so the first job does not pay for its imports."""
        self._workers.warm_up()

    # --- the dispatcher thread -----------------------------------------------------------

    def _wake(self) -> None:
        # BlockingIOError: the pipe is full, so a wake-up is already pending.
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")

    def _running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def _loop(self) -> None:
        while True:
            self._endings.retry()
            if not self._stopping and not self._endings.paused():
                try:
                    self._fill_slots()
                except Exception as exc:
                    if not self._endings.claim_failed(exc):
                        log.exception("could not start a job; retrying shortly")
            with self._lock:
                entries = list(self._running.values())
            if self._stopping and not entries:
                return
            waitables: list[Any] = [self._wake_r]
            for entry in entries:
                waitables.append(entry.conn)
                waitables.append(entry.process.sentinel)
            ready = wait(waitables, timeout=1.0)
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            for entry in entries:
                if entry.conn in ready:
                    self._drain(entry)
                if entry.process.sentinel in ready:
                    self._finish(entry)
                elif entry.kill_at and time.monotonic() > entry.kill_at:
                    entry.process.kill()

    def _key(self, job: Job) -> str | None:
        key_of = self.exclusive.get(job.kind)
        return f"{job.kind}:{key_of(job.params)}" if key_of else None

    def _fill_slots(self) -> None:
        while self._running_count() < self.workers and not self._stopping:
            with self._lock:
                busy = {self._key(e.job) for e in self._running.values()} - {None}
            job = job_repo.claim_next_queued(
                self.store, lambda j, busy=busy: self._key(j) not in busy)
            if job is None:
                return
            prepare = self.preparers.get(job.kind)
            if prepare is not None:
                try:
                    job = job_repo.set_params(self.store, job.id, prepare(job))
                except Exception as exc:
                    log.exception("preparing job %s failed", job.id)
                    with self.store.transaction():
                        failed = job_repo.finish_job(self.store, job.id, "failed",
                                                     error=f"preparing the job failed: {exc}")
                        self.bus.publish(JobFailed(job_id=job.id, kind=job.kind,
                                                   error=failed.error))
                    self._ended(failed)
                    continue
            self._launch(job)

    def _launch(self, job: Job) -> None:
        log_path = self.job_logs / f"{job.id}.log"
        try:
            process, parent_conn = self._workers.start(
                job.id, job.kind, job.params, log_path, self.artifacts_root, self.home_root)
        except Exception as exc:
            error = f"could not start a worker process: {exc}"
            with self.store.transaction():
                job_repo.finish_job(self.store, job.id, "failed", error=error)
                self.bus.publish(JobFailed(job_id=job.id, kind=job.kind, error=error))
            return
        with self._lock:
            self._running[job.id] = _Running(job, process, parent_conn)
        with self.store.transaction():
            job_repo.set_worker(self.store, job.id, process.pid or 0, str(log_path))
            self.bus.publish(JobStarted(job_id=job.id, kind=job.kind, pid=process.pid or 0))
        log.info("job %s (%s) started in worker pid %s", job.id, job.kind, process.pid)

    def _drain(self, entry: _Running) -> None:
        try:
            while entry.conn.poll(0):
                message = entry.conn.recv()
                if message[0] == "event":
                    self._relay(entry.job, message[1], message[2])
                elif message[0] == "usage":
                    entry.usage = message[1]
                else:
                    entry.outcome = (message[0], message[1])
        except (EOFError, OSError):
            pass

    def _relay(self, job: Job, name: str, data: dict[str, Any]) -> None:
        """A worker's progress event, checked against the catalogue (a worker cannot put
        an event on the stream that clients could not read)."""
        try:
            payload = payload_of(name, data)
        except (UnknownEvent, ValidationError) as exc:
            log.warning("job %s sent an event the catalogue refuses; dropped: %s", job.id,
                        exc)
            return
        with contextlib.suppress(DiskFull):  # telemetry: with the disk full it is not kept
            self.bus.publish(payload)

    def _finish(self, entry: _Running) -> None:
        self._drain(entry)
        entry.process.join(timeout=5)
        entry.conn.close()
        job, code = entry.job, entry.process.exitcode
        if entry.cancelled_by:
            state, error, result = "cancelled", entry.cancelled_by, None
        elif entry.outcome and entry.outcome[0] == "result":
            state, error, result = "succeeded", None, entry.outcome[1]
        elif entry.outcome and entry.outcome[0] == "error":
            state, error, result = "failed", entry.outcome[1], None
        elif self._stopping:
            state, error, result = "interrupted", "interrupted: the daemon was stopped", None
        else:
            hint = self.crash_hints.get(job.kind)
            state, result = "failed", None
            error = death_reason(code) + (f": {hint}" if hint else "")
        with self._lock:
            self._running.pop(job.id, None)
        self._endings.ended(Ending(job, state, error, result, entry.usage or {}))


def about(params: dict[str, Any]) -> dict[str, str]:
    """What a job is about, for its `job.queued`: its model, else its dataset (as audit
    subjects say it), and the file it reads."""
    found = {}
    for key in ("model", "dataset"):
        if isinstance(params.get(key), str):
            found["subject"] = f"{key}:{params[key]}"
            break
    for key in ("path", "source"):
        if isinstance(params.get(key), str):
            found["file"] = Path(params[key]).name
            break
    return found


__all__ = ["InvalidParams", "JobRunner", "UnknownJobKind"]
