"""The prediction log: one row per scored row, written in batches off the request path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from store.db import Store, utcnow
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, naive_utc


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


def prune(store: Store, before: datetime) -> tuple[int, int]:
    """Delete the predictions logged before `before` and the feedback on them, in the
    transaction open on this thread (the caller's, with its audit entry and event);
    (predictions, feedback) deleted. Request ids begin with their time in milliseconds, and
    rows are appended in time order, so DuckDB's per-row-group min/max finds the old rows
    without an index."""
    cutoff = naive_utc(before)
    with store.transaction() as cur:
        feedback = cur.execute(
            "DELETE FROM feedback f WHERE EXISTS (SELECT 1 FROM prediction_log p WHERE "
            "p.predicted_at < ? AND p.model = f.model AND p.request_id = f.request_id)",
            [cutoff]).fetchone()
        predictions = cur.execute("DELETE FROM prediction_log WHERE predicted_at < ?",
                                  [cutoff]).fetchone()
    return (predictions[0] if predictions else 0), (feedback[0] if feedback else 0)


NEWEST_FIRST = Order((Key("p.predicted_at", datetime, descending=True),
                      Key("p.request_id", str), Key("p.row_index", int)))
# The label is the newest feedback for the row, if any came back.
_LOGGED = ("p.request_id, p.row_index, p.model, p.version, p.served_as, p.predicted_at, "
           "p.latency_ms, p.inputs, p.output, (SELECT f.label FROM feedback f WHERE "
           "f.model = p.model AND f.request_id = p.request_id AND (f.row_index IS NULL OR "
           "f.row_index = p.row_index) ORDER BY f.received_at DESC LIMIT 1)")


def _logged(r: tuple) -> LoggedPrediction:
    return LoggedPrediction(r[0], r[1], r[2], r[3], r[4], aware(r[5]), r[6], from_json(r[7]),
                            from_json(r[8]), from_json(r[9]))


def page_predictions(store: Store, *, model: str | None = None,
                     request_id: str | None = None, after: Sequence[Any] | None = None,
                     limit: int = 100) -> Page[LoggedPrediction]:
    """The prediction log, newest first, a page at a time."""
    where, args = [], []
    if model:
        where.append("p.model = ?")
        args.append(model)
    if request_id:
        where.append("p.request_id = ?")
        args.append(request_id)
    with store.reading() as cur:
        return fetch_page(cur, _LOGGED, "prediction_log p", where, args, NEWEST_FIRST, after,
                          limit, _logged)


def list_predictions(store: Store, *, model: str | None = None, request_id: str | None = None,
                     limit: int = 100) -> list[LoggedPrediction]:
    return page_predictions(store, model=model, request_id=request_id, limit=limit).items


def add_feedback(store: Store, model: str, request_ids: list[str],
                 row_indexes: list[int | None], labels: list[str], *, source: str) -> int:
    """Labels for logged (or soon logged) predictions; `labels` are JSON texts. Returns how
    many of them match a logged prediction now (the rest may match when the log catches up)."""
    now = utcnow()
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO feedback SELECT ?, unnest(?), unnest(?), unnest(?)::JSON, ?, ?",
            [model, request_ids, row_indexes, labels, now, source])
        return cur.execute(
            "SELECT count(*) FROM (SELECT unnest(?) AS request_id, unnest(?) AS row_index) f "
            "WHERE EXISTS (SELECT 1 FROM prediction_log p WHERE p.model = ? AND "
            "p.request_id = f.request_id AND (f.row_index IS NULL OR "
            "p.row_index = f.row_index))", [request_ids, row_indexes, model]).fetchone()[0]


def add_entity_labels(store: Store, dataset: str, ids: list[str], labels: list[str], *,
                      source: str) -> int:
    with store.transaction() as cur:
        cur.execute("INSERT INTO entity_labels SELECT ?, unnest(?), unnest(?)::JSON, ?, ?",
                    [dataset, ids, labels, utcnow(), source])
    return len(ids)


def export_entity_labels(store: Store, dataset: str, path: str) -> int:
    """Write the labels that arrived for a dataset's entities (the newest per id) to a
    Parquet file of (id, label as JSON text); returns how many."""
    target = path.replace("'", "''")
    query = ("SELECT entity_id AS id, CAST(label AS VARCHAR) AS label FROM entity_labels "
             "WHERE dataset = ? QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY "
             "received_at DESC) = 1")
    with store.reading() as cur:
        count = cur.execute(f"SELECT count(*) FROM ({query})", [dataset]).fetchone()[0]
        if count:
            cur.execute(f"COPY ({query}) TO '{target}' (FORMAT PARQUET)", [dataset])
    return int(count)


@dataclass(frozen=True)
class Labelled:
    version: str
    served_as: str
    output: Any
    label: Any


def labelled_predictions(store: Store, model: str, *, id_column: str | None = None,
                         dataset: str | None = None, since: datetime | None = None,
                         limit: int = 1_000_000) -> list[Labelled]:
    """Logged predictions of `model` joined with their labels: feedback by request id (and
    row), and, when the model's dataset has an id column, labels by entity id (the id as
    the prediction request sent it). The newest label wins."""
    args: list[Any] = [model, naive_utc(since) if since else datetime(1970, 1, 1)]
    by_id = ""
    if id_column and dataset:
        by_id = (
            " UNION ALL SELECT p.version, p.served_as, p.output, l.label, l.received_at "
            "FROM prediction_log p JOIN entity_labels l ON l.dataset = ? AND "
            "l.entity_id = json_extract_string(p.inputs, ?) "
            "WHERE p.model = ? AND p.predicted_at >= ?")
        args += [dataset, f"$.{id_column}", model, args[1]]
    sql = (
        "SELECT version, served_as, output, label FROM ("
        "SELECT p.version, p.served_as, p.output, f.label, f.received_at, "
        "p.request_id, p.row_index FROM prediction_log p JOIN feedback f ON "
        "f.model = p.model AND f.request_id = p.request_id AND "
        "(f.row_index IS NULL OR f.row_index = p.row_index) "
        "WHERE p.model = ? AND p.predicted_at >= ?" + (
            by_id.replace("l.received_at", "l.received_at, p.request_id, p.row_index")
            if by_id else "") +
        ") QUALIFY row_number() OVER (PARTITION BY request_id, row_index, served_as, version "
        "ORDER BY received_at DESC) = 1 ORDER BY request_id, row_index LIMIT ?")
    with store.reading() as cur:
        rows = cur.execute(sql, [*args, limit]).fetchall()
    return [Labelled(r[0], r[1], from_json(r[2]), from_json(r[3])) for r in rows]


_CASTS = {"int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN", "string": "VARCHAR",
          "date": "VARCHAR", "datetime": "VARCHAR"}


def export_inputs(store: Store, model: str, *, since: datetime, until: datetime,
                  inputs: list[dict[str, Any]], path: str) -> int:
    """Write the logged inputs of `model`'s answered requests (not shadow answers) between
    two times to a Parquet file, one column per signature input (DuckDB reads the JSON and
    writes the file: no row passes through Python). Returns how many rows."""
    selects = []
    for item in inputs:
        name = str(item["name"]).replace("'", "''")
        quoted = '"' + str(item["name"]).replace('"', '""') + '"'
        cast = _CASTS.get(item.get("dtype"), "VARCHAR")
        if item.get("categorical") and item.get("dtype") != "bool":
            cast = "VARCHAR" if item.get("dtype") == "string" else cast
        selects.append(f"TRY_CAST(json_extract_string(inputs, '$.\"{name}\"') AS {cast}) "
                       f"AS {quoted}")
    where = ("model = ? AND predicted_at >= ? AND predicted_at < ? AND "
             "served_as <> 'shadow'")
    args = [model, naive_utc(since), naive_utc(until)]
    target = path.replace("'", "''")
    with store.reading() as cur:
        count = cur.execute(f"SELECT count(*) FROM prediction_log WHERE {where}",
                            args).fetchone()[0]
        cur.execute(f"COPY (SELECT {', '.join(selects)} FROM prediction_log WHERE {where}) "
                    f"TO '{target}' (FORMAT PARQUET)", args)
    return int(count)


@dataclass(frozen=True)
class ServingBucket:
    start: datetime
    version: str
    served_as: str
    requests: int
    rows: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def serving_buckets(store: Store, model: str, *, since: datetime, until: datetime,
                    bucket_s: float) -> list[ServingBucket]:
    """The model's logged requests between two times in buckets of `bucket_s` seconds (from
    `since`), per version and way of serving, oldest first: requests (a request's rows
    share its id), rows, and latency mean and percentiles over requests."""
    start = naive_utc(since)
    with store.reading() as cur:
        rows = cur.execute(
            "WITH requests AS (SELECT request_id, version, served_as, "
            "min(predicted_at) AS first_at, max(latency_ms) AS latency_ms, count(*) AS n "
            "FROM prediction_log WHERE model = ? AND predicted_at >= ? AND predicted_at < ? "
            "GROUP BY request_id, version, served_as) "
            "SELECT floor(date_diff('microsecond', ?::TIMESTAMP, first_at) / ?)::BIGINT "
            "AS bucket, "
            "version, served_as, count(*), sum(n), avg(latency_ms), "
            "quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM requests "
            "GROUP BY ALL ORDER BY bucket, version, served_as",
            [model, start, naive_utc(until), start, bucket_s * 1_000_000]).fetchall()
    return [ServingBucket(aware(start + timedelta(seconds=bucket * bucket_s)), version,
                          served_as, int(requests), int(n), float(mean), *map(float, q))
            for bucket, version, served_as, requests, n, mean, q in rows]
