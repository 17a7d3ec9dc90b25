"""File-drop ingestion, the daemon's side: from "a file is complete" to a committed data
version, a duplicate record, or a quarantined file with its reason.

The worker (`jobs.ingest`) reads, validates, profiles and snapshots; this module decides
which dataset a file belongs to, what the worker is told (schema, rules, the reference
profile, the hashes already stored), and afterwards writes the outcome in one store
transaction and only then moves the original. A crash between the two leaves the file in
the inbox; its next ingest finds the content already stored and records a duplicate, so a
file is never lost and never stored twice. A move that fails (`.done/` blocked) leaves the
file in the inbox, parked (`mlopsd.services.done_moves`), never also quarantined. A folder inside an
inbox is quarantined with its reason: only files directly in `inbox/<dataset>/` are read.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlopsd.client.events import (
    DatasetCreated,
    IngestChanged,
    IngestCommitted,
    IngestDuplicate,
    IngestRequeued,
)
from mlopsd.config import DATASET_NAME, Config, DatasetConfig
from mlopsd.home import Home
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import move_into, reason_path_of
from mlopsd.runtime.runner import InvalidParams, JobRunner
from mlopsd.runtime.watcher import FileIdentity, InboxWatcher
from mlopsd.services.done_moves import DoneMoves
from mlopsd.services.inbox_recovery import recover
from mlopsd.services.ingest_outcomes import IngestOutcomes
from mlopsd.services.ingest_reference import ReferenceProfiles
from mlopsd.services.labels import LabelService, is_label_file
from store import audit, ingest_records
from store import data as data_repo
from store import jobs as job_repo
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.ingest")


@dataclass
class _InFlight:
    identity: FileIdentity
    job_id: int
    recheck: bool = False


class IngestService:
    def __init__(
        self, home: Home, config: Config, store: Store, runner: JobRunner, bus: EventBus
    ) -> None:
        self.home, self.config, self.store, self.runner, self.bus = (
            home, config, store, runner, bus)
        self.declared = config.datasets()
        self._lock = threading.Lock()
        self._in_flight: dict[Path, _InFlight] = {}
        self._failures: dict[FileIdentity, int] = {}
        self.outcomes = IngestOutcomes(home.quarantine, store, bus)
        self.done = DoneMoves(home.inbox, store, bus)
        self.references = ReferenceProfiles(store)
        self.watcher = InboxWatcher(
            home.inbox, self.file_ready, settle_s=config.ingest.settle_s,
            polling=config.ingest.polling, on_folder=self.folder_ready,
        )
        self.labels: LabelService | None = None
        runner.completions["ingest"] = self._complete
        runner.finished_hooks.append(self._finished)
        runner.preparers["ingest"] = self._prepare
        runner.exclusive["ingest"] = lambda params: params["dataset"]

    # --- start-up ----------------------------------------------------------------------

    def recover_files(self) -> None:
        """What a crash left in the inbox and quarantine, put right before the runner starts:
        a job queued again after a kill must find its file's quarantine recorded."""
        recover(self.home.inbox, self.home.quarantine, self.store, self.bus)

    def start(self) -> None:
        for ds in self.declared.values():
            self._ensure(ds.name, by="mlops.toml")
            (self.home.inbox / ds.name).mkdir(parents=True, exist_ok=True)
        if self.labels is not None:
            self.labels.done = self.done
        # Ingests queued before a crash run again; the scan must not queue them twice. The
        # runner starts first and may have taken some already, so running ones count too
        # (queued first: one that starts between the two reads is in the second). Under the
        # lock: a job that ends meanwhile is either not listed (its state is written before
        # its finished hook runs) or its hook, waiting for the lock, clears it after us.
        with self._lock:
            for state in ("queued", "running"):
                for job in job_repo.list_jobs(self.store, state=state, kind="ingest",
                                              limit=10_000):
                    identity = _identity_from(job.params)
                    if identity is not None:
                        self._in_flight[identity.path] = _InFlight(identity, job.id)
        self.watcher.start()
        found = self.watcher.scan()
        if found:
            log.info("found %s file(s) in the inboxes at start-up", found)

    def stop(self) -> None:
        self.watcher.stop()

    def rescan(self) -> None:
        self.watcher.scan()

    def watched_dirs(self) -> list[Path]:
        return [self.home.inbox] if self.watcher.mode != "stopped" else []

    # --- a file is complete -------------------------------------------------------------

    def file_ready(self, path: Path, *, actor: str = "watcher") -> Job | None:
        """Queue an ingest of `path` unless the same version of it is already in flight
        (a label file, *.labels.csv, goes to the label service instead; a stored file that
        waits for its .done/ is moved, not read again)."""
        if self.done.retry(path):
            return None
        if self.labels is not None and is_label_file(path.name):
            return self.labels.file_ready(path, actor=actor)
        identity = FileIdentity.of(path)
        if identity is None:
            return None
        dataset = path.parent.name
        with self._lock:
            current = self._in_flight.get(path)
            if current is not None:
                if current.identity != identity:
                    current.recheck = True
                return None
            params = self._params(dataset, path, identity)
            if params is None:
                return None
            self.done.prepare(dataset)
            try:
                job = self.runner.submit("ingest", params, actor=actor)
            except InvalidParams as exc:  # a link to a file outside the home
                self.outcomes.reject_without_job(
                    path, dataset, "symlink" if path.is_symlink() else "outside_home", str(exc))
                return None
            self._in_flight[path] = _InFlight(identity, job.id)
        return job

    def folder_ready(self, path: Path) -> None:
        """A folder inside an inbox (settled): quarantined whole, with its reason, so it is
        neither ignored for ever nor half read."""
        dataset = path.parent.name
        if not path.is_dir() or path.is_symlink():
            return
        self.outcomes.reject_without_job(
            path, dataset, "sub_folder",
            f"inbox/{dataset}/{path.name}/ is a folder: only files put directly into "
            f"inbox/{dataset}/ are ingested, one data version each. Move the files it holds "
            f"directly into inbox/{dataset}/ (nothing in it was read)")

    def _params(self, dataset: str, path: Path, identity: FileIdentity) -> dict[str, Any] | None:
        if not DATASET_NAME.match(dataset):
            self.outcomes.reject_without_job(path, dataset, "bad_dataset_name",
                                     f"{dataset!r} is not a valid dataset name (letters, digits, "
                                     "'_', '.', '-'; starting with a letter or digit)")
            return None
        ds_row = data_repo.find_dataset(self.store, dataset)
        if ds_row is None:
            if not self.config.ingest.auto_create:
                self.outcomes.reject_without_job(
                    path, dataset, "unknown_dataset",
                    f"no dataset {dataset!r} is declared in mlops.toml and auto_create is off")
                return None
            ds_row = self._ensure(dataset, by="first drop")
        return {
            "dataset": dataset,
            "path": str(path),
            "identity": {"size": identity.size, "mtime_ns": identity.mtime_ns,
                         "inode": identity.inode},
            "received_at": datetime.now(UTC).isoformat(),
            "limits": {"max_decompressed_mb": self.config.ingest.max_decompressed_mb,
                       "max_compression_ratio": self.config.ingest.max_compression_ratio},
        }

    def _prepare(self, job: Job) -> dict[str, Any]:
        """At the job's start: the dataset as it is now (the ingest before it committed)."""
        ds_row = data_repo.get_dataset(self.store, job.params["dataset"])
        return {
            **job.params,
            "spec": self.spec_of(ds_row),
            "reference": self.references.for_dataset(ds_row, self.config),
            "known_hashes": data_repo.known_hashes(self.store, ds_row.name),
        }

    def _ensure(self, name: str, *, by: str) -> data_repo.Dataset:
        """The dataset's row in step with its config; a new one is audited and announced
        (`dataset.created`) in the same transaction."""
        ds = self.declared.get(name) or DatasetConfig(name=name)
        declared = bool(ds.schema) or any(c.dtype for c in ds.columns.values())
        with self.store.transaction():
            new = data_repo.find_dataset(self.store, name) is None
            row = data_repo.ensure_dataset(
                self.store, name, target=ds.target, time_column=ds.time_column,
                id_column=ds.id_column, schema_declared=declared,
                config=dataclasses.asdict(ds),
            )
            if new:
                entry = audit.append(self.store, actor="mlopsd:ingest", action="dataset.create",
                                     subject=f"dataset:{name}", reason=by)
                self.bus.publish(DatasetCreated(dataset=name, by=by), audit=entry)
        return row

    def spec_of(self, ds_row: data_repo.Dataset) -> dict[str, Any]:
        """What the worker checks a file against. The schema is the one the dataset's
        accepted files fixed (None before the first); dtypes declared in the config travel
        as column rules, which makes those columns required and strictly typed."""
        ds = self.declared.get(ds_row.name) or DatasetConfig(name=ds_row.name)
        columns = {
            c: {k: v for k, v in dataclasses.asdict(r).items() if v is not None}
            for c, r in ds.columns.items()
        }
        for column, dtype in (ds.schema or {}).items():
            columns.setdefault(column, {})["dtype"] = dtype
        return {
            "schema": ds_row.schema,
            "schema_declared": False,
            # An optional target (production inputs, labelled later) is not checked for.
            "target": None if ds.target_optional else ds.target,
            "time_column": ds.time_column,
            "id_column": ds.id_column,
            "time_parts": ds.time_parts,
            "delimiter": ds.delimiter,
            "on_schema_change": ds.on_schema_change,
            "rules": dataclasses.asdict(ds.rules),
            "columns": columns,
        }

    # --- the worker is done ---------------------------------------------------------------

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        path = Path(job.params["path"])
        dataset = job.params["dataset"]
        received_at = datetime.fromisoformat(job.params["received_at"])
        outcome = result["outcome"]
        summary: dict[str, Any] = {"dataset": dataset, "file": path.name, "outcome": outcome}
        if outcome == "accepted":
            commit = self._commit(job, path, dataset, received_at, result)
            stored = commit.version.version if commit.version else commit.duplicate_of
            self._to_done(path, dataset, stored, summary)
            if commit.version is not None:
                summary.update(version=commit.version.version, rows=commit.version.n_rows)
            else:
                summary.update(outcome="duplicate", duplicate_of=commit.duplicate_of)
        elif outcome == "duplicate":
            with self.store.transaction():
                data_repo.record_ingest(
                    self.store, dataset, path.name, "duplicate", received_at=received_at,
                    content_hash=result["content_hash"], size_bytes=result.get("size"),
                    job_id=job.id, version=result["duplicate_of"],
                )
                self.bus.publish(IngestDuplicate(dataset=dataset, file=path.name,
                                                 duplicate_of=result["duplicate_of"],
                                                 job_id=job.id))
            summary["duplicate_of"] = result["duplicate_of"]
            self._to_done(path, dataset, result["duplicate_of"], summary)
        elif outcome == "rejected":
            where = self.outcomes.quarantine(path, dataset, job.id, result, received_at)
            summary.update(quarantined_as=str(where) if where else None,
                           errors=[e["message"] for e in result.get("errors", [])][:5])
        elif outcome == "vanished":
            summary.update(self.outcomes.vanished(path, dataset, job.id, result, received_at))
        elif outcome == "changed":
            self.bus.publish(IngestChanged(dataset=dataset, file=path.name, job_id=job.id))
        return summary

    def _commit(self, job: Job, path: Path, dataset: str, received_at: datetime,
                result: dict[str, Any]) -> data_repo.CommitResult:
        """The data version (or the duplicate's record), its audit entry, its event, and
        the schema-change and quality alerts it brings, in one transaction."""
        with self.store.transaction():
            commit = data_repo.commit_version(self.store, dataset, data_repo.NewVersion(
                content_hash=result["content_hash"], snapshot_sha=result["snapshot_sha"],
                schema=result["schema"], schema_hash=result["schema_hash"],
                n_rows=result["n_rows"], n_columns=result["n_columns"], source_name=path.name,
                size_bytes=result["size"], received_at=received_at,
                profile=result["profile"], issues=result.get("warnings") or [],
                schema_change=result.get("schema_change"), job_id=job.id,
            ))
            version = commit.version
            if version is None:
                self.bus.publish(IngestDuplicate(dataset=dataset, file=path.name,
                                                 duplicate_of=commit.duplicate_of,
                                                 job_id=job.id))
                return commit
            entry = audit.append(self.store, actor="mlopsd:ingest", action="data.commit",
                                 subject=f"dataset:{dataset}",
                                 details={"version": version.version, "file": path.name,
                                          "rows": version.n_rows, "job_id": job.id})
            self.bus.publish(IngestCommitted(dataset=dataset, file=path.name,
                                             version=version.version, rows=version.n_rows,
                                             job_id=job.id), audit=entry)
            if commit.schema_version_changed:
                self.outcomes.schema_changed(dataset, path.name, result.get("schema_change"),
                                             accepted=True)
            if result.get("warnings"):
                self.outcomes.quality_alert(dataset, path.name, version.version,
                                            result["warnings"])
        return commit

    def _to_done(self, path: Path, dataset: str, version: int | None,
                 summary: dict[str, Any]) -> None:
        """The original to .done/ now that its content is stored; if .done/ cannot take it,
        it waits in the inbox (parked), stored and not quarantined."""
        done = self.done.move(path, dataset, f"{dataset}@{version}")
        summary["done_as"] = str(done) if done else None
        if self.done.parked(path):
            summary["waits_for_done"] = True

    def _finished(self, job: Job) -> None:
        if job.kind != "ingest":
            return
        path = Path(job.params["path"])
        with self._lock:
            entry = self._in_flight.pop(path, None)
        failed = job.state in ("failed", "cancelled")
        identity = _identity_from(job.params)
        if failed and identity is not None and FileIdentity.of(path) == identity:
            attempts = self._failures.get(identity, 0) + 1
            self._failures[identity] = attempts
            if job.state == "cancelled" or attempts >= self.config.ingest.max_attempts:
                self._failures.pop(identity, None)
                self.outcomes.quarantine(path, job.params["dataset"], job.id, {
                    "outcome": "rejected",
                    "errors": [{"check": "ingest_failed", "column": None, "rows": [],
                                "values": [], "rule": {"max_attempts":
                                                       self.config.ingest.max_attempts},
                                "message": f"the ingest job failed {attempts} time(s); "
                                           f"last: {job.error}"}],
                }, datetime.fromisoformat(job.params["received_at"]))
                return
        changed = job.result and job.result.get("outcome") == "changed"
        if (failed or changed or (entry and entry.recheck)) and path.exists():
            self.watcher.touch(path)

    # --- requests from clients ---------------------------------------------------------------

    def requeue(self, name: str, *, actor: str) -> Path:
        """Put a quarantined file back into its inbox, under its original name."""
        for ingest in ingest_records.quarantined(self.store):
            q = Path(ingest.quarantine_path or "")
            if name in (q.name, str(q), f"{ingest.dataset}/{q.name}"):
                break
        else:
            raise NotFound(f"no quarantined file named {name!r}; `mlops data quarantine` "
                           "lists them")
        if not q.exists() and not q.is_symlink():
            raise NotFound(f"{q} is recorded as quarantined but is no longer there")
        back = move_into(q, self.home.inbox / ingest.dataset, ingest.source_name)
        with self.store.transaction():
            ingest_records.mark_requeued(self.store, ingest.id)
            entry = audit.append(self.store, actor=actor, action="data.requeue",
                                 subject=f"dataset:{ingest.dataset}",
                                 details={"file": q.name, "back_as": back.name})
            self.bus.publish(IngestRequeued(dataset=ingest.dataset, file=q.name,
                                            back_as=back.name), audit=entry)
        reason_path_of(q).unlink(missing_ok=True)
        self.watcher.touch(back)
        return back


def _identity_from(params: dict[str, Any]) -> FileIdentity | None:
    try:
        i = params["identity"]
        return FileIdentity(Path(params["path"]), i["size"], i["mtime_ns"], i["inode"])
    except (KeyError, TypeError):
        return None
