"""Monitoring, the daemon's half: drift checks of a model's production version against its
reference (the data versions it was trained on), as job `drift`.

The drift stream — checks the daemon makes by itself, whose reports raise and resolve
alerts and whose latest is the model's state (drift_outcome.py):
- each new data version of a dataset a production model watches: the one it trains on
  (its `[[model]] data` selector's dataset) or its inputs dataset (`[model.monitoring]
  inputs`: production data, usually without labels);
- labels arriving for a watched dataset (label files joined on its id column): the data
  not in the reference again, now with performance on the labelled rows;
- a deploy: the newest data the new production version was not trained on, if any.

A person's check (`mlops drift M --now | --against S | --window W`) is ad hoc unless asked
to be recorded (`--record`). A report's current data is never part of its reference: by
default it is the newest version the model was not trained on (else there is none yet), and
a selector naming training data is refused.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from mlopsd.config import Config, ModelMonitoring
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.selectors import resolve
from mlopsd.services.drift_outcome import DriftOutcome, retire_stale_alerts
from mlopsd.services.errors import ServiceError
from mlopsd.serving.served import ServedModels
from store import data as data_repo
from store import drift as drift_repo
from store import models as model_repo
from store import predictions as prediction_repo
from store import runs as run_repo
from store.artifacts import ArtifactStore
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.monitoring")
LABELLED_VERSIONS = 50
"""When labels arrive, at most this many of the newest versions are checked again."""


class MonitorError(ServiceError):
    pass


Current = tuple[list[dict[str, Any]], str]
"""The current side of a check: data versions (dataset, version, snapshot_sha), and its
label."""


class MonitoringService:
    def __init__(self, config: Config, store: Store, runner: JobRunner, served: ServedModels,
                 bus: EventBus, artifacts: ArtifactStore) -> None:
        self.config, self.store, self.runner, self.served, self.bus = (
            config, store, runner, served, bus)
        self.artifacts = artifacts
        self.outcome = DriftOutcome(lambda: self.config, store, bus)
        runner.completions["drift"] = self._complete
        runner.finished_hooks.append(self._finished)

    # --- the drift stream ------------------------------------------------------------------

    def _finished(self, job: Job) -> None:
        """A failed job is an alert (ingest and train raise their own); a new data version,
        or labels, of a watched dataset are checked against the models watching it."""
        # A check's failure is the answer to whoever asked (mlops check exits 2), not an
        # alert: a check leaves nothing behind.
        if job.state == "failed" and job.kind not in ("ingest", "train", "reproduce",
                                                      "check_data", "gate_model"):
            self.outcome.alerts.raise_(
                rule="job_failed", subject=f"job:{job.kind}", severity="warning",
                message=f"job {job.id} ({job.kind}) failed: {job.error}",
                detail={"job_id": job.id, "params": {k: v for k, v in job.params.items()
                                                     if k in ("model", "dataset", "source")}})
            return
        if job.state != "succeeded" or not job.result:
            return
        dataset = job.result.get("dataset")
        if job.kind == "ingest" and dataset and job.result.get("version") and not (
                job.result.get("duplicate_of")):
            for name in self._watchers(dataset):
                self._stream(name, f"{dataset}@{job.result['version']}", "new data")
        elif job.kind == "labels" and dataset and job.result.get("rows"):
            for name in self._watchers(dataset):
                self._stream(name, None, f"{job.result['rows']} labels arrived",
                             labelled=dataset)

    def _watchers(self, dataset: str) -> list[str]:
        """The models in production that train on or watch `dataset`."""
        return [name for name, declared in self.config.models().items()
                if dataset in (declared.data.split("@", 1)[0], declared.monitoring.inputs)
                and self.served.slot(name) is not None]

    def _stream(self, name: str, against: str | None, why: str, *,
                labelled: str | None = None) -> None:
        try:
            if labelled is not None:
                version, reference = self._version_and_reference(name)
                current = self._labelled(name, version, reference, labelled)
                if current is not None:
                    self._submit(name, version, reference, current, actor="mlopsd",
                                 record=True, why=why)
                return
            self.check(name, against, actor="mlopsd", record=True, why=why)
        except MonitorError as exc:
            log.info("no drift check of %s (%s): %s", name, why, exc.message)

    def production_moved(self, name: str, from_version: str | None,
                         to_version: str | None) -> None:
        """Production changed (deploy, promote, rollback): the drift alerts about the
        version it replaced are resolved, and the newest data the new version was not
        trained on, if any, is checked against it — the stream now follows it."""
        if from_version == to_version:
            return
        why = (f"resolved: production moved from {name}:{from_version} to "
               f"{name}:{to_version}; drift is judged against it from now on" if to_version
               else f"resolved: {name} is no longer served")
        retire_stale_alerts(self.outcome.alerts, name, to_version, why,
                            unversioned_as=from_version or "")
        if to_version is not None:
            self._stream(name, None, f"deploy of {name}:{to_version}")

    # --- checks ----------------------------------------------------------------------------

    def check(self, name: str, against: str | None = None, *, actor: str,
              record: bool = False, why: str | None = None) -> Job:
        """Queue a drift check of the production version of `name`: against a selector, or
        the newest data it was not trained on. `record`: a report of the drift stream."""
        version, reference = self._version_and_reference(name)
        current = self._selected(name, version, reference, against)
        return self._submit(name, version, reference, current, actor=actor, record=record,
                            why=why)

    def check_window(self, name: str, seconds: float, *, actor: str,
                     record: bool = False) -> Job:
        """Queue a drift check of what the production version was asked in the last
        `seconds` (the prediction log's inputs) against its training data."""
        until = datetime.now(UTC)
        since = until - timedelta(seconds=seconds)
        version, reference = self._version_and_reference(name)
        tmp = self.artifacts.tmp_path(".parquet")
        try:
            rows = prediction_repo.export_inputs(
                self.store, name, since=since, until=until,
                inputs=(version.signature or {}).get("inputs", []), path=str(tmp))
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        if rows == 0:
            tmp.unlink(missing_ok=True)
            raise MonitorError(409, f"{name} logged no prediction in the last {seconds:g} s")
        sha = self.artifacts.adopt(tmp)
        label = f"log:{name}[{since:%Y-%m-%dT%H:%M:%S}..{until:%Y-%m-%dT%H:%M:%S}]"
        return self._submit(name, version, reference,
                            ([{"dataset": "prediction-log", "version": 0, "snapshot_sha": sha}],
                             label), actor=actor, record=record, why=None)

    def _version_and_reference(self, name: str) -> tuple[Any, list[dict[str, Any]]]:
        slot = self.served.slot(name)
        if slot is None:
            raise MonitorError(409, f"{name} has no production version to check")
        version = model_repo.get_version(self.store, name, slot.live.version)
        if version.run_id is None:
            raise MonitorError(409, f"{name}:{version.version} has no run, hence no record "
                               "of its training data to compare with")
        reference = (run_repo.get_run(self.store, version.run_id).lineage or {}).get("data")
        if not reference:
            raise MonitorError(409, f"{name}:{version.version} was not trained on data "
                               "versions this daemon knows (logged from the SDK?)")
        return version, reference

    def _watched(self, name: str, reference: list[dict[str, Any]]) -> str:
        """The dataset a check of `name` looks at by default: its inputs dataset if it
        names one, else the dataset it trains on."""
        declared = self.config.models().get(name)
        if declared is not None and declared.monitoring.inputs:
            return declared.monitoring.inputs
        return reference[0]["dataset"]

    def _untrained(self, dataset: str, reference: list[dict[str, Any]]
                   ) -> list[data_repo.DataVersion]:
        """The versions of `dataset` newer than every one of it in the reference."""
        try:
            versions = data_repo.list_versions(self.store, dataset)
        except NotFound:
            return []
        trained = [r["version"] for r in reference if r["dataset"] == dataset]
        newest = max(trained, default=0)
        return [v for v in versions if v.version > newest]

    def _selected(self, name: str, version: Any, reference: list[dict[str, Any]],
                  against: str | None) -> Current:
        if against is None:
            dataset = self._watched(name, reference)
            newer = self._untrained(dataset, reference)
            if not newer:
                raise MonitorError(409, f"no data newer than {name}:{version.version}'s "
                                   f"training data ({_label(reference)}) in {dataset!r} yet: "
                                   "a check compares data the model was not trained on "
                                   "(drop a new version, or give --against)")
            against = f"{dataset}@{newer[-1].version}"
        try:
            resolved = resolve(self.store, against)
        except Exception as exc:
            raise MonitorError(422, str(exc), "against") from None
        trained = {(r["dataset"], r["version"]) for r in reference}
        overlap = [v for v in resolved.versions if (v.dataset, v.version) in trained]
        if overlap:
            raise MonitorError(
                422, f"{overlap[0].dataset}@{overlap[0].version} is part of "
                f"{name}:{version.version}'s training data ({_label(reference)}): a drift "
                "report's current data must not be in its reference; check data it was not "
                "trained on", "against")
        return ([{"dataset": v.dataset, "version": v.version, "snapshot_sha": v.snapshot_sha}
                 for v in resolved.versions], resolved.canonical)

    def _labelled(self, name: str, version: Any, reference: list[dict[str, Any]],
                  dataset: str) -> Current | None:
        """The data of `dataset` the model was not trained on (its newest versions), to be
        checked again now that labels arrived for it."""
        newer = self._untrained(dataset, reference)[-LABELLED_VERSIONS:]
        if not newer:
            return None
        numbers = ",".join(str(v.version) for v in newer)
        return ([{"dataset": v.dataset, "version": v.version, "snapshot_sha": v.snapshot_sha}
                 for v in newer], f"{dataset}@{numbers}")

    def _labels(self, dataset: str) -> dict[str, Any] | None:
        """The labels that arrived for a dataset's rows (label files), for the job to join
        on its id column."""
        declared = self.config.datasets().get(dataset)
        if declared is None or not declared.id_column or not declared.target:
            return None
        tmp = self.artifacts.tmp_path(".parquet")
        try:
            count = prediction_repo.export_entity_labels(self.store, dataset, str(tmp))
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        if count == 0:
            tmp.unlink(missing_ok=True)
            return None
        return {"sha": self.artifacts.adopt(tmp), "id_column": declared.id_column}

    def _submit(self, name: str, version: Any, reference: list[dict[str, Any]],
                current: Current, *, actor: str, record: bool, why: str | None) -> Job:
        items, current_label = current
        profile = drift_repo.stored_profile(self.store, model=name,
                                            model_version=version.version,
                                            reference=_label(reference))
        declared = self.config.models().get(name)
        settings = declared.monitoring if declared else ModelMonitoring()
        labels = self._labels(items[0]["dataset"])
        job = self.runner.submit("drift", {
            "model": name, "version": version.version, "signature": version.signature,
            "model_sha": version.artifact_sha, "reference": reference, "current": items,
            "reference_label": _label(reference), "current_label": current_label,
            "numeric_test": settings.numeric_test,
            "categorical_test": settings.categorical_test, "share": settings.drift_share,
            "correction": settings.correction, "significance": settings.significance,
            "min_rows": settings.min_rows, "exclude": list(settings.exclude),
            "tests": {c: t.test for c, t in settings.columns.items() if t.test},
            "thresholds": {c: t.threshold for c, t in settings.columns.items()
                           if t.threshold is not None},
            "record": record, "why": why,
            **({"labels": labels} if labels else {}),
            **({"profile_sha": profile} if profile else {})}, actor=actor)
        return job

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        p = job.params
        slot = self.served.slot(p.get("model") or "")
        report = self.outcome.record(job, result, slot.live.version if slot else None)
        return {**result, "report_id": report.id, "recorded": report.recorded}


def _label(reference: list[dict[str, Any]]) -> str:
    if not reference:
        return ""
    return f"{reference[0]['dataset']}@" + ",".join(str(r["version"]) for r in reference)
