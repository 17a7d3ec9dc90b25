"""Experiments and runs: params, tags, metrics (final and per step) and lineage."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.rows import aware, from_json, naive_utc, to_json

RUN_STATES = ("running", "finished", "failed", "killed")
_RUN = (
    "id, experiment, state, started_at, ended_at, last_seen_at, note, lineage, job_id, model, "
    "error, deleted_at"
)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    at: datetime


@dataclass(frozen=True)
class Run:
    id: str
    experiment: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    note: str | None
    lineage: Any
    job_id: int | None
    model: str | None
    error: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    """The last value of each metric (by step, then time)."""
    deleted_at: datetime | None = None
    """When MLflow's client deleted it (hidden from searches; restorable)."""


def _run(row: tuple) -> Run:
    return Run(row[0], row[1], row[2], aware(row[3]), aware(row[4]), aware(row[5]), row[6],
               from_json(row[7]), row[8], row[9], row[10], deleted_at=aware(row[11]))


def new_run_id() -> str:
    return uuid.uuid4().hex


def ensure_experiment(cur: Any, name: str) -> None:
    """Within the caller's transaction: the experiment, made with the next number if new
    (its id: MLflow's experiment_id; the store's one writer makes max + 1 safe)."""
    # Look before inserting: an upsert costs a write (~1 ms) even when the row exists.
    if cur.execute("SELECT 1 FROM experiments WHERE name = ?", [name]).fetchone() is None:
        cur.execute("INSERT INTO experiments (name, created_at, id) SELECT ?, ?, "
                    "coalesce(max(id), 0) + 1 FROM experiments", [name, utcnow()])


def insert_run(
    cur: Any,
    *,
    run_id: str,
    experiment: str,
    state: str = "running",
    model: str | None = None,
    note: str | None = None,
    lineage: Any = None,
    job_id: int | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    error: str | None = None,
    now: datetime | None = None,
) -> None:
    """Within a transaction (the caller's): a run and its experiment, if new."""
    ensure_experiment(cur, experiment)
    now = now or utcnow()
    if ended_at is None and state != "running":
        ended_at = now
    cur.execute(
        "INSERT INTO runs (id, experiment, state, started_at, ended_at, last_seen_at, note, "
        "lineage, job_id, model, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, experiment, state, naive_utc(started_at) if started_at else now,
         naive_utc(ended_at) if ended_at else None, now, note, to_json(lineage), job_id, model,
         error],
    )


@dataclass(frozen=True)
class MetricColumns:
    """Metric points as parallel lists, the form the SDK sends: 10,000 points become one
    statement and no per-point Python objects. `at` is seconds since the Unix epoch (UTC)."""

    keys: list[str]
    values: list[float]
    steps: list[int]
    at: list[float]

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_points(cls, points: Iterable[tuple[str, float, int, datetime | None]]
                    ) -> MetricColumns:
        now = utcnow().replace(tzinfo=UTC).timestamp()
        columns = cls([], [], [], [])
        for key, value, step, at in points:
            columns.keys.append(key)
            columns.values.append(float(value))
            columns.steps.append(int(step))
            columns.at.append(now if at is None else
                              (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp())
        return columns


Metrics = MetricColumns | Iterable[tuple[str, float, int, datetime | None]]


def insert_batch(
    cur: Any,
    run_id: str,
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    metrics: Metrics = (),
    new_run: bool = False,
) -> int:
    """Within a transaction: params (set once), tags (last value wins), metric points
    (appended). Returns how many metric points were added. `new_run` skips the look-up of
    params already set (a run created in this transaction has none)."""
    if params:
        existing = {} if new_run else dict(cur.execute(
            "SELECT key, value FROM run_params WHERE run_id = ?", [run_id]).fetchall())
        for key, value in params.items():
            text = str(value)
            if key in existing and existing[key] != text:
                raise Conflict(f"param {key!r} of run {run_id} is already {existing[key]!r}; "
                               "params are set once")
        fresh = {k: str(v) for k, v in params.items() if k not in existing}
        if fresh:
            cur.execute("INSERT INTO run_params SELECT ?, unnest(?), unnest(?)",
                        [run_id, list(fresh), list(fresh.values())])
    if tags:
        cur.execute(
            "INSERT INTO run_tags SELECT ?, unnest(?), unnest(?) ON CONFLICT (run_id, key) "
            "DO UPDATE SET value = excluded.value",
            [run_id, list(tags), [str(v) for v in tags.values()]],
        )
    columns = metrics if isinstance(metrics, MetricColumns) else MetricColumns.from_points(
        metrics)
    if columns.keys:
        if not len(columns.keys) == len(columns.values) == len(columns.steps) == len(
                columns.at):
            raise ValueError("metric columns key, value, step and at differ in length")
        # One statement over lists (here and above): DuckDB's executemany inserts row by
        # row (10,000 points: 8 s against 0.06 s).
        cur.execute(
            "INSERT INTO run_metrics SELECT ?, unnest(?), unnest(?), unnest(?), "
            "make_timestamp(unnest(?))",
            [run_id, columns.keys, columns.values, columns.steps,
             [round(t * 1_000_000) for t in columns.at]],
        )
    if not new_run:
        cur.execute("UPDATE runs SET last_seen_at = ? WHERE id = ?", [utcnow(), run_id])
    return len(columns.keys)


@dataclass(frozen=True)
class NewRun:
    """A run about to be written with its first (or only) batch: checked and normalised,
    not yet stored. The whole-run journal keeps these until they are applied."""

    id: str
    experiment: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    now: datetime
    model: str | None = None
    note: str | None = None
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: MetricColumns = field(default_factory=lambda: MetricColumns([], [], [], []))

    def record(self) -> Run:
        """The run as a read would return it: built from what is written, not read back."""
        last: dict[str, tuple[int, float, float]] = {}
        m = self.metrics
        for key, value, step, at in zip(m.keys, m.values, m.steps, m.at, strict=True):
            if key not in last or (step, at) >= last[key][:2]:
                last[key] = (step, at, value)
        return Run(self.id, self.experiment, self.state, aware(self.started_at),
                   aware(self.ended_at), aware(self.now), self.note, None, None, self.model,
                   self.error, params=dict(self.params), tags=dict(self.tags),
                   metrics={k: v for k, (_, _, v) in last.items()})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "experiment": self.experiment, "state": self.state,
                "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "now": self.now.isoformat(), "model": self.model, "note": self.note,
                "error": self.error, "params": self.params, "tags": self.tags,
                "metrics": [self.metrics.keys, self.metrics.values, self.metrics.steps,
                            self.metrics.at]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NewRun:
        return cls(d["id"], d["experiment"], d["state"],
                   datetime.fromisoformat(d["started_at"]),
                   datetime.fromisoformat(d["ended_at"]) if d["ended_at"] else None,
                   datetime.fromisoformat(d["now"]), d["model"], d["note"], d["error"],
                   d["params"], d["tags"], MetricColumns(*d["metrics"]))


def new_run(*, experiment: str, run_id: str | None = None, model: str | None = None,
            note: str | None = None, tags: dict[str, Any] | None = None,
            params: dict[str, Any] | None = None, metrics: Metrics = (),
            state: str = "running", error: str | None = None,
            started_at: datetime | None = None) -> NewRun:
    if state not in RUN_STATES:
        raise ValueError(f"{state!r} is not a run state ({', '.join(RUN_STATES)})")
    columns = metrics if isinstance(metrics, MetricColumns) else MetricColumns.from_points(
        metrics)
    if not len(columns.keys) == len(columns.values) == len(columns.steps) == len(columns.at):
        raise ValueError("metric columns key, value, step and at differ in length")
    now = utcnow()
    return NewRun(run_id or new_run_id(), experiment, state,
                  naive_utc(started_at) if started_at else now,
                  None if state == "running" else now, now, model, note, error,
                  {k: str(v) for k, v in (params or {}).items()},
                  {k: str(v) for k, v in (tags or {}).items()}, columns)


def insert_new_run(cur: Any, run: NewRun) -> None:
    """Within the caller's transaction."""
    insert_run(cur, run_id=run.id, experiment=run.experiment, model=run.model, note=run.note,
               state=run.state, started_at=run.started_at, ended_at=run.ended_at,
               error=run.error, now=run.now)
    insert_batch(cur, run.id, params=run.params, tags=run.tags, metrics=run.metrics,
                 new_run=True)


def insert_new_runs(cur: Any, runs: list[NewRun]) -> None:
    """Within the caller's transaction: many new runs in five statements whatever their
    number (the whole-run journal applies its batches this way)."""
    if not runs:
        return
    for experiment in {r.experiment for r in runs}:
        ensure_experiment(cur, experiment)
    cur.execute(
        "INSERT INTO runs (id, experiment, state, started_at, ended_at, last_seen_at, note, "
        "model, error) SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), "
        "unnest(?), unnest(?), unnest(?), unnest(?)",
        [[r.id for r in runs], [r.experiment for r in runs], [r.state for r in runs],
         [r.started_at for r in runs], [r.ended_at for r in runs], [r.now for r in runs],
         [r.note for r in runs], [r.model for r in runs], [r.error for r in runs]])
    for table, attr in (("run_params", "params"), ("run_tags", "tags")):
        ids, keys, values = [], [], []
        for r in runs:
            for key, value in getattr(r, attr).items():
                ids.append(r.id)
                keys.append(key)
                values.append(value)
        if ids:
            cur.execute(f"INSERT INTO {table} SELECT unnest(?), unnest(?), unnest(?)",
                        [ids, keys, values])
    ids, keys, values, steps, at = [], [], [], [], []
    for r in runs:
        m = r.metrics
        ids += [r.id] * len(m.keys)
        keys += m.keys
        values += m.values
        steps += m.steps
        at += [round(t * 1_000_000) for t in m.at]
    if ids:
        cur.execute("INSERT INTO run_metrics SELECT unnest(?), unnest(?), unnest(?), "
                    "unnest(?), make_timestamp(unnest(?))", [ids, keys, values, steps, at])


def run_exists(store: Store, run_id: str) -> bool:
    with store.reading() as cur:
        return cur.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is not None


def create_run(store: Store, **kwargs: Any) -> Run:
    """A run with its first (or only) batch, in one transaction (see `new_run` for the
    arguments)."""
    return create_run_from(store, new_run(**kwargs))


def create_run_from(store: Store, run: NewRun) -> Run:
    try:
        with store.transaction() as cur:
            insert_new_run(cur, run)
    except duckdb.ConstraintException:
        raise Conflict(f"a run with id {run.id} exists already") from None
    return run.record()


def _running(cur: Any, run_id: str, *, running_only: bool = True) -> None:
    row = cur.execute("SELECT state, deleted_at FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"no run with id {run_id}")
    if row[1] is not None:
        raise Conflict(f"run {run_id} is deleted; restore it to log to it")
    if running_only and row[0] != "running":
        raise Conflict(f"run {run_id} is {row[0]}; only a running run takes new data")


def log_batch(store: Store, run_id: str, *, params: dict[str, Any] | None = None,
              tags: dict[str, Any] | None = None, metrics: Metrics = (),
              running_only: bool = True) -> int:
    """A batch into a running run (MLflow's client may log to an ended one too:
    `running_only=False`); never into a deleted one."""
    with store.transaction() as cur:
        _running(cur, run_id, running_only=running_only)
        return insert_batch(cur, run_id, params=params, tags=tags, metrics=metrics)


def end_run(store: Store, run_id: str, state: str = "finished", *,
            error: str | None = None, params: dict[str, Any] | None = None,
            tags: dict[str, Any] | None = None, metrics: Metrics = ()) -> int:
    """End a running run, with its last batch in the same transaction. Returns how many
    metric points that batch added."""
    if state not in RUN_STATES or state == "running":
        raise ValueError(f"{state!r} is not a final run state")
    with store.transaction() as cur:
        _running(cur, run_id)
        count = insert_batch(cur, run_id, params=params, tags=tags, metrics=metrics,
                             new_run=False)
        cur.execute("UPDATE runs SET state = ?, ended_at = ?, error = ? WHERE id = ?",
                    [state, utcnow(), error, run_id])
    return count


def fail_stale_runs(store: Store, *, older_than: datetime) -> list[str]:
    """Runs whose client stopped reporting (its process died): failed, never running for
    ever. Not MLflow's (`via`): its client sends no heartbeat, and ends its runs itself."""
    with store.transaction() as cur:
        rows = cur.execute(
            "UPDATE runs SET state = 'failed', ended_at = ?, error = ? WHERE state = 'running' "
            "AND job_id IS NULL AND via IS NULL AND last_seen_at < ? RETURNING id",
            [utcnow(), "the client stopped reporting (its process ended?)",
             naive_utc(older_than)],
        ).fetchall()
    return [r[0] for r in rows]


def get_run(store: Store, run_id: str) -> Run:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_RUN} FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFound(f"no run with id {run_id}")
        params = dict(cur.execute(
            "SELECT key, value FROM run_params WHERE run_id = ?", [run_id]).fetchall())
        tags = dict(cur.execute(
            "SELECT key, value FROM run_tags WHERE run_id = ?", [run_id]).fetchall())
        metrics = dict(cur.execute(
            "SELECT key, arg_max(value, (step, logged_at)) FROM run_metrics WHERE run_id = ? "
            "GROUP BY key", [run_id]).fetchall())
    base = _run(row)
    return Run(**{**base.__dict__, "params": params, "tags": tags, "metrics": metrics})


def metric_history(store: Store, run_id: str, key: str) -> list[MetricPoint]:
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT key, value, step, logged_at FROM run_metrics WHERE run_id = ? AND key = ? "
            "ORDER BY step, logged_at", [run_id, key]).fetchall()
    return [MetricPoint(r[0], r[1], r[2], aware(r[3])) for r in rows]
