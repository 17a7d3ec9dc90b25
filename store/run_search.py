"""Searching runs (filter, order, pages) and listing experiments.

A search is one keyset page (store.pages) over `runs`, then three queries for the page's
params, tags and last metric values: a page costs the same whether the store holds 100
runs or 10,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store import run_filter
from store.db import Store
from store.errors import NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware
from store.runs import _RUN, Run, _run

_LAST_METRICS = ("WITH last_metrics AS (SELECT run_id, key, arg_max(value, (step, logged_at)) "
                 "AS value FROM run_metrics GROUP BY run_id, key)")


_LIFECYCLES = {"active": "r.deleted_at IS NULL", "deleted": "r.deleted_at IS NOT NULL",
               "all": ""}


def search_runs(store: Store, *, filter: str = "", experiment: str | None = None,
                experiments: Sequence[str] | None = None, model: str | None = None,
                order_by: str | None = None, lifecycle: str = "active",
                after: Sequence[Any] | None = None, limit: int = 100) -> Page[Run]:
    """Runs matching a search expression (see store.run_filter), with their params, tags
    and last metric values, in the order asked for, a page at a time. A cursor belongs to
    its order: page on with the same `order_by`. Deleted runs (MLflow's delete_run) are
    left out unless `lifecycle` is "deleted" or "all"."""
    clauses = run_filter.parse(filter)
    if experiment:
        clauses.append(run_filter.Clause("attribute", "experiment", "=", experiment))
    if experiments is not None:
        if not experiments:
            return Page([], None)
        clauses.append(run_filter.Clause("attribute", "experiment", "IN", list(experiments)))
    if model:
        clauses.append(run_filter.Clause("attribute", "model", "=", model))
    where, args = run_filter.to_sql(clauses)
    conditions = [c for c in (where, _LIFECYCLES[lifecycle]) if c]
    order, join_args, join = run_filter.order_of(order_by)
    columns = ", ".join("r." + c.strip() for c in _RUN.split(","))
    with store.reading() as cur:
        page = fetch_page(cur, columns, f"runs r {join}", conditions,
                          [*join_args, *args], order, after, limit, _run,
                          prefix=_LAST_METRICS)
        runs = page.items
        if not runs:
            return page
        ids = [r.id for r in runs]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        for run_id, key, value in cur.execute(
                "SELECT run_id, key, value FROM run_params WHERE list_contains(?, run_id)",
                [ids]).fetchall():
            params[run_id][key] = value
        for run_id, key, value in cur.execute(
                "SELECT run_id, key, value FROM run_tags WHERE list_contains(?, run_id)",
                [ids]).fetchall():
            tags[run_id][key] = value
        for run_id, key, value in cur.execute(
                "SELECT run_id, key, arg_max(value, (step, logged_at)) FROM run_metrics "
                "WHERE list_contains(?, run_id) GROUP BY run_id, key", [ids]).fetchall():
            metrics[run_id][key] = value
    return Page([Run(**{**r.__dict__, "params": params[r.id], "tags": tags[r.id],
                        "metrics": metrics[r.id]}) for r in runs], page.next)


@dataclass(frozen=True)
class Experiment:
    name: str
    created_at: datetime
    runs: int
    running: int
    last_run_at: datetime | None
    id: int
    """Its number (MLflow's experiment_id)."""


_EXPERIMENT = ("e.name, e.created_at, count(r.id), count(r.id) FILTER (WHERE r.state = "
               "'running'), max(r.started_at), e.id")
_EXPERIMENT_SOURCE = ("experiments e LEFT JOIN runs r ON r.experiment = e.name AND "
                      "r.deleted_at IS NULL")
_EXPERIMENT_GROUP = "GROUP BY e.name, e.created_at, e.id"
BY_NAME = Order((Key("e.name", str),))


def _experiment(r: tuple) -> Experiment:
    return Experiment(r[0], aware(r[1]), int(r[2]), int(r[3]), aware(r[4]), int(r[5]))


def page_experiments(store: Store, *, name_like: str | None = None,
                     after: Sequence[Any] | None = None, limit: int = 100
                     ) -> Page[Experiment]:
    """Experiments by name with their runs counted (those whose name is LIKE `name_like`,
    `\\` escaping: MLflow's search_experiments), a page at a time."""
    where, args = ((["e.name LIKE ? ESCAPE '\\'"], [name_like]) if name_like is not None
                   else ([], []))
    with store.reading() as cur:
        return fetch_page(cur, _EXPERIMENT, _EXPERIMENT_SOURCE, where, args, BY_NAME, after,
                          limit, _experiment, group_by=_EXPERIMENT_GROUP)


def get_experiment(store: Store, name: str) -> Experiment:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_EXPERIMENT} FROM {_EXPERIMENT_SOURCE} WHERE e.name = ? "
                          f"{_EXPERIMENT_GROUP}", [name]).fetchone()
    if row is None:
        raise NotFound(f"no experiment named {name!r}")
    return _experiment(row)


def experiment_by_id(store: Store, experiment_id: int) -> Experiment:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_EXPERIMENT} FROM {_EXPERIMENT_SOURCE} WHERE e.id = ? "
                          f"{_EXPERIMENT_GROUP}", [experiment_id]).fetchone()
    if row is None:
        raise NotFound(f"no experiment with id {experiment_id}")
    return _experiment(row)
