"""Batch scoring: files dropped in score/<model>/ (or sent with `mlops score`) are scored by
the model's production version (or a version asked for) as a job, into
outbox/<model>/<name>.predictions.parquet.

A file being scored waits in score/<model>/.processing/; when its job succeeds it moves to
.done/, and when it fails to .quarantine/ with a reason file beside it: nothing is lost,
and a restart finds every file where its state says it is (a file in .processing/ without
a queued or running job is submitted again).
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson

from mlopsd.client.events import ScoreDone, ScoreFailed
from mlopsd.config import Config
from mlopsd.home import Home
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import move_into, quarantine_file
from mlopsd.runtime.runner import InvalidParams, JobRunner
from mlopsd.runtime.watcher import InboxWatcher
from mlopsd.services.errors import ServiceError
from mlopsd.services.model_names import ModelNames
from mlopsd.serving.loaded import LoadedModel, LoadError
from mlopsd.serving.served import NotServed, ServedModels
from store import audit
from store import jobs as job_repo
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.scoring")

PROCESSING, DONE, QUARANTINE = ".processing", ".done", ".quarantine"


class ScoreError(ServiceError):
    pass


class ScoringService:
    def __init__(self, home: Home, config: Config, store: Store, runner: JobRunner,
                 served: ServedModels, bus: EventBus, model_names: ModelNames) -> None:
        self.home, self.store, self.runner, self.served, self.bus = (
            home, store, runner, served, bus)
        self.model_names = model_names
        self.watcher = InboxWatcher(home.score, self.file_ready,
                                    settle_s=config.ingest.settle_s,
                                    polling=config.ingest.polling)
        self._reserved: set[Path] = set()
        self._lock = threading.Lock()
        runner.completions["score"] = self._complete
        runner.finished_hooks.append(self._finished)
        served.switch_hooks.append(self._drop_folder)

    def start(self) -> None:
        for name in self.served.served():
            self._drop_folder(name)
        for state in ("queued", "running"):
            for job in job_repo.list_jobs(self.store, state=state, kind="score", limit=10_000):
                self._reserved.add(Path(job.params["output"]))
        self._resubmit_orphans()
        self.watcher.start()
        self.watcher.scan()

    def stop(self) -> None:
        self.watcher.stop()

    def _drop_folder(self, model: str) -> None:
        """score/<model>/ as soon as the model serves: the folder says where to drop files
        (it is watched already: the watcher follows new folders under score/)."""
        try:
            (self.home.score / model).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.error("cannot make the drop folder for %s: %s", model, exc)

    # --- submitting -----------------------------------------------------------------------

    def file_ready(self, path: Path) -> None:
        """A file settled in score/<model>/."""
        model = path.parent.name
        try:
            self.submit(model, path, actor="watcher")
        except ServiceError as exc:  # ScoreError, or UnknownModel for a misspelled folder
            log.warning("cannot score %s: %s", path, exc.message)
            self._quarantine(path, model, exc.message, job_id=None)

    def scorer(self, model: str, version: str | None = None) -> LoadedModel:
        """The version that would score a file for `model` (or ScoreError)."""
        try:
            return (self.served.live(model) if version is None
                    else self.served.version(model, version))
        except (NotServed, NotFound) as exc:
            self.model_names.check(model)  # a misspelled name: the one message for it
            raise ScoreError(404, str(exc), "version" if version else "model") from None
        except LoadError as exc:
            raise ScoreError(409, str(exc), "version") from None

    def submit(self, model: str, path: Path, *, actor: str, version: str | None = None,
               keep: list[str] | None = None) -> Job:
        """Score `path` (moved into .processing/ first unless it is there already)."""
        if path.is_symlink():
            # A link could point anywhere on the machine: never followed, kept as it is.
            raise ScoreError(422, f"{path.name} is a symbolic link; symlinks are not followed: "
                             "drop the file itself", "file")
        loaded = self.scorer(model, version)
        folder = self.home.score / model
        if path.parent.name != PROCESSING:
            path = move_into(path, folder / PROCESSING)
        outbox = self.home.outbox / model
        outbox.mkdir(parents=True, exist_ok=True)
        with self._lock:
            stem, n = _stem(path.name), 0
            output = outbox / f"{stem}.predictions.parquet"
            while output in self._reserved or output.exists():
                n += 1
                output = outbox / f"{stem}-{n}.predictions.parquet"
            self._reserved.add(output)
        try:
            with self.store.transaction():  # the job, its job.queued and both audit entries
                job = self.runner.submit("score", {
                    "model": model, "version": loaded.version, "sha": loaded.sha,
                    "signature": loaded.signature, "source": str(path), "output": str(output),
                    "keep": keep or []}, actor=actor)
                audit.append(self.store, actor=actor, action="model.score",
                             subject=f"model:{model}",
                             details={"job_id": job.id, "file": path.name,
                                      "version": loaded.version})
        except InvalidParams as exc:
            with self._lock:
                self._reserved.discard(output)
            raise ScoreError(422, str(exc), "file") from None
        return job

    def _resubmit_orphans(self) -> None:
        """After a stop or a crash: files in .processing/ with no queued or running job are
        submitted again; what a killed job or upload left half-written is removed (a
        partial upload was never acknowledged; a job's parts are rebuilt by its retry)."""
        waiting = {j.params.get("source") for state in ("queued", "running")
                   for j in job_repo.list_jobs(self.store, state=state, kind="score",
                                               limit=10_000)}
        for leftover in [*self.home.outbox.glob("*/.score-*"),
                         *self.home.outbox.glob("*/.*.tmp")]:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        root = self.home.score
        if not root.is_dir():
            return
        for path in sorted(root.glob(f"*/{PROCESSING}/*")):
            if path.name.startswith(".") or not path.is_file():
                path.unlink(missing_ok=True)  # a partial upload
                continue
            if str(path) in waiting:
                continue
            model = path.parent.parent.name
            log.info("%s was being scored when the daemon stopped: submitting it again", path)
            try:
                self.submit(model, path, actor="mlopsd:recovery")
            except ServiceError as exc:
                self._quarantine(path, model, exc.message, job_id=None)

    # --- outcomes -------------------------------------------------------------------------

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        source = Path(job.params["source"])
        done = move_into(source, source.parent.parent / DONE) if source.exists() else None
        with self._lock:
            self._reserved.discard(Path(job.params["output"]))
        self.bus.publish(ScoreDone(model=job.params["model"], job_id=job.id,
                                   rows=result["rows"], output=result["output"]))
        return {**result, "source": str(done) if done else None}

    def _finished(self, job: Job) -> None:
        if job.kind != "score" or job.state == "succeeded":
            return
        with self._lock:
            self._reserved.discard(Path(job.params["output"]))
        source = Path(job.params["source"])
        if job.state == "interrupted" or not source.exists():
            # A crash's interrupted job is queued again at the next start; a clean stop's
            # is resubmitted from .processing/ then. Either way it still needs its file.
            return
        self._quarantine(source, job.params["model"], job.error or job.state, job_id=job.id)

    def _quarantine(self, path: Path, model: str, reason: str, job_id: int | None) -> None:
        where = quarantine_file(path, self.home.score / model / QUARANTINE, orjson.dumps(
            {"file": path.name, "model": model, "job_id": job_id, "reason": reason},
            option=orjson.OPT_INDENT_2))
        self.bus.publish(ScoreFailed(model=model, job_id=job_id, file=path.name,
                                     reason=reason, kept_at=str(where)))


def _stem(name: str) -> str:
    for suffix in (".csv", ".tsv", ".parquet", ".pq", ".ndjson", ".jsonl"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
