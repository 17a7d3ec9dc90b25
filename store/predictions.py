"""The prediction log: one row per scored row, written in batches off the request path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.db import Store
from store.rows import aware, from_json


@dataclass
class PredictionColumns:
    """Rows to log as parallel lists: one INSERT … SELECT unnest(?) per batch."""

    request_id: list[str] = field(default_factory=list)
    row_index: list[int] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    version: list[str] = field(default_factory=list)
    served_as: list[str] = field(default_factory=list)
    predicted_at: list[datetime] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.request_id)


@dataclass(frozen=True)
class LoggedPrediction:
    request_id: str
    row_index: int
    model: str
    version: str
    served_as: str
    predicted_at: datetime
    latency_ms: float
    inputs: Any
    output: Any
    label: Any


def insert_predictions(store: Store, rows: PredictionColumns) -> int:
    if not len(rows):
        return 0
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO prediction_log (request_id, row_index, model, version, served_as, "
            "predicted_at, latency_ms, inputs, output) SELECT unnest(?), unnest(?), unnest(?), "
            "unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)::JSON, unnest(?)::JSON",
            [rows.request_id, rows.row_index, rows.model, rows.version, rows.served_as,
             rows.predicted_at, rows.latency_ms, rows.inputs, rows.output])
    return len(rows)


def list_predictions(store: Store, *, model: str | None = None, request_id: str | None = None,
                     limit: int = 100) -> list[LoggedPrediction]:
    where, args = [], []
    if model:
        where.append("model = ?")
        args.append(model)
    if request_id:
        where.append("request_id = ?")
        args.append(request_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT request_id, row_index, model, version, served_as, predicted_at, latency_ms, "
            f"inputs, output, label FROM prediction_log {clause} "
            "ORDER BY predicted_at DESC, request_id, row_index LIMIT ?", [*args, limit]).fetchall()
    return [LoggedPrediction(r[0], r[1], r[2], r[3], r[4], aware(r[5]), r[6], from_json(r[7]),
                             from_json(r[8]), from_json(r[9])) for r in rows]


def count_predictions(store: Store, model: str | None = None) -> int:
    with store.reading() as cur:
        if model:
            return cur.execute("SELECT count(*) FROM prediction_log WHERE model = ?",
                               [model]).fetchone()[0]
        return cur.execute("SELECT count(*) FROM prediction_log").fetchone()[0]
