"""Drift reports: one per comparison of a current data version with a model's reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.rows import aware, from_json, to_json

_COLUMNS = ("id, model, model_version, dataset, reference, current, dataset_drift, "
            "drift_share, columns, created_at, prediction_drift, prediction, report_sha, job_id, "
            "profile_sha, performance")


@dataclass(frozen=True)
class DriftReport:
    id: int
    model: str | None
    model_version: str | None
    dataset: str
    reference: str
    current: str
    dataset_drift: bool
    drift_share: float
    columns: Any
    created_at: datetime
    prediction_drift: bool | None
    prediction: Any
    report_sha: str | None
    job_id: int | None
    profile_sha: str | None
    performance: Any = None


def _report(r: tuple) -> DriftReport:
    return DriftReport(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], from_json(r[8]),
                       aware(r[9]), r[10], from_json(r[11]), r[12], r[13], r[14],
                       from_json(r[15]))


def insert_report(store: Store, *, model: str | None, model_version: str | None, dataset: str,
                  reference: str, current: str, dataset_drift: bool, drift_share: float,
                  columns: Any, prediction_drift: bool | None, prediction: Any,
                  report_sha: str | None, job_id: int | None,
                  profile_sha: str | None = None, performance: Any = None) -> DriftReport:
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO drift_reports ({_COLUMNS.split(', ', 1)[1]}) VALUES "
            f"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            [model, model_version, dataset, reference, current, dataset_drift, drift_share,
             to_json(columns), utcnow(), prediction_drift, to_json(prediction), report_sha,
             job_id, profile_sha, to_json(performance)]).fetchone()
    return _report(row)


def list_reports(store: Store, *, model: str | None = None, dataset: str | None = None,
                 limit: int = 50) -> list[DriftReport]:
    where, args = [], []
    if model:
        where.append("model = ?")
        args.append(model)
    if dataset:
        where.append("dataset = ?")
        args.append(dataset)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM drift_reports {clause} "
                           "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    return [_report(r) for r in rows]


def stored_profile(store: Store, *, model: str, model_version: str,
                   reference: str) -> str | None:
    """The reference profile an earlier report of this version against this reference used."""
    with store.reading() as cur:
        row = cur.execute(
            "SELECT profile_sha FROM drift_reports WHERE model = ? AND model_version = ? AND "
            "reference = ? AND profile_sha IS NOT NULL ORDER BY id DESC LIMIT 1",
            [model, model_version, reference]).fetchone()
    return row[0] if row else None
