"""What MLflow's client needs of experiments and runs beyond ours: experiments made by
name and found by number, runs marked as MLflow's, set to any state, deleted and
restored, a tag removed, each metric's last point with its step and time, and the
datasets and models a run logged as inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store import run_search
from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.rows import aware, from_json, naive_utc, to_json
from store.runs import RUN_STATES, MetricPoint, ensure_experiment

DEFAULT_EXPERIMENT = "Default"
"""MLflow's experiment 0, where its client puts runs when no experiment was set."""


def mlflow_id(experiment: run_search.Experiment) -> int:
    """An experiment's MLflow id: its number, except that "Default" is 0 (as in MLflow)."""
    return 0 if experiment.name == DEFAULT_EXPERIMENT else experiment.id


def experiment_for(store: Store, experiment_id: int) -> run_search.Experiment:
    """The experiment an MLflow id names (0: "Default", which exists before its first run,
    as MLflow's does)."""
    if experiment_id == 0:
        try:
            return run_search.get_experiment(store, DEFAULT_EXPERIMENT)
        except NotFound:
            return run_search.Experiment(DEFAULT_EXPERIMENT, datetime.fromtimestamp(0, UTC),
                                         0, 0, None, 0)
    return run_search.experiment_by_id(store, experiment_id)


def mlflow_ids(store: Store, names: Sequence[str]) -> dict[str, int]:
    """The MLflow ids of these experiments (for a page of runs)."""
    with store.reading() as cur:
        rows = cur.execute("SELECT name, id FROM experiments WHERE list_contains(?, name)",
                           [list(set(names))]).fetchall()
    return {name: 0 if name == DEFAULT_EXPERIMENT else int(number) for name, number in rows}


def create_experiment(store: Store, name: str) -> run_search.Experiment:
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM experiments WHERE name = ?", [name]).fetchone():
            raise Conflict(f"an experiment named {name!r} exists already")
        ensure_experiment(cur, name)
    return run_search.get_experiment(store, name)


def mark_mlflow(cur: Any, run_id: str) -> None:
    """Within the caller's transaction: the run is MLflow's (no heartbeat is expected)."""
    cur.execute("UPDATE runs SET via = 'mlflow' WHERE id = ?", [run_id])


def _existing(cur: Any, run_id: str) -> tuple[str, datetime | None]:
    row = cur.execute("SELECT state, deleted_at FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"no run with id {run_id}")
    return row[0], row[1]


def set_state(store: Store, run_id: str, state: str, *, ended_at: datetime | None) -> str:
    """MLflow's update_run: any state, any time (a run ended is resumed by setting it
    running). Returns the state it had."""
    if state not in RUN_STATES:
        raise ValueError(f"{state!r} is not a run state ({', '.join(RUN_STATES)})")
    with store.transaction() as cur:
        before, _ = _existing(cur, run_id)
        ended = None if state == "running" else naive_utc(ended_at or utcnow())
        cur.execute("UPDATE runs SET state = ?, ended_at = ?, last_seen_at = ? WHERE id = ?",
                    [state, ended, utcnow(), run_id])
    return before


def set_deleted(store: Store, run_id: str, deleted: bool) -> None:
    with store.transaction() as cur:
        _existing(cur, run_id)
        cur.execute("UPDATE runs SET deleted_at = ? WHERE id = ?",
                    [utcnow() if deleted else None, run_id])


def delete_tag(store: Store, run_id: str, key: str) -> None:
    with store.transaction() as cur:
        _existing(cur, run_id)
        if cur.execute("DELETE FROM run_tags WHERE run_id = ? AND key = ? RETURNING 1",
                       [run_id, key]).fetchone() is None:
            raise NotFound(f"run {run_id} has no tag {key!r}")


def last_points(store: Store, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
    """Each run's last point of each metric (by step, then time), with its step and time."""
    found: dict[str, list[MetricPoint]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return found
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT run_id, key, arg_max(value, (step, logged_at)), max(step), "
            "arg_max(logged_at, (step, logged_at)) FROM run_metrics "
            "WHERE list_contains(?, run_id) GROUP BY run_id, key ORDER BY run_id, key",
            [list(run_ids)]).fetchall()
    for run_id, key, value, step, at in rows:
        found[run_id].append(MetricPoint(key, value, step, aware(at)))
    return found


@dataclass(frozen=True)
class RunLink:
    run_id: str
    direction: str  # input | output
    kind: str  # dataset | model
    body: Any


def add_links(store: Store, run_id: str, direction: str, kind: str,
              bodies: Sequence[Any]) -> None:
    if not bodies:
        return
    with store.transaction() as cur:
        _existing(cur, run_id)
        now = utcnow()
        for body in bodies:
            cur.execute("INSERT INTO mlflow_run_links VALUES (?, ?, ?, ?, ?)",
                        [run_id, direction, kind, to_json(body), now])


def links(store: Store, run_ids: Sequence[str]) -> dict[str, list[RunLink]]:
    found: dict[str, list[RunLink]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return found
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT run_id, direction, kind, body FROM mlflow_run_links "
            "WHERE list_contains(?, run_id) ORDER BY logged_at", [list(run_ids)]).fetchall()
    for row in rows:
        found[row[0]].append(RunLink(row[0], row[1], row[2], from_json(row[3])))
    return found


def dataset_digests(store: Store, run_id: str) -> list[str]:
    """The digests of the datasets a run logged as inputs (what it was trained on)."""
    return sorted({str(link.body.get("dataset", {}).get("digest"))
                   for link in links(store, [run_id])[run_id]
                   if link.kind == "dataset" and isinstance(link.body, dict)
                   and link.body.get("dataset", {}).get("digest")})

