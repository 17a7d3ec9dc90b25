"""The job table: the daemon's durable queue and the record of every job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

FINAL_STATES = ("succeeded", "failed", "interrupted", "cancelled")
STATES = ("queued", "running", *FINAL_STATES)

_COLUMNS = (
    "id, kind, params, state, idempotent, attempt, retry_of, actor, created_at, started_at, "
    "ended_at, worker_pid, log_path, error, result, cpu_s, max_rss_mb"
)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    params: dict[str, Any]
    state: str
    idempotent: bool
    attempt: int
    retry_of: int | None
    actor: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    worker_pid: int | None
    log_path: str | None
    error: str | None
    result: Any
    cpu_s: float | None = None
    max_rss_mb: float | None = None


def _job(row: tuple) -> Job:
    return Job(
        id=row[0],
        kind=row[1],
        params=from_json(row[2]),
        state=row[3],
        idempotent=row[4],
        attempt=row[5],
        retry_of=row[6],
        actor=row[7],
        created_at=aware(row[8]),
        started_at=aware(row[9]),
        ended_at=aware(row[10]),
        worker_pid=row[11],
        log_path=row[12],
        error=row[13],
        result=from_json(row[14]),
        cpu_s=row[15],
        max_rss_mb=row[16],
    )


def create_job(
    store: Store,
    kind: str,
    params: dict[str, Any],
    *,
    idempotent: bool,
    actor: str,
    retry_of: int | None = None,
    attempt: int = 1,
) -> Job:
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO jobs (kind, params, state, idempotent, attempt, retry_of, actor, "
            f"created_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            [kind, to_json(params), idempotent, attempt, retry_of, actor, utcnow()],
        ).fetchone()
    return _job(row)


def get_job(store: Store, job_id: int) -> Job:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", [job_id]).fetchone()
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    return _job(row)


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page_jobs(store: Store, *, state: str | None = None, kind: str | None = None,
              after: Sequence[Any] | None = None, limit: int = 100) -> Page[Job]:
    """Jobs, newest first, a page at a time (see store.pages)."""
    where, args = [], []
    if state:
        where.append("state = ?")
        args.append(state)
    if kind:
        where.append("kind = ?")
        args.append(kind)
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "jobs", where, args, NEWEST_FIRST, after, limit, _job)


def list_jobs(
    store: Store, *, state: str | None = None, kind: str | None = None, limit: int = 100
) -> list[Job]:
    return page_jobs(store, state=state, kind=kind, limit=limit).items


def count_by_state(store: Store) -> dict[str, int]:
    with store.reading() as cur:
        rows = cur.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
    return {state: int(n) for state, n in rows}


def claim_next_queued(
    store: Store, accept: Callable[[Job], bool] = lambda job: True, *, look_ahead: int = 500
) -> Job | None:
    """Move the oldest queued job that `accept` takes to running and return it (None when
    there is none)."""
    with store.transaction() as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY id LIMIT ?",
            [look_ahead],
        ).fetchall()
        chosen = next((job for job in map(_job, rows) if accept(job)), None)
        if chosen is None:
            return None
        claimed = cur.execute(
            f"UPDATE jobs SET state = 'running', started_at = ? WHERE id = ? "
            f"RETURNING {_COLUMNS}",
            [utcnow(), chosen.id],
        ).fetchone()
    return _job(claimed)


def set_params(store: Store, job_id: int, params: dict[str, Any]) -> Job:
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE jobs SET params = ? WHERE id = ? RETURNING {_COLUMNS}",
            [to_json(params), job_id],
        ).fetchone()
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    return _job(row)


def set_worker(store: Store, job_id: int, pid: int, log_path: str) -> None:
    with store.transaction() as cur:
        cur.execute(
            "UPDATE jobs SET worker_pid = ?, log_path = ? WHERE id = ?", [pid, log_path, job_id]
        )


def finish_job(
    store: Store,
    job_id: int,
    state: str,
    *,
    error: str | None = None,
    result: Any = None,
    cpu_s: float | None = None,
    max_rss_mb: float | None = None,
) -> Job:
    if state not in FINAL_STATES:
        raise ValueError(f"{state!r} is not a final job state")
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE jobs SET state = ?, ended_at = ?, error = ?, result = ?, cpu_s = ?, "
            f"max_rss_mb = ? WHERE id = ? AND state IN ('queued', 'running') "
            f"RETURNING {_COLUMNS}",
            [state, utcnow(), error, to_json(result), cpu_s, max_rss_mb, job_id],
        ).fetchone()
    if row is None:
        current = get_job(store, job_id)
        raise Conflict(f"job {job_id} is already {current.state}")
    return _job(row)


def requeue(store: Store, job_id: int, *, error: str) -> Job:
    """A running job back to queued, its attempt counted (the disk filled up under it: it
    runs again once space returns, under the same id, so whoever waits on it still does)."""
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE jobs SET state = 'queued', attempt = attempt + 1, started_at = NULL, "
            f"worker_pid = NULL, error = ? WHERE id = ? AND state = 'running' "
            f"RETURNING {_COLUMNS}", [error, job_id]).fetchone()
    if row is None:
        raise Conflict(f"job {job_id} is already {get_job(store, job_id).state}")
    return _job(row)


def interrupt_running(store: Store, reason: str) -> list[Job]:
    """At start-up: jobs a crashed daemon left running can no longer finish."""
    with store.transaction() as cur:
        rows = cur.execute(
            f"UPDATE jobs SET state = 'interrupted', ended_at = ?, error = ? "
            f"WHERE state = 'running' RETURNING {_COLUMNS}",
            [utcnow(), reason],
        ).fetchall()
    return sorted((_job(r) for r in rows), key=lambda j: j.id)


def newest_by_actor(store: Store, kind: str, actor: str) -> Job | None:
    """The newest job of `kind` asked for by `actor` (e.g. a pipeline finding the job it
    submitted just before a crash)."""
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND actor = ? "
                          "ORDER BY id DESC LIMIT 1", [kind, actor]).fetchone()
    return _job(row) if row else None


def last_retry(store: Store, job_id: int) -> Job | None:
    """The end of the chain of retries of `job_id` (queued again after a crash), if any."""
    found = None
    with store.reading() as cur:
        while True:
            row = cur.execute(f"SELECT {_COLUMNS} FROM jobs WHERE retry_of = ? ORDER BY id DESC "
                              "LIMIT 1", [job_id]).fetchone()
            if row is None:
                return found
            found = _job(row)
            job_id = found.id
