"""Exports, the daemon's side: a registered version asked for by name and version becomes a
job `export` (jobs/export/) whose params the daemon fills from the registry and the serving
config, queued with its audit entry in one store transaction. The job hands back one tar
artifact, which `mlops export` downloads (`GET /api/v1/artifacts/{sha}`) and unpacks.

An export changes nothing that is served or decided, but it takes a model out of the
system, so who took which version, and in which form, is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable

from mlopsd.config import ServingConfig
from mlopsd.runtime.runner import JobRunner
from store import audit
from store import models as model_repo
from store.db import Store
from store.jobs import Job


class ExportService:
    def __init__(self, store: Store, runner: JobRunner,
                 serving: Callable[[], ServingConfig]) -> None:
        self.store, self.runner = store, runner
        self.serving = serving
        """The [serving] settings in force: the exported server starts with the same limits
        and unseen-category rule as the daemon's."""

    def submit(self, name: str, version: str, fmt: str, *, actor: str,
               reason: str | None = None) -> Job:
        """Queue the export of `name:version` as `fmt` ("container" or "c"); NotFound for a
        version the registry does not have."""
        registered = model_repo.get_version(self.store, name, version)
        serving = self.serving()
        params = {
            "format": fmt, "model": name, "version": version,
            "sha": registered.artifact_sha, "signature": registered.signature or {},
            "unseen_categories": serving.unseen_categories.get(name, "missing"),
            "limits": {"max_rows": serving.max_rows, "max_body_mb": serving.max_body_mb},
        }
        with self.store.transaction():  # the job, its job.queued and the audit entry
            job = self.runner.submit("export", params, actor=actor)
            audit.append(self.store, actor=actor, action="model.export",
                         subject=f"model:{name}", reason=reason,
                         details={"version": version, "format": fmt, "job_id": job.id})
        return job
