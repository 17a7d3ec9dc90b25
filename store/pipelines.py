"""Retraining pipelines and schedules.

A pipeline is one row: its trigger, state, the steps so far (a JSON list, each step with its
state, times and numbers) and the triggers merged into it. Every change rewrites the row in
one transaction, so a crash leaves the last whole state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, naive_utc, to_json

ACTIVE = ("running", "awaiting_approval")
HELD = "held"
"""A trigger waiting for its cooldown (or a dry run) to pass: not active yet, kept in the
store so a restart does not lose it."""
_COLUMNS = ("id, model, state, trigger, trigger_detail, dry_run, actor, steps, merged, "
            "challenger, champion, reason, created_at, updated_at, ended_at")


@dataclass(frozen=True)
class Pipeline:
    id: int
    model: str
    state: str
    trigger: str
    trigger_detail: Any
    dry_run: bool
    actor: str
    steps: list[dict[str, Any]]
    merged: list[dict[str, Any]]
    challenger: str | None
    champion: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def _pipeline(r: tuple) -> Pipeline:
    return Pipeline(r[0], r[1], r[2], r[3], from_json(r[4]), bool(r[5]), r[6],
                    from_json(r[7]) or [], from_json(r[8]) or [], r[9], r[10], r[11],
                    aware(r[12]), aware(r[13]), aware(r[14]))


def create(store: Store, *, model: str, trigger: str, detail: Any, dry_run: bool,
           actor: str) -> Pipeline:
    now = utcnow()
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO pipelines ({_COLUMNS.split(', ', 1)[1]}) VALUES "
            "(?, 'running', ?, ?, ?, ?, '[]', '[]', NULL, NULL, NULL, ?, ?, NULL) "
            f"RETURNING {_COLUMNS}",
            [model, trigger, to_json(detail), dry_run, actor, now, now]).fetchone()
    return _pipeline(row)


def save(store: Store, pipeline_id: int, *, state: str, steps: list[dict[str, Any]],
         challenger: str | None, champion: str | None, reason: str | None) -> Pipeline:
    """The pipeline's new state and steps, in one transaction; a pipeline that has ended
    stays as it ended."""
    now = utcnow()
    ended = None if state in ACTIVE else now
    with store.transaction() as cur:
        row = cur.execute(
            "UPDATE pipelines SET state = ?, steps = ?, challenger = ?, champion = ?, "
            "reason = ?, updated_at = ?, ended_at = ? WHERE id = ? AND state IN "
            f"('running', 'awaiting_approval') RETURNING {_COLUMNS}",
            [state, to_json(steps), challenger, champion, reason, now, ended,
             pipeline_id]).fetchone()
    return _pipeline(row) if row else get(store, pipeline_id)


def end(store: Store, pipeline_id: int, *, state: str, steps: list[dict[str, Any]],
        challenger: str | None, champion: str | None, reason: str) -> tuple[Pipeline, bool]:
    """The pipeline's end (its audit entry, event and alert are the door's, in the same
    transaction); (the row, whether it ended now: False when it had ended already)."""
    now = utcnow()
    with store.transaction() as cur:
        row = cur.execute(
            "UPDATE pipelines SET state = ?, steps = ?, challenger = ?, champion = ?, "
            "reason = ?, updated_at = ?, ended_at = ? WHERE id = ? AND state IN "
            f"('running', 'awaiting_approval', 'held') RETURNING {_COLUMNS}",
            [state, to_json(steps), challenger, champion, reason, now, now,
             pipeline_id]).fetchone()
        if row is None:  # it had ended already: nothing more to record
            return get_in(cur, pipeline_id), False
    return _pipeline(row), True


def get_in(cur: Any, pipeline_id: int) -> Pipeline:
    row = cur.execute(f"SELECT {_COLUMNS} FROM pipelines WHERE id = ?",
                      [pipeline_id]).fetchone()
    if row is None:
        raise NotFound(f"no pipeline with id {pipeline_id}")
    return _pipeline(row)


def hold(store: Store, *, model: str, trigger: str, detail: Any, dry_run: bool, actor: str,
         why: str) -> Pipeline:
    """A held pipeline for the model (one per model and kind: a later trigger is merged into
    the one already held)."""
    now = utcnow()
    with store.transaction() as cur:
        held = cur.execute("SELECT id, merged FROM pipelines WHERE model = ? AND state = ? AND "
                           "dry_run = ? ORDER BY id LIMIT 1", [model, HELD, dry_run]).fetchone()
        if held is not None:
            merged = [*(from_json(held[1]) or []), {"trigger": trigger, "detail": detail,
                                                     "actor": actor, "dry_run": dry_run,
                                                     "at": aware(now).isoformat()}]
            row = cur.execute(f"UPDATE pipelines SET merged = ?, reason = ?, updated_at = ? "
                              f"WHERE id = ? RETURNING {_COLUMNS}",
                              [to_json(merged), why, now, held[0]]).fetchone()
        else:
            row = cur.execute(
                f"INSERT INTO pipelines ({_COLUMNS.split(', ', 1)[1]}) VALUES "
                "(?, ?, ?, ?, ?, ?, '[]', '[]', NULL, NULL, ?, ?, ?, NULL) "
                f"RETURNING {_COLUMNS}",
                [model, HELD, trigger, to_json(detail), dry_run, actor, why, now, now]
            ).fetchone()
    return _pipeline(row)


def release(store: Store, pipeline_id: int) -> Pipeline | None:
    """A held pipeline starts: running from now (its cooldown counts from here)."""
    now = utcnow()
    with store.transaction() as cur:
        row = cur.execute(f"UPDATE pipelines SET state = 'running', reason = NULL, "
                          f"created_at = ?, updated_at = ? WHERE id = ? AND state = ? "
                          f"RETURNING {_COLUMNS}", [now, now, pipeline_id, HELD]).fetchone()
    return _pipeline(row) if row else None


def merge(store: Store, pipeline_id: int, trigger: dict[str, Any]) -> Pipeline | None:
    """Add a trigger to an active pipeline; None if it has ended meanwhile."""
    with store.transaction() as cur:
        found = cur.execute("SELECT merged FROM pipelines WHERE id = ? AND state IN "
                            "('running', 'awaiting_approval')", [pipeline_id]).fetchone()
        if found is None:
            return None
        merged = [*(from_json(found[0]) or []), trigger]
        row = cur.execute(f"UPDATE pipelines SET merged = ?, updated_at = ? WHERE id = ? "
                          f"RETURNING {_COLUMNS}",
                          [to_json(merged), utcnow(), pipeline_id]).fetchone()
    return _pipeline(row)


def get(store: Store, pipeline_id: int) -> Pipeline:
    with store.reading() as cur:
        return get_in(cur, pipeline_id)


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page(store: Store, *, model: str | None = None, state: str | None = None,
         after: Sequence[Any] | None = None, limit: int = 100) -> Page[Pipeline]:
    """Pipelines, newest first, a page at a time; state "active": running or awaiting
    approval."""
    where, args = [], []
    if model:
        where.append("model = ?")
        args.append(model)
    if state == "active":
        where.append("state IN ('running', 'awaiting_approval')")
    elif state:
        where.append("state = ?")
        args.append(state)
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "pipelines", where, args, NEWEST_FIRST, after, limit,
                          _pipeline)


def listing(store: Store, *, model: str | None = None, state: str | None = None,
            limit: int = 100) -> list[Pipeline]:
    return page(store, model=model, state=state, limit=limit).items


def last_started(store: Store, model: str, triggers: tuple[str, ...]) -> datetime | None:
    """When the model's last pipeline started by one of `triggers` was created."""
    marks = ", ".join("?" for _ in triggers)
    with store.reading() as cur:
        row = cur.execute(f"SELECT max(created_at) FROM pipelines WHERE model = ? AND "
                          f"trigger IN ({marks}) AND state <> ?",
                          [model, *triggers, HELD]).fetchone()
    return aware(row[0]) if row else None


# -- schedules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    id: str
    model: str
    cron: str
    dry_run: bool
    created_at: datetime
    last_run_at: datetime | None


def _schedule(r: tuple) -> Schedule:
    return Schedule(r[0], r[1], r[2], bool(r[3]), aware(r[4]), aware(r[5]))


_SCHEDULE = "id, model, cron, kind = 'retrain_dry_run', updated_at, last_run_at"
BY_MODEL = Order((Key("model", str, nullable=True), Key("id", str)))


def schedules(store: Store) -> list[Schedule]:
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_SCHEDULE} FROM schedules ORDER BY model, id").fetchall()
    return [_schedule(r) for r in rows]


def page_schedules(store: Store, *, after: Sequence[Any] | None = None, limit: int = 100
                   ) -> Page[Schedule]:
    with store.reading() as cur:
        return fetch_page(cur, _SCHEDULE, "schedules", [], [], BY_MODEL, after, limit,
                          _schedule)


def sync_schedules(store: Store, wanted: list[tuple[str, str, str, bool]]
                   ) -> tuple[list[str], list[str]]:
    """Make the stored schedules those of the config: (id, model, cron, dry_run) each.
    Kept ones keep their last run; returns (added ids, removed ids)."""
    now = utcnow()
    with store.transaction() as cur:
        have = {r[0] for r in cur.execute("SELECT id FROM schedules").fetchall()}
        want = {w[0] for w in wanted}
        removed = sorted(have - want)
        for schedule_id in removed:
            cur.execute("DELETE FROM schedules WHERE id = ?", [schedule_id])
        added = []
        for schedule_id, model, cron, dry_run in wanted:
            if schedule_id not in have:
                cur.execute("INSERT INTO schedules (id, model, kind, cron, params, source, "
                            "enabled, last_run_at, updated_at) VALUES (?, ?, ?, ?, NULL, "
                            "'config', true, NULL, ?)",
                            [schedule_id, model, "retrain_dry_run" if dry_run else "retrain",
                             cron, now])
                added.append(schedule_id)
    return added, removed


def mark_run(store: Store, schedule_id: str, at: datetime) -> None:
    with store.transaction() as cur:
        cur.execute("UPDATE schedules SET last_run_at = ? WHERE id = ?",
                    [naive_utc(at), schedule_id])
