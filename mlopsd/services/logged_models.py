"""Models logged from the SDK (`run.log_model(booster, model="churn")`): stored, checked in a
worker and registered as a version of the run that made them.

The daemon never parses an uploaded model text (LightGBM's parser is not hardened against
malformed input): the text goes into the artifact store as bytes, job `check_model` loads
it in a worker and checks its features and objective against the signature, and only then
is the version registered, by the semver rule of trained models. The data an SDK run used
is what the caller names (`data=[...]`, e.g. data version hashes); when it names nothing,
sameness of data cannot be shown and the version counts as trained on new data (minor).
"""

from __future__ import annotations

from typing import Any

from mlopsd.client.events import ModelRegistered
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.services.training import canonical_hash, signature_hash
from store import audit
from store import models as model_repo
from store import runs as run_repo
from store.artifacts import ArtifactStore
from store.db import Store
from store.jobs import Job


class LoggedModels:
    def __init__(self, store: Store, artifacts: ArtifactStore, runner: JobRunner,
                 bus: EventBus) -> None:
        self.store, self.artifacts, self.runner, self.bus = store, artifacts, runner, bus
        runner.completions["check_model"] = self._register
        runner.crash_hints["check_model"] = (
            "model_text: LightGBM's parser crashed on it (truncated, or not a LightGBM model)")

    def submit(self, run_id: str, *, model: str, model_text: str, signature: dict[str, Any],
               task: str | None, metrics: dict[str, Any] | None, data: list[str] | None,
               description: str | None, actor: str) -> Job:
        """Store the text and queue its check; the version is registered when it passes."""
        run_repo.get_run(self.store, run_id)
        sha = self.artifacts.put_bytes(model_text.encode())
        inputs = [str(i.get("name")) for i in signature.get("inputs", [])
                  if isinstance(i, dict)]
        return self.runner.submit("check_model", {
            "sha": sha, "inputs": inputs, "task": task, "run_id": run_id, "model": model,
            "signature": signature, "metrics": metrics, "data": data,
            "description": description}, actor=actor)

    def _register(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        p = job.params
        run = run_repo.get_run(self.store, p["run_id"])
        signature = {**p["signature"], "task": result["task"]}
        data_key = canonical_hash(sorted(p["data"])) if p.get("data") else f"run:{run.id}"
        with self.store.transaction() as cur:
            version = model_repo.register_version(
                cur, model=p["model"], task=result["task"], artifact_sha=p["sha"],
                signature=signature, signature_hash=signature_hash(signature),
                data_key=data_key, config_hash=canonical_hash(run.params),
                metrics=p["metrics"] if p.get("metrics") is not None else run.metrics,
                run_id=run.id, description=p.get("description"))
            run_repo.insert_batch(cur, run.id,
                                  tags={"model_version": f"{p['model']}:{version.version}"})
            entry = audit.append(self.store, actor=job.actor, action="model.log",
                                 subject=f"model:{p['model']}",
                                 details={"version": version.version, "run_id": run.id,
                                          "sha": p["sha"]})
            if version.registered_now:
                self.bus.publish(ModelRegistered(
                    model=p["model"], version=version.version, run_id=run.id,
                    reason=version.bump_reason or "", via="log"), audit=entry)
        return {**result, "model": p["model"], "version": version.version,
                "bump_reason": version.bump_reason}
