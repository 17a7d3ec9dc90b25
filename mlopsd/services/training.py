"""Training, the daemon's side: from a `[[model]]` entry to a job, and from the job's
result to a run and a registered model version, in one store transaction.

The data selector is resolved when training is asked for: the run's lineage names the
exact data versions (by content hash), the config's hash, the code's git commit, the
library versions, the host and the seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import platform
import socket
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mlopsd.client.events import ModelRegistered, ModelReproduced, RunEnded
from mlopsd.config import Config, ModelConfig
from mlopsd.config_card import slices_not_in
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from mlopsd.selectors import ResolvedSelector, resolve
from mlopsd.services.alerts import Alerts
from mlopsd.services.errors import ServiceError
from store import audit
from store import data as data_repo
from store import jobs as job_repo
from store import models as model_repo
from store import runs as run_repo
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.training")


def canonical_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    """The hash of a `[[model]]` entry as lineage keeps it. `[model.card]` is left out: what
    a card says about a model does not change how it is trained."""
    return canonical_hash({k: v for k, v in config.items() if k != "card"})


def signature_hash(signature: dict[str, Any]) -> str:
    """What the input contract is: names, dtypes, categorical or not. Category lists are left
    out: new categories in new data are a new minor version, not a new contract."""
    inputs = [{k: i.get(k) for k in ("name", "dtype", "categorical")}
              for i in signature.get("inputs", [])]
    return canonical_hash({"task": signature.get("task"), "inputs": inputs})


def code_version(folder: Path) -> dict[str, Any]:
    """The git commit (and dirty flag) of the folder that holds the config, if it is a repo."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                 text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"path": str(folder), "git_commit": None, "dirty": None}
    return {"path": str(folder), "git_commit": commit, "dirty": bool(git("status", "--porcelain"))}


def evaluation(result: dict[str, Any]) -> dict[str, Any]:
    """What the version keeps for its model card from the job's result: the holdout's
    intervals, slices and time span, feature importance, rows, split, trees."""
    found = result.get("evaluation") or {}
    return {**found, "importance": result.get("importance"), "rows": result.get("rows"),
            "split_kind": result.get("split_kind"), "num_trees": result.get("num_trees"),
            "best_iteration": result.get("best_iteration"),
            "iterations": result.get("iterations")}


class TrainService:
    def __init__(self, config: Config, store: Store, runner: JobRunner, bus: EventBus) -> None:
        self.config, self.store, self.runner, self.bus = config, store, runner, bus
        self.alerts = Alerts(store, bus)
        self.models = config.models()
        self._pending: dict[int, dict[str, Any]] = {}
        self.repaired_hooks: list[Callable[[str, str], bool]] = []
        """Called (model, version) when a reproduction rewrote a version's corrupt artifact;
        True when that made it serve again."""
        runner.completions["train"] = self._complete
        runner.completions["reproduce"] = self._compare
        runner.finished_hooks.append(self._finished)
        runner.exclusive["train"] = lambda params: params["model"]

    def spec(self, name: str) -> ModelConfig:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none declared"
            raise NotFound(f"no model {name!r} in mlops.toml (models: {known})") from None

    def submit(self, name: str, *, actor: str, reason: str | None = None,
               tags: dict[str, str] | None = None, data: str | None = None) -> Job:
        """Queue a training of `name` on its `data` selector (or on `data`, a retraining's
        window)."""
        m = self.spec(name)
        selector = data or m.data
        resolved = resolve(self.store, selector)
        window = None
        if resolved.start or resolved.end:
            window = {"time_column": resolved.time_column,
                      "start": resolved.start.isoformat() if resolved.start else None,
                      "end": resolved.end.isoformat() if resolved.end else None}
        data = [{"dataset": v.dataset, "version": v.version, "snapshot_sha": v.snapshot_sha,
                 "content_hash": v.content_hash} for v in resolved.versions]
        config = dataclasses.asdict(m)
        params = {
            "model": m.name,
            "task": m.task,
            "target": m.target,
            "data": [{k: d[k] for k in ("dataset", "version", "snapshot_sha")} for d in data],
            "window": window,
            "time_column": resolved.time_column,
            "features": {"include": m.include, "exclude": m.exclude},
            "categorical": m.categorical,
            "lgb_params": m.params,
            "rounds": m.rounds,
            "early_stopping": m.early_stopping or None,  # 0: train all rounds
            "split": {"holdout": m.split.holdout, "seed": m.split.seed},
            "threshold": m.threshold,
            "min_rows": m.min_rows,
            "seed": m.seed,
            "num_threads": m.num_threads,
            "slices": m.card.slices,
        }
        self._check_slices(m, resolved)
        lineage = {
            "selector": {"written": selector, "resolved": resolved.canonical},
            "data": data,
            "data_key": canonical_hash({"data": [(d["dataset"], d["content_hash"]) for d in data],
                                        "window": window}),
            "config_hash": config_hash(config),
            "code": code_version(self.config.path.parent),
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "seed": m.seed,
        }
        with self.store.transaction():  # the job, its job.queued and both audit entries
            job = self.runner.submit("train", params, actor=actor)
            audit.append(self.store, actor=actor, action="model.train",
                         subject=f"model:{name}", reason=reason,
                         details={"job_id": job.id, "data": resolved.canonical})
        self._pending[job.id] = {"lineage": lineage, "config": config, "actor": actor,
                                 "reason": reason, "tags": tags or {}}
        return job

    def _check_slices(self, m: ModelConfig, resolved: ResolvedSelector) -> None:
        """`[model.card] slices` must name columns of the data the training reads: refused
        before the job is queued, naming the line in mlops.toml."""
        if not m.card.slices:
            return
        columns: set[str] = set()
        for dataset in {v.dataset for v in resolved.versions}:
            columns |= set(data_repo.get_dataset(self.store, dataset).schema or {})
        error = slices_not_in(self.config, m, columns, resolved.canonical)
        if error is not None:
            raise ServiceError(409, f"cannot train {m.name}: {error}")

    def _context(self, job: Job) -> dict[str, Any]:
        """What submit() knew that the worker does not need (lineage, config, tags). Kept in
        memory; after a restart it is rebuilt from the params (lineage then lacks the
        submit-time git state)."""
        found = self._pending.pop(job.id, None)
        if found is not None:
            return found
        m = self.models.get(job.params["model"])
        config = dataclasses.asdict(m) if m else {}
        return {"lineage": {"data": job.params["data"], "config_hash": config_hash(config),
                            "seed": job.params.get("seed"), "recovered": True},
                "config": config, "actor": job.actor, "reason": None, "tags": {}}

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        ctx = self._context(job)
        name = job.params["model"]
        lineage = {**ctx["lineage"], "job_id": job.id, "versions": result.get("versions"),
                   "model_sha": result["model_sha"],
                   "holdout_predictions_sha": result.get("holdout_predictions_sha")}
        experiment = (ctx["config"].get("experiment") or name)
        run_id = run_repo.new_run_id()
        metric_points: list[tuple[str, float, int, Any]] = [
            (k, float(v), result.get("best_iteration") or 0, None)
            for k, v in result["metrics"].items() if isinstance(v, int | float)
        ]
        for split, series in (result.get("curves") or {}).items():
            for metric, values in series.items():
                metric_points += [(f"{split}_{metric}", float(v), i + 1, None)
                                  for i, v in enumerate(values)]
        params = {**{f"lgb.{k}": v for k, v in (result.get("lgb_params_effective") or {}).items()},
                  "rounds": job.params["rounds"], "early_stopping": job.params["early_stopping"],
                  "holdout": job.params["split"]["holdout"], "seed": job.params["seed"],
                  "data": lineage.get("selector", {}).get("resolved") or "",
                  "task": job.params["task"], "target": job.params["target"]}
        tags = {"model": name, "trigger": ctx["actor"], **ctx["tags"]}
        if ctx.get("reason"):
            tags["reason"] = ctx["reason"]
        with self.store.transaction() as cur:
            run_repo.insert_run(cur, run_id=run_id, experiment=experiment, model=name,
                                lineage=lineage, job_id=job.id, state="finished",
                                started_at=job.started_at, ended_at=datetime.now(UTC))
            run_repo.insert_batch(cur, run_id, params=params, tags=tags, metrics=metric_points)
            version = model_repo.register_version(
                cur, model=name, task=job.params["task"], artifact_sha=result["model_sha"],
                signature=result["signature"], signature_hash=signature_hash(result["signature"]),
                data_key=lineage.get("data_key") or canonical_hash(job.params["data"]),
                config_hash=lineage.get("config_hash", ""), metrics=result["metrics"],
                run_id=run_id, description=ctx["config"].get("description") or None,
                evaluation=evaluation(result),
            )
            self.bus.publish(RunEnded(run_id=run_id, state="finished"))
            if version.registered_now:
                entry = audit.append(self.store, actor=job.actor, action="model.register",
                                     subject=f"model:{name}",
                                     details={"version": version.version, "run_id": run_id,
                                              "job_id": job.id})
                self.bus.publish(ModelRegistered(
                    model=name, version=version.version, run_id=run_id,
                    reason=version.bump_reason or "", via="train"), audit=entry)
        log.info("trained %s:%s (run %s, %s)", name, version.version, run_id, version.bump_reason)
        return {"model": name, "version": version.version, "run_id": run_id,
                "bump_reason": version.bump_reason, "metrics": result["metrics"],
                "model_sha": result["model_sha"], "timings": result.get("timings")}

    # --- reproduce -------------------------------------------------------------------------

    def reproduce(self, name: str, version: str, *, actor: str) -> Job:
        """Retrain `name:version` from its lineage (the same data versions, read back
        hash-checked, and the same job params) and compare the result with the original."""
        registered = model_repo.get_version(self.store, name, version)
        if registered.run_id is None:
            raise NotFound(f"{name}:{version} has no run to reproduce (logged from the SDK?)")
        run = run_repo.get_run(self.store, registered.run_id)
        original_job = (run.lineage or {}).get("job_id")
        if original_job is None:
            raise NotFound(f"the run of {name}:{version} records no training job")
        params = job_repo.get_job(self.store, original_job).params
        with self.store.transaction():
            job = self.runner.submit("reproduce", params, actor=actor)
            audit.append(self.store, actor=actor, action="model.reproduce",
                         subject=f"model:{name}", details={"version": version,
                                                           "job_id": job.id})
        self._pending[job.id] = {"model": name, "version": version,
                                 "model_sha": registered.artifact_sha, "lineage": run.lineage}
        return job

    def _compare(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        original = self._pending.pop(job.id, None)
        if original is None:
            raise RuntimeError("the daemon restarted during the reproduction; run it again")
        lineage = original["lineage"] or {}
        same_model = result["model_sha"] == original["model_sha"]
        same_predictions = (result.get("holdout_predictions_sha")
                            == lineage.get("holdout_predictions_sha"))
        differences = []
        if not same_model:
            differences.append(f"model text differs: {original['model_sha'][:12]} was "
                               f"registered, {result['model_sha'][:12]} was trained now")
        if not same_predictions:
            differences.append("holdout predictions differ")
        then, now = lineage.get("versions") or {}, result.get("versions") or {}
        for library in sorted(set(then) | set(now)):
            if then.get(library) != now.get(library):
                differences.append(f"{library}: {then.get(library)} then, "
                                   f"{now.get(library)} now")
        identical = same_model and same_predictions
        # The retrained bytes hash to the registered sha, so they are the registered model:
        # a corrupt stored copy was rewritten with them by the artifact store.
        repaired = same_model and bool(result.get("repaired_blob"))
        serves_again = False
        if repaired:
            log.warning("%s:%s: its corrupt artifact was rewritten from the reproduction",
                        original["model"], original["version"])
            serves_again = any([hook(original["model"], original["version"])
                                for hook in self.repaired_hooks])
        self.bus.publish(ModelReproduced(model=original["model"], version=original["version"],
                                         identical=identical, repaired=repaired))
        return {"model": original["model"], "version": original["version"],
                "identical": identical, "model_sha": result["model_sha"],
                "registered_sha": original["model_sha"], "differences": differences,
                "repaired": repaired, "serves_again": serves_again}

    def _finished(self, job: Job) -> None:
        if job.kind == "reproduce":
            self._pending.pop(job.id, None)
        if job.kind != "train" or job.state == "succeeded":
            return
        ctx = self._context(job)
        name = job.params["model"]
        if job.state == "failed":
            # A failed training is still a run: its params and why it failed; recorded with
            # its event and its alert in one transaction.
            with self.store.transaction() as cur:
                run_id = run_repo.new_run_id()
                experiment = ctx["config"].get("experiment") or name
                run_repo.insert_run(cur, run_id=run_id, experiment=experiment, model=name,
                                    lineage=ctx["lineage"], job_id=job.id, state="failed",
                                    started_at=job.started_at, ended_at=job.ended_at)
                cur.execute("UPDATE runs SET error = ? WHERE id = ?", [job.error, run_id])
                self.bus.publish(RunEnded(run_id=run_id, state="failed"))
                self.alerts.raise_(rule="job_failed", subject=f"model:{name}",
                                   severity="warning",
                                   message=f"training {name} failed: {job.error}",
                                   detail={"job_id": job.id})
