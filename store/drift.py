"""Drift reports: one per comparison of current data with a model's reference.

A report is `recorded` when it belongs to the model's drift stream (the daemon's own checks:
they move alerts and the latest one is the model's state); an ad-hoc check a person asked
for is stored with `recorded` false. `status` is drift, no_drift or not_enough_data (no
verdict: `dataset_drift` reads back as None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

_COLUMNS = ("id, model, model_version, dataset, reference, current, dataset_drift, "
            "drift_share, columns, created_at, prediction_drift, prediction, report_sha, job_id, "
            "profile_sha, performance, recorded, rows_reference, rows_current, status, detail")
NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class DriftReport:
    id: int
    model: str | None
    model_version: str | None
    dataset: str
    reference: str
    current: str
    dataset_drift: bool | None
    drift_share: float
    columns: Any
    created_at: datetime
    prediction_drift: bool | None
    prediction: Any
    report_sha: str | None
    job_id: int | None
    profile_sha: str | None
    performance: Any = None
    recorded: bool = True
    rows_reference: int | None = None
    rows_current: int | None = None
    status: str | None = None
    detail: Any = None


def _report(r: tuple) -> DriftReport:
    status = r[19] or ("drift" if r[6] else "no_drift")
    return DriftReport(r[0], r[1], r[2], r[3], r[4], r[5],
                       None if status == NOT_ENOUGH_DATA else r[6], r[7], from_json(r[8]),
                       aware(r[9]), r[10], from_json(r[11]), r[12], r[13], r[14],
                       from_json(r[15]), True if r[16] is None else r[16], r[17], r[18],
                       status, from_json(r[20]))


@dataclass(frozen=True)
class NewReport:
    model: str | None
    model_version: str | None
    dataset: str
    reference: str
    current: str
    dataset_drift: bool | None
    drift_share: float
    columns: Any
    prediction_drift: bool | None
    prediction: Any
    report_sha: str | None
    job_id: int | None
    profile_sha: str | None = None
    performance: Any = None
    recorded: bool = True
    rows_reference: int | None = None
    rows_current: int | None = None
    status: str | None = None
    detail: Any = None


def insert_report_in(cur: Any, new: NewReport) -> DriftReport:
    """Store a report within the caller's transaction (with the alerts it moves)."""
    status = new.status or ("drift" if new.dataset_drift else "no_drift")
    row = cur.execute(
        f"INSERT INTO drift_reports ({_COLUMNS.split(', ', 1)[1]}) VALUES "
        f"({', '.join('?' * 20)}) RETURNING {_COLUMNS}",
        [new.model, new.model_version, new.dataset, new.reference, new.current,
         bool(new.dataset_drift), new.drift_share, to_json(new.columns), utcnow(),
         new.prediction_drift, to_json(new.prediction), new.report_sha, new.job_id,
         new.profile_sha, to_json(new.performance), new.recorded, new.rows_reference,
         new.rows_current, status, to_json(new.detail)]).fetchone()
    return _report(row)


def insert_report(store: Store, new: NewReport) -> DriftReport:
    with store.transaction() as cur:
        return insert_report_in(cur, new)


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page_reports(store: Store, *, model: str | None = None, dataset: str | None = None,
                 recorded: bool | None = None, after: Sequence[Any] | None = None,
                 limit: int = 50) -> Page[DriftReport]:
    """Newest first, a page at a time; `recorded=True`: the drift stream only (its first
    is the latest)."""
    where, args = [], []
    if model:
        where.append("model = ?")
        args.append(model)
    if dataset:
        where.append("dataset = ?")
        args.append(dataset)
    if recorded is not None:
        where.append("coalesce(recorded, true) = ?")
        args.append(recorded)
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "drift_reports", where, args, NEWEST_FIRST, after,
                          limit, _report)


def list_reports(store: Store, *, model: str | None = None, dataset: str | None = None,
                 recorded: bool | None = None, limit: int = 50) -> list[DriftReport]:
    return page_reports(store, model=model, dataset=dataset, recorded=recorded,
                        limit=limit).items


def get_report(store: Store, report_id: int) -> DriftReport:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM drift_reports WHERE id = ?",
                          [report_id]).fetchone()
    if row is None:
        raise NotFound(f"no drift report with id {report_id}")
    return _report(row)


def latest(store: Store, model: str) -> DriftReport | None:
    """The model's latest report of its drift stream."""
    found = list_reports(store, model=model, recorded=True, limit=1)
    return found[0] if found else None


def stored_profile(store: Store, *, model: str, model_version: str,
                   reference: str) -> str | None:
    """The reference profile an earlier report of this version against this reference used."""
    with store.reading() as cur:
        row = cur.execute(
            "SELECT profile_sha FROM drift_reports WHERE model = ? AND model_version = ? AND "
            "reference = ? AND profile_sha IS NOT NULL ORDER BY id DESC LIMIT 1",
            [model, model_version, reference]).fetchone()
    return row[0] if row else None
