"""The kinds of job the daemon can run, by name.

Import-light on purpose: the daemon reads this to check a submission, and only the worker
process imports a kind's module (which may load polars or LightGBM).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs import (
    check_mlflow_model,
    check_model,
    compare,
    export,
    ingest,
    labels,
    materialise,
    score,
    selfcheck,
    train,
)
from jobs.context import JobContext
from jobs.drift import params as drift_params


@dataclass(frozen=True)
class JobKind:
    name: str
    target: str
    """"module:function" run in the worker as function(params, context) -> result."""
    check_params: Callable[[dict[str, Any]], dict[str, Any]]
    idempotent: bool
    description: str
    path_params: tuple[str, ...] = ()
    """Params that name files; each must resolve inside the home (jobs.paths.confine)."""

    def load(self) -> Callable[[dict[str, Any], JobContext], Any]:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in [
        JobKind(
            name="selfcheck",
            target="jobs.selfcheck:run",
            check_params=selfcheck.check_params,
            idempotent=True,
            description=selfcheck.DESCRIPTION,
        ),
        JobKind(
            name="ingest",
            target="jobs.ingest:run",
            check_params=ingest.check_params,
            idempotent=True,
            description=ingest.DESCRIPTION,
            path_params=("path",),
        ),
        JobKind(
            # Not retried after a crash: its file is a check's upload, removed at start-up,
            # and whoever asked has had their answer (an interrupted job) already.
            name="check_data",
            target="jobs.ingest:check",
            check_params=ingest.check_params,
            idempotent=False,
            description=ingest.CHECK_DESCRIPTION,
            path_params=("path",),
        ),
        JobKind(
            name="train",
            target="jobs.train:run",
            check_params=train.check_params,
            idempotent=True,
            description=train.DESCRIPTION,
        ),
        JobKind(
            name="reproduce",
            target="jobs.train:run",
            check_params=train.check_params,
            idempotent=True,
            description="Retrain a registered version from its lineage (the same params and "
            "data) to check it reproduces bit for bit.",
        ),
        JobKind(
            name="compare",
            target="jobs.compare:run",
            check_params=compare.check_params,
            idempotent=True,
            description=compare.DESCRIPTION,
        ),
        JobKind(
            # The comparison of the retraining pipeline (the same function and params) for a
            # registered version against production, plus a single-row latency: mlops check
            # model. Its completion judges the gates; nothing is moved or recorded.
            name="gate_model",
            target="jobs.compare:run",
            check_params=compare.check_params,
            idempotent=True,
            description=compare.GATE_DESCRIPTION,
        ),
        JobKind(
            name="check_model",
            target="jobs.check_model:run",
            check_params=check_model.check_params,
            idempotent=True,
            description=check_model.DESCRIPTION,
        ),
        JobKind(
            name="check_mlflow_model",
            target="jobs.check_mlflow_model:run",
            check_params=check_mlflow_model.check_params,
            idempotent=True,
            description=check_mlflow_model.DESCRIPTION,
        ),
        JobKind(
            name="drift",
            target="jobs.drift.job:run",
            check_params=drift_params.check_params,
            idempotent=True,
            description=drift_params.DESCRIPTION,
        ),
        JobKind(
            name="labels",
            target="jobs.labels:run",
            check_params=labels.check_params,
            idempotent=True,
            description=labels.DESCRIPTION,
            path_params=("path",),
        ),
        JobKind(
            name="score",
            target="jobs.score:run",
            check_params=score.check_params,
            idempotent=True,
            description=score.DESCRIPTION,
            path_params=("source", "output"),
        ),
        JobKind(
            name="export",
            target="jobs.export:run",
            check_params=export.check_params,
            idempotent=True,
            description=export.DESCRIPTION,
        ),
        JobKind(
            name="materialise",
            target="jobs.materialise:run",
            check_params=materialise.check_params,
            idempotent=True,
            description=materialise.DESCRIPTION,
        ),
    ]
}
