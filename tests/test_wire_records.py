"""The wire models (what clients read) and the store's records (what the daemon reads from
DuckDB) are written apart, because the client may not import the store. This keeps them in
step, field for field and type for type: a field added to a record and not to its wire
model (or the other way round) fails here, unless the difference is declared below with
its reason."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from mlopsd.client import wire
from mlopsd.runtime.scheduler import ScheduledEntry
from store import (
    alerts,
    audit,
    data,
    deployments,
    drift,
    jobs,
    models,
    pipelines,
    predictions,
    run_search,
    runs,
    tokens,
)
from store.audit_chain import ChainedEntry

# (record(s), wire model, record fields not sent {name: why}, wire-only fields {name: why},
#  fields whose types differ on purpose {name: why})
PAIRS: list[tuple[tuple[type, ...], type[BaseModel], dict[str, str], dict[str, str],
                  dict[str, str]]] = [
    ((jobs.Job,), wire.JobOut, {"log_path": "a path in the home; the log is read through "
                                            "GET /jobs/{id}/log"}, {}, {}),
    ((audit.AuditEntry,), wire.AuditEntryOut, {}, {}, {}),
    ((data.Dataset, data.DatasetSummary), wire.DatasetOut,
     {"schema_declared": "config, not state", "config": "the dataset's config section",
      "dataset": "the summary's record, flattened into the reply"}, {}, {}),
    ((data.DataVersion,), wire.DataVersionOut, {}, {}, {}),
    ((data.Ingest,), wire.IngestOut, {}, {}, {}),
    ((alerts.Alert,), wire.AlertOut, {}, {}, {}),
    ((models.Model,), wire.ModelOut, {}, {}, {}),
    ((models.ModelVersion,), wire.ModelVersionOut,
     {"registered_now": "the store's answer to one register call (made or found), not a "
                        "property of the version"}, {}, {}),
    ((models.AliasMove,), wire.AliasMoveOut, {}, {}, {}),
    ((deployments.Deployment,), wire.DeploymentOut, {}, {}, {}),
    ((drift.DriftReport,), wire.DriftReportOut, {}, {}, {}),
    ((runs.Run,), wire.RunOut, {}, {},
     {"metrics": "NaN and ±inf travel as null (JSON has no such numbers)"}),
    ((runs.MetricPoint,), wire.MetricPointOut, {}, {},
     {"value": "NaN and ±inf travel as null (JSON has no such numbers)"}),
    ((run_search.Experiment,), wire.ExperimentOut, {}, {}, {}),
    ((predictions.LoggedPrediction,), wire.PredictionOut, {}, {}, {}),
    ((predictions.ServingBucket,), wire.ServingBucketOut, {}, {}, {}),
    ((pipelines.Pipeline,), wire.PipelineOut, {}, {}, {}),
    ((pipelines.Schedule,), wire.ScheduleOut, {"created_at": "when the config first named it"},
     {"next_run_at": "the scheduler's, not the store's"}, {}),
    ((ScheduledEntry,), wire.SchedulerEntryOut, {}, {}, {}),
    ((tokens.Token,), wire.TokenOut, {"secret_hash": "never sent: it would let anyone who "
                                                     "reads it test guesses offline"}, {}, {}),
    ((ChainedEntry,), wire.AuditChainedOut, {}, {}, {}),
]


def _record_fields(records: tuple[type, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for record in records:
        hints = typing.get_type_hints(record)
        found.update({f.name: hints[f.name] for f in dataclasses.fields(record)})
    return found


def _wire_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info.annotation for name, info in model.model_fields.items()}


def _shown(annotation: Any) -> str:
    return repr(annotation).replace("typing.", "").replace("datetime.datetime", "datetime")


@pytest.mark.parametrize(("records", "model", "unsent", "wire_only", "retyped"), PAIRS,
                         ids=[p[1].__name__ for p in PAIRS])
def test_wire_models_mirror_store_records(records: tuple[type, ...], model: type[BaseModel],
                                          unsent: dict[str, str], wire_only: dict[str, str],
                                          retyped: dict[str, str]) -> None:
    record, sent = _record_fields(records), _wire_fields(model)
    names = " + ".join(r.__name__ for r in records)
    missing = sorted(set(record) - set(sent) - set(unsent))
    extra = sorted(set(sent) - set(record) - set(wire_only))
    assert not missing, (
        f"{names} has {missing} but {model.__name__} does not: add them to "
        f"mlopsd/client/wire (clients would never see them), or declare here why not")
    assert not extra, (
        f"{model.__name__} has {extra} but {names} does not: the reply would fail to build "
        f"(or always be its default); add them to the record or declare here why")
    stale = sorted((set(unsent) - set(record)) | (set(wire_only) - set(sent)))
    assert not stale, f"declared differences that no longer exist: {stale}"
    differ = {name: (_shown(record[name]), _shown(sent[name])) for name in
              set(record) & set(sent) if _shown(record[name]) != _shown(sent[name])
              and name not in retyped}
    assert not differ, "types differ (record, wire): " + "; ".join(
        f"{name}: {r} vs {w}" for name, (r, w) in sorted(differ.items()))


def test_every_reply_model_of_a_store_record_is_guarded() -> None:
    """A new *Out model built from a store record belongs in PAIRS; the others say why
    not."""
    built_elsewhere = {
        "Health", "Status", "WorkerPool", "SchedulerStatus", "EventOut", "JobKindOut",
        "JobLog", "Upload", "Requeued", "ResolvedSelectorOut", "QualityPointOut",
        "ColumnQualityOut", "Logged", "RetrainOut", "ReloadOut", "ServingOut",
        "ServedSlotOut", "VersionStatsOut", "PredictionLogStatsOut", "ServingStatsOut",
        "CanaryOut", "CanaryPolicyOut", "ShadowOut", "BlueGreenOut", "DeployStatusOut",
        "DeployAbortOut", "DrillOut", "PerformanceOut", "LivePerformanceOut",
        "PredictionsOut", "ServedModelOut", "ExampleRequestOut", "FeedbackOut",
        "ErrorBody", "ErrorResponse", "Page", "JobSubmit", "AuditVerifyOut", "AuditProblem",
        "HomeVerifyOut", "HomeFinding", "TokenMadeOut", "WhoAmI",
        "CheckReport", "CheckItem",  # a check job's result, made by the job and its completion
        # a model card: one document gathered from many records (services/model_cards.py);
        # the records it lists whole are the guarded AliasMoveOut and DeploymentOut
        "ModelCardOut", "CardTextOut", "CardMetricOut", "CardIntervalOut", "CardSliceOut",
        "CardSliceGroupOut", "CardFeatureOut", "CardCurveOut", "CardDataVersionOut",
        "CardColumnOut", "CardTrainingDataOut", "CardLineageOut", "CardDecisionOut"}
    guarded = {p[1].__name__ for p in PAIRS}
    replies = {name for name in wire.__all__ if isinstance(getattr(wire, name), type)
               and issubclass(getattr(wire, name), BaseModel)
               and not issubclass(getattr(wire, name), wire.Inbound)}
    assert replies - guarded - built_elsewhere == set()
