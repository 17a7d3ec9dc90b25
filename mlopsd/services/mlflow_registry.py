"""The door for MLflow's registry calls: registered models made by MLflow's client, and
versions made from a model it logged.

A version is numbered as MLflow numbers them (1, 2, 3… per model) when it is asked for;
its files (the MLmodel file, the LightGBM text) are handed to job `check_mlflow_model`,
which reads them in a worker (never in the daemon: a LightGBM parser crash fails the job,
not the daemon; a pickle is never loaded), and when the check passes the version is
registered in our registry by the semver rule, as an SDK upload is (`logged_models.py`):
its audit entry (`model.log`, so four eyes knows who made it), `model.registered` and the
number's link to our version in one transaction. Its MLflow status follows the job:
PENDING_REGISTRATION while it runs, READY once registered, FAILED_REGISTRATION with the
job's error. The call waits a little for the check, so a version is usually READY in the
reply (MLflow's client otherwise polls every 3 s).

Aliases are ours (`deploys.move_alias`, called by the API as `mlops promote` does it).
Descriptions and tags of a model or a numbered version are registry metadata MLflow's
workflows decide on (a `validated` tag): each change, its audit entry (`model.update`, with
the values) and `model.updated` in one transaction.
"""

from __future__ import annotations

import threading
from typing import Any

from mlopsd.client.events import ModelRegistered, ModelUpdated
from mlopsd.config import DATASET_NAME
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.services.errors import ServiceError
from mlopsd.services.mlflow_artifacts import checked_path
from mlopsd.services.training import canonical_hash, signature_hash
from store import audit, run_search
from store import mlflow_artifacts as artifact_index
from store import mlflow_models as mlflow_model_repo
from store import mlflow_runs as mlflow_run_repo
from store import models as model_repo
from store import runs as run_repo
from store.db import Store
from store.jobs import Job

KIND = "check_mlflow_model"
WAIT_S = 20.0
"""How long a create-version call waits for its check before answering PENDING."""


def status_of(version: mlflow_model_repo.NumberedVersion) -> tuple[str, str | None]:
    """MLflow's status of a numbered version, and its message."""
    if version.version is not None:
        return "READY", None
    if version.job_state in ("failed", "cancelled"):
        return "FAILED_REGISTRATION", version.job_error
    return "PENDING_REGISTRATION", None


class MlflowRegistry:
    def __init__(self, store: Store, runner: JobRunner, bus: EventBus) -> None:
        self.store, self.runner, self.bus = store, runner, bus
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        runner.completions[KIND] = self._register
        runner.finished_hooks.append(self._finished)
        runner.crash_hints[KIND] = ("source: LightGBM's parser crashed on the model text "
                                    "(truncated, or not a LightGBM model)")

    # --- registered models ---------------------------------------------------------------

    def create_model(self, name: str, *, description: str | None, tags: dict[str, str],
                     actor: str) -> mlflow_model_repo.RegisteredModel:
        check_name(name)
        with self.store.transaction():
            model = mlflow_model_repo.create_registered_model(
                self.store, name, description=description, tags=tags)
            audit.append(self.store, actor=actor, action="model.create",
                         subject=f"model:{name}", details={"via": "mlflow"})
        return model

    def update_model(self, name: str, *, description: str | None = None,
                     tags: dict[str, str] | None = None, drop_tag: str | None = None,
                     actor: str) -> mlflow_model_repo.RegisteredModel:
        """Its description set, tags merged in or one removed (one of them per call)."""
        with self.store.transaction():
            model = mlflow_model_repo.update_registered_model(
                self.store, name, description=description, tags=tags, drop_tag=drop_tag)
            self._updated(name, None, None, description, tags, drop_tag, actor)
        return model

    def update_version(self, name: str, number: int, *, description: str | None = None,
                       tags: dict[str, str] | None = None, drop_tag: str | None = None,
                       actor: str) -> mlflow_model_repo.NumberedVersion:
        with self.store.transaction():
            version = mlflow_model_repo.update_version(
                self.store, name, number, description=description, tags=tags,
                drop_tag=drop_tag)
            self._updated(name, version.version, number, description, tags, drop_tag, actor)
        return version

    def _updated(self, name: str, version: str | None, number: int | None,
                 description: str | None, tags: dict[str, str] | None,
                 drop_tag: str | None, actor: str) -> None:
        """Within the change's transaction: its audit entry and event."""
        details: dict[str, Any] = {"via": "mlflow"}
        if number is not None:
            details |= {"number": number, "version": version}
        if description is not None:
            details["description"] = description
        if tags:
            details["tags"] = tags
        if drop_tag is not None:
            details["tag_removed"] = drop_tag
        entry = audit.append(self.store, actor=actor, action="model.update",
                             subject=f"model:{name}", details=details)
        self.bus.publish(ModelUpdated(
            model=name, version=version, number=number,
            changed="description" if description is not None else "tags", actor=actor),
            audit=entry)

    # --- versions ------------------------------------------------------------------------

    def create_version(self, name: str, *, source: str, run_id: str | None,
                       model_id: str | None, description: str | None,
                       tags: dict[str, str], actor: str) -> mlflow_model_repo.NumberedVersion:
        """Number a version, queue its check and wait (up to WAIT_S) for it."""
        check_name(name)
        mlflow_model_repo.get_registered_model(self.store, name)
        folder = self.folder_of(source)
        prefix = f"{folder}/" if folder else ""  # "": the artifact root
        files = {f.path[len(prefix):]: f.sha for f in artifact_index.under(self.store, folder)
                 if "/" not in f.path[len(prefix):]}
        if "MLmodel" not in files:
            raise ServiceError(400, f"source: {source!r} holds no MLmodel file "
                               f"({prefix or 'the artifact root'} has "
                               f"{sorted(files) or 'nothing'}): log the model first", "source")
        if run_id is not None:
            run_repo.get_run(self.store, run_id)
        digests = mlflow_run_repo.dataset_digests(self.store, run_id) if run_id else []
        done = threading.Event()
        with self.store.transaction() as cur:
            number = mlflow_model_repo.add_version(cur, model=name, source=source,
                                                   run_id=run_id, model_id=model_id,
                                                   description=description, tags=tags)
            job = self.runner.submit(KIND, {
                "files": files, "model": name, "number": number, "run_id": run_id,
                "source": source, "data": digests, "description": description}, actor=actor)
            mlflow_model_repo.set_check(cur, name, number, job_id=job.id)
            with self._lock:  # before the commit: the job cannot end before it
                self._waiting[job.id] = done
        try:
            done.wait(WAIT_S)
        finally:
            with self._lock:
                self._waiting.pop(job.id, None)
        return mlflow_model_repo.get_version(self.store, name, number)

    def ready_version(self, name: str, number: int) -> str:
        """Our version behind an MLflow number, once its check has passed."""
        numbered = mlflow_model_repo.get_version(self.store, name, number)
        status, message = status_of(numbered)
        if numbered.version is None:
            raise ServiceError(400, f"version: {name} version {number} is {status}"
                               + (f" ({message})" if message else ""), "version")
        return numbered.version

    def folder_of(self, source: str) -> str:
        """The artifact folder a version's source names."""
        if source.startswith("models:/m-"):
            logged = mlflow_model_repo.get_logged_model(self.store, source[len("models:/"):])
            return f"{logged.experiment_id}/models/{logged.id}/artifacts"
        if source.startswith("runs:/"):
            run_id, _, sub = source[len("runs:/"):].partition("/")
            run = run_repo.get_run(self.store, run_id)
            experiment = mlflow_run_repo.mlflow_id(
                run_search.get_experiment(self.store, run.experiment))
            return checked_path("/".join(p for p in (f"{experiment}/{run_id}/artifacts",
                                                     sub.strip("/")) if p), field="source")
        if source.startswith("mlflow-artifacts:"):
            rest = source[len("mlflow-artifacts:"):]
            if rest.startswith("//"):  # mlflow-artifacts://host:port/path
                rest = rest[2:].partition("/")[2]
            folder = rest.strip("/")
            return checked_path(folder, field="source") if folder else ""
        raise ServiceError(400, f"source: {source[:200]!r} is not in this server's artifact "
                           "store (models:/m-…, runs:/RUN_ID/PATH or mlflow-artifacts:/PATH)",
                           "source")

    # --- the check's end -----------------------------------------------------------------

    def _register(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        p = job.params
        model, number = p["model"], p["number"]
        run = run_repo.get_run(self.store, p["run_id"]) if p.get("run_id") else None
        signature = {**result["signature"], "task": result["task"]}
        data_key = (canonical_hash(sorted(p["data"])) if p.get("data")
                    else f"run:{run.id}" if run else f"mlflow:{p['source']}")
        with self.store.transaction() as cur:
            version = model_repo.register_version(
                cur, model=model, task=result["task"], artifact_sha=result["sha"],
                signature=signature, signature_hash=signature_hash(signature),
                data_key=data_key, config_hash=canonical_hash(run.params if run else {}),
                metrics=run.metrics if run else {}, run_id=run.id if run else None,
                description=p.get("description"))
            mlflow_model_repo.set_check(cur, model, number, job_id=job.id,
                                        version=version.version)
            if run is not None:
                run_repo.insert_batch(cur, run.id,
                                      tags={"model_version": f"{model}:{version.version}"})
            entry = audit.append(self.store, actor=job.actor, action="model.log",
                                 subject=f"model:{model}",
                                 details={"version": version.version,
                                          "run_id": run.id if run else None,
                                          "sha": result["sha"], "mlflow_version": number})
            if version.registered_now:
                self.bus.publish(ModelRegistered(
                    model=model, version=version.version, run_id=run.id if run else None,
                    reason=version.bump_reason or "", via="mlflow"), audit=entry)
        return {**result, "model": model, "version": version.version, "number": number,
                "bump_reason": version.bump_reason}

    def _finished(self, job: Job) -> None:
        if job.kind != KIND:
            return
        with self._lock:
            waiting = self._waiting.get(job.id)
        if waiting is not None:
            waiting.set()


def check_name(name: str) -> None:
    if not DATASET_NAME.match(name):
        raise ServiceError(400, f"name: {name[:80]!r} is not a model name here (letters, "
                           "digits, '_', '.', '-', at most 128, starting with a letter or "
                           "digit)", "name")

