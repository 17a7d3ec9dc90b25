"""Label files: ground truth dropped beside the data, in inbox/<dataset>/*.labels.<ext>.

The dataset must declare an `id_column` and a `target`; job `labels` reads the file in a
worker, and the daemon stores (id, label) pairs, joined at query time to predictions that
were logged with that id among their inputs. A file that cannot be used is quarantined with
its reason, like any rejected drop.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mlopsd.client.events import LabelsRejected, LabelsStored
from mlopsd.config import Config
from mlopsd.home import Home
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import quarantine_file
from mlopsd.runtime.runner import JobRunner
from mlopsd.services.done_moves import DoneMoves
from store import data as data_repo
from store import predictions as prediction_repo
from store.db import Store
from store.jobs import Job

log = logging.getLogger("mlops.labels")

_SUFFIXES = (".labels.csv", ".labels.parquet", ".labels.ndjson", ".labels.jsonl")


def is_label_file(name: str) -> bool:
    return name.lower().endswith(_SUFFIXES)


class LabelService:
    def __init__(self, home: Home, config: Config, store: Store, runner: JobRunner,
                 bus: EventBus) -> None:
        self.home, self.config, self.store, self.runner, self.bus = (
            home, config, store, runner, bus)
        self._in_flight: set[Path] = set()
        self._lock = threading.Lock()
        # the ingest service shares its own at start-up: its file_ready retries parked moves
        self.done = DoneMoves(home.inbox, store, bus)
        runner.completions["labels"] = self._complete
        runner.finished_hooks.append(self._finished)

    def file_ready(self, path: Path, *, actor: str = "watcher") -> Job | None:
        dataset = path.parent.name
        declared = self.config.datasets().get(dataset)
        if path.is_symlink():
            # A link could point anywhere on the machine: never followed, kept as it is.
            self._quarantine(path, dataset, None, f"{path.name} is a symbolic link; symlinks "
                             "are not followed: drop the file itself")
            return None
        if declared is None or not declared.id_column or not declared.target:
            self._quarantine(path, dataset, None,
                             f"{path.name} is a label file, but dataset {dataset!r} declares no"
                             " id_column and target in mlops.toml to join labels on")
            return None
        with self._lock:
            if path in self._in_flight:
                return None
            self._in_flight.add(path)
        job = self.runner.submit("labels", {"path": str(path), "dataset": dataset,
                                            "id_column": declared.id_column,
                                            "target": declared.target}, actor=actor)
        return job

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        path, dataset = Path(job.params["path"]), job.params["dataset"]
        with self.store.transaction():
            stored = prediction_repo.add_entity_labels(self.store, dataset, result["ids"],
                                                       result["labels"], source=path.name)
            self.bus.publish(LabelsStored(dataset=dataset, file=path.name, rows=stored,
                                          job_id=job.id))
        self.done.move(path, dataset, f"{stored} labels of {dataset}")
        return {"dataset": dataset, "file": path.name, "rows": stored,
                "skipped": result["skipped"]}

    def _finished(self, job: Job) -> None:
        if job.kind != "labels":
            return
        path = Path(job.params["path"])
        with self._lock:
            self._in_flight.discard(path)
        if job.state in ("failed", "cancelled") and path.exists():
            self._quarantine(path, job.params["dataset"], job.id, job.error or job.state)

    def _quarantine(self, path: Path, dataset: str, job_id: int | None, reason: str) -> None:
        """Kept like any rejected drop: listed by `mlops data quarantine`, requeueable."""
        received = datetime.now(UTC)
        errors = [{"level": "error", "check": "label_file", "message": reason}]
        where = quarantine_file(path, self.home.quarantine / dataset, orjson.dumps(
            {"file": path.name, "dataset": dataset, "job_id": job_id, "errors": errors,
             "received_at": received.isoformat()}, option=orjson.OPT_INDENT_2))
        with self.store.transaction():
            if data_repo.find_dataset(self.store, dataset) is not None:
                data_repo.record_ingest(self.store, dataset, path.name, "rejected",
                                        received_at=received, job_id=job_id,
                                        quarantine_path=str(where), issues=errors)
            self.bus.publish(LabelsRejected(dataset=dataset, file=path.name, reason=reason,
                                            kept_at=str(where), job_id=job_id))
        log.warning("label file %s quarantined: %s", path.name, reason)
