"""Our records as MLflow's entities, in the JSON its client parses (protobuf's JSON names):
times in milliseconds since the epoch, ids as text, run status in capitals, NaN and
infinities as "NaN" / "Infinity" (JSON has no such numbers).

Artifact URIs name the artifacts proxy (`mlflow-artifacts:/…`), so the client uploads and
downloads through this daemon, under the folders MLflow's server uses: `EXP/RUN/artifacts`
for a run, `EXP/models/MODEL_ID/artifacts` for a logged model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from store.mlflow_models import LoggedModel, NumberedVersion, RegisteredModel
from store.mlflow_runs import RunLink
from store.run_search import Experiment
from store.runs import MetricPoint, Run


def ms(at: datetime | None) -> int | None:
    return None if at is None else round(at.timestamp() * 1000)


def number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def experiment(e: Experiment, experiment_id: int) -> dict[str, Any]:
    return {"experiment_id": str(experiment_id), "name": e.name,
            "artifact_location": f"mlflow-artifacts:/{experiment_id}",
            "lifecycle_stage": "active", "creation_time": ms(e.created_at),
            "last_update_time": ms(e.last_run_at or e.created_at), "tags": []}


def run_artifacts(experiment_id: int, run_id: str) -> str:
    return f"{experiment_id}/{run_id}/artifacts"


def run_info(run: Run, experiment_id: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id, "run_uuid": run.id,
        "run_name": run.tags.get("mlflow.runName", ""),
        "experiment_id": str(experiment_id), "user_id": run.tags.get("mlflow.user", ""),
        "status": run.state.upper(), "start_time": ms(run.started_at),
        "artifact_uri": f"mlflow-artifacts:/{run_artifacts(experiment_id, run.id)}",
        "lifecycle_stage": "deleted" if run.deleted_at else "active"}
    if run.ended_at is not None:
        info["end_time"] = ms(run.ended_at)
    return info


def metric(point: MetricPoint) -> dict[str, Any]:
    return {"key": point.key, "value": number(point.value), "timestamp": ms(point.at),
            "step": point.step}


def run(r: Run, experiment_id: int, last: Sequence[MetricPoint],
        links: Sequence[RunLink]) -> dict[str, Any]:
    inputs: dict[str, list[Any]] = {}
    outputs: dict[str, list[Any]] = {}
    for link in links:
        if link.direction == "input":
            inputs.setdefault("dataset_inputs" if link.kind == "dataset" else "model_inputs",
                              []).append(link.body)
        else:
            outputs.setdefault("model_outputs", []).append(link.body)
    return {"info": run_info(r, experiment_id),
            "data": {"metrics": [metric(p) for p in last], "params": pairs(r.params),
                     "tags": pairs(r.tags)},
            "inputs": inputs, "outputs": outputs}


def logged_model_artifacts(m: LoggedModel) -> str:
    return f"{m.experiment_id}/models/{m.id}/artifacts"


def logged_model(m: LoggedModel) -> dict[str, Any]:
    return {"info": {
        "model_id": m.id, "experiment_id": str(m.experiment_id), "name": m.name,
        "creation_timestamp_ms": ms(m.created_at), "last_updated_timestamp_ms": ms(m.updated_at),
        "artifact_uri": f"mlflow-artifacts:/{logged_model_artifacts(m)}", "status": m.status,
        "model_type": m.model_type or "", "source_run_id": m.source_run_id or "",
        "tags": pairs(m.tags)},
        "data": {"params": pairs(m.params)}}


def model_version(v: NumberedVersion, status: tuple[str, str | None],
                  aliases: Sequence[str] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": v.model, "version": str(v.number), "creation_timestamp": ms(v.created_at),
        "last_updated_timestamp": ms(v.updated_at), "current_stage": "None",
        "description": v.description or "", "source": v.source, "run_id": v.run_id or "",
        "status": status[0], "tags": pairs(v.tags), "aliases": list(aliases), "run_link": ""}
    if status[1]:
        found["status_message"] = status[1]
    if v.model_id:
        found["model_id"] = v.model_id
    return found


def registered_model(m: RegisteredModel, latest: Sequence[dict[str, Any]],
                     aliases: dict[str, int]) -> dict[str, Any]:
    return {"name": m.name, "creation_timestamp": ms(m.created_at),
            "last_updated_timestamp": ms(m.updated_at), "description": m.description or "",
            "latest_versions": list(latest), "tags": pairs(m.tags),
            "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(aliases.items())]}
