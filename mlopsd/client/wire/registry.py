"""The model registry: models, versions, aliases and their history, training requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlopsd.client.wire.common import NAME, Inbound


class TrainRequest(Inbound):
    reason: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ExportRequest(Inbound):
    format: Literal["container", "c"] = Field(
        description="container: the model, its signature, a prediction server with the "
        "daemon's /v1 contract and a Dockerfile; c: the model compiled to dependency-free C "
        "with a header, a Makefile and an example program")
    reason: str | None = None


class AliasRequest(Inbound):
    version: str
    reason: str | None = None


class RollbackRequest(Inbound):
    alias: str = Field(default="production", pattern=NAME)
    reason: str | None = None


class ModelOut(BaseModel):
    name: str
    created_at: datetime
    task: str
    description: str | None
    aliases: dict[str, str] = Field(description="alias → version")
    latest: str | None


class ModelVersionOut(BaseModel):
    model: str
    version: str
    created_at: datetime
    artifact_sha: str
    signature: Any = Field(description='{"inputs": [{name, dtype, categorical, categories}], '
                           '"target": {name, dtype, classes}, "task", "threshold"}: what '
                           "jobs.features.to_matrix takes")
    metrics: Any
    run_id: str | None
    archived: bool
    signature_hash: str | None
    data_key: str | None
    config_hash: str | None
    bump_reason: str | None


class AliasMoveOut(BaseModel):
    id: int
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    actor: str
    reason: str | None
    at: datetime
    kind: str
