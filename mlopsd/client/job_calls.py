"""The client's calls about jobs: kinds, queue, list, show, cancel, logs, wait."""

from __future__ import annotations

import time
from typing import Any

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import JobKindOut, JobLog, JobOut

FINAL_JOB_STATES = ("succeeded", "failed", "interrupted", "cancelled")


class JobCalls(Transport):
    def job_kinds(self) -> list[JobKindOut]:
        return self._many(JobKindOut, "/api/v1/job-kinds")

    def list_jobs(self, *, state: str | None = None, kind: str | None = None,
                  after: str | None = None, limit: int = 100) -> PagedList[JobOut]:
        """Jobs, newest first."""
        return self._page(JobOut, "/api/v1/jobs", {
            "state": state, "kind": kind, "after": after, "limit": limit})

    def get_job(self, job_id: int) -> JobOut:
        return self._one(JobOut, "GET", f"/api/v1/jobs/{job_id}")

    def submit_job(self, kind: str, params: dict[str, Any] | None = None) -> JobOut:
        return self._one(JobOut, "POST", "/api/v1/jobs",
                         json={"kind": kind, "params": params or {}})

    def cancel_job(self, job_id: int, reason: str | None = None) -> JobOut:
        return self._one(JobOut, "POST", f"/api/v1/jobs/{job_id}/cancel",
                         json={"reason": reason})

    def job_log(self, job_id: int, offset: int = 0) -> JobLog:
        return self._one(JobLog, "GET", f"/api/v1/jobs/{job_id}/log",
                         params={"offset": offset})

    def wait_job(self, job_id: int, *, timeout: float = 300.0, poll: float = 0.1) -> JobOut:
        """Block until the job ends; raise TimeoutError (with its state) if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.state in FINAL_JOB_STATES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.state} after {timeout} s")
            time.sleep(poll)
