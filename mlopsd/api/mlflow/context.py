"""What the MLflow routes share: the daemon, who is asking (for the audit log), MLflow ids
parsed, page tokens, and pages of runs rendered with what MLflow shows of each."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from mlopsd.api.mlflow import render
from mlopsd.api.mlflow.errors import INVALID, MlflowError
from mlopsd.api.pages import cursor_in, cursor_out
from store import mlflow_runs as mlflow_run_repo
from store.db import Store
from store.runs import Run

_NAME_FILTER = re.compile(r"^\s*(?:attributes?\.)?name\s*(=|like|ilike)\s*"
                          r"(?:'([^']*)'|\"([^\"]*)\")\s*$", re.IGNORECASE)
MAX_RESULTS = 50_000
"""The most MLflow's server gives in one page of a search."""


def daemon_of(request: Request) -> Any:
    return request.app.state.daemon


def synced(request: Request) -> Store:
    """The store, with every acknowledged whole run applied to it."""
    daemon = daemon_of(request)
    daemon.run_journal.sync()
    return daemon.store


def actor_of(request: Request) -> str:
    """Who asked, for the audit log: `mlflow@<token name>` (or what the client calls itself
    in X-Mlops-Actor, as our API reads it)."""
    principal = getattr(request.state, "principal", None)
    name = principal.name if principal is not None else "anonymous"
    claim = request.headers.get("x-mlops-actor", "")[:200] or "mlflow"
    return f"{claim}@{name}"


def experiment_id(text: str | None, field: str = "experiment_id") -> int:
    try:
        value = int(text or "")
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise MlflowError(INVALID, f"Invalid value {text!r} for parameter '{field}': an "
                          "experiment id is a number")
    return value


def page_size(value: int | None, default: int) -> int:
    size = default if value is None else value
    if not 1 <= size <= MAX_RESULTS:
        raise MlflowError(INVALID, f"Invalid value {size} for parameter 'max_results': "
                          f"from 1 to {MAX_RESULTS:,}")
    return size


def token_in(token: str | None, listing: str) -> list[Any] | None:
    return cursor_in(token, listing) if token else None


def token_out(key: Sequence[Any] | None, listing: str) -> dict[str, str]:
    token = cursor_out(key, listing)
    return {"next_page_token": token} if token else {}


def runs_json(store: Store, runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Runs as MLflow's client reads them: four queries for the lot, not four per run."""
    ids = [r.id for r in runs]
    experiments = mlflow_run_repo.mlflow_ids(store, [r.experiment for r in runs])
    last = mlflow_run_repo.last_points(store, ids)
    links = mlflow_run_repo.links(store, ids)
    return [render.run(r, experiments.get(r.experiment, -1), last[r.id], links[r.id])
            for r in runs]


def ok(content: Any) -> Response:
    """A reply as MLflow's server gives it (straight to JSON: a page of runs or a metric's
    history through FastAPI's encoder costs more than reading them)."""
    return Response(orjson.dumps(content), media_type="application/json")


def name_pattern(filter_text: str | None, what: str) -> str | None:
    """A LIKE pattern (with `\\` escapes) from MLflow's `name = 'x'` or `name LIKE 'x%'`;
    None when there is no filter."""
    if not filter_text:
        return None
    match = _NAME_FILTER.match(filter_text)
    if match is None:
        raise MlflowError(INVALID, f"filter: mlopsd searches {what} by name only (name = 'x', "
                          "name LIKE 'x%')")
    value = match[2] if match[2] is not None else match[3]
    if match[1] != "=":
        return value
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def dangling_and(filter_text: str) -> MlflowError:
    """A filter of `x = 'a' and` clauses whose last `and` joins nothing."""
    return MlflowError(INVALID, f"filter: {filter_text[:200]!r} ends with 'and': a clause "
                       "must follow it")
