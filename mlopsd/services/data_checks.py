"""`mlops check data FILE --dataset NAME`: a file checked against the dataset's contract and
learned rules exactly as an ingest checks it, with nothing stored.

The file arrives as an upload (the daemon never reads a path a client names): its bytes go
to a folder of its own under `HOME/run/checks/`, a job `check_data` runs the ingest's own
steps on it in a worker (`jobs/ingest/check.py`) with what an ingest of the dataset would
be told now (its schema and rules, `IngestService.spec_of`, and the reference of learned
rules), and the folder is removed when the job ends. No data version, no snapshot, no
quarantine, no alert, no `.done/` move: the job's submission is its audit entry, its
result the report.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlopsd.home import Home
from mlopsd.runtime.runner import InvalidParams, JobRunner
from mlopsd.services.errors import ServiceError
from mlopsd.services.ingest import IngestService
from store import data as data_repo
from store import jobs as job_repo
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.checks")

KIND = "check_data"


class DataCheckError(ServiceError):
    pass


class DataChecks:
    def __init__(self, home: Home, store: Store, runner: JobRunner,
                 ingest: IngestService) -> None:
        self.home, self.store, self.runner, self.ingest = home, store, runner, ingest
        self.root = home.run / "checks"
        runner.preparers[KIND] = self._prepare
        runner.finished_hooks.append(self._finished)

    def start(self) -> None:
        """Remove what checks cut off by a stop or a crash left (a job that was running is
        not run again; one still queued keeps its file and runs)."""
        self.root.mkdir(parents=True, exist_ok=True)
        waiting = {self._folder_of(job) for job in job_repo.list_jobs(
            self.store, state="queued", kind=KIND, limit=10_000)}
        for leftover in self.root.iterdir():
            if leftover not in waiting:
                shutil.rmtree(leftover, ignore_errors=True)

    def dataset(self, name: str) -> data_repo.Dataset:
        """The dataset a file is checked against (a 404 naming the known ones)."""
        try:
            return data_repo.get_dataset(self.store, name)
        except NotFound:
            known = ", ".join(d.dataset.name for d in data_repo.page_datasets(
                self.store, after=None, limit=50).items) or "none yet"
            raise DataCheckError(404, f"no dataset named {name!r} (known: {known}); a check "
                                 "needs the dataset's contract", "name") from None

    def folder(self) -> Path:
        """A private folder for one upload (removed with the job, or by `start`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix="check-"))

    def discard(self, folder: Path) -> None:
        if folder.parent == self.root:
            shutil.rmtree(folder, ignore_errors=True)

    def submit(self, dataset: str, path: Path, *, actor: str) -> Job:
        """Queue the check of an uploaded file (in a folder from `folder`)."""
        self.dataset(dataset)
        limits = self.ingest.config.ingest
        try:
            return self.runner.submit(KIND, {
                "dataset": dataset, "path": str(path),
                "limits": {"max_decompressed_mb": limits.max_decompressed_mb,
                           "max_compression_ratio": limits.max_compression_ratio}},
                actor=actor)
        except InvalidParams as exc:
            self.discard(path.parent)
            raise DataCheckError(422, str(exc), "filename") from None

    def _prepare(self, job: Job) -> dict[str, Any]:
        """At the job's start, what an ingest of the dataset would be told now. No known
        hashes: a file already stored is checked all the same."""
        ds_row = data_repo.get_dataset(self.store, job.params["dataset"])
        return {**job.params, "spec": self.ingest.spec_of(ds_row),
                "reference": self.ingest.references.for_dataset(ds_row, self.ingest.config),
                "known_hashes": {}}

    def _folder_of(self, job: Job) -> Path:
        return Path(job.params["path"]).parent

    def _finished(self, job: Job) -> None:
        if job.kind == KIND:
            self.discard(self._folder_of(job))
