"""Deployment history: every step of every deploy (who, when, why, from which version to
which), next to the alias history of the registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

_COLUMNS = "id, model, strategy, from_version, to_version, state, detail, actor, reason, " \
           "started_at, ended_at"


@dataclass(frozen=True)
class Deployment:
    id: int
    model: str
    strategy: str
    from_version: str | None
    to_version: str
    state: str
    detail: Any
    actor: str
    reason: str | None
    started_at: datetime
    ended_at: datetime | None


def _deployment(r: tuple) -> Deployment:
    return Deployment(r[0], r[1], r[2], r[3], r[4], r[5], from_json(r[6]), r[7], r[8],
                      aware(r[9]), aware(r[10]))


def record(cur: Any, *, model: str, strategy: str, from_version: str | None, to_version: str,
           state: str, actor: str, reason: str | None = None, detail: Any = None,
           ended: bool = True) -> int:
    """Within the caller's transaction: one deploy step."""
    now = utcnow()
    return cur.execute(
        f"INSERT INTO deployments ({_COLUMNS.split(', ', 1)[1]}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [model, strategy, from_version, to_version, state, to_json(detail), actor, reason, now,
         now if ended else None]).fetchone()[0]


def history(store: Store, model: str | None = None, limit: int = 100) -> list[Deployment]:
    clause, args = ("WHERE model = ?", [model]) if model else ("", [])
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM deployments {clause} "
                           "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    return [_deployment(r) for r in rows]


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page_history(store: Store, model: str | None = None, *,
                 after: Sequence[Any] | None = None, limit: int = 100) -> Page[Deployment]:
    """Deploy steps, newest first, a page at a time."""
    where, args = (["model = ?"], [model]) if model else ([], [])
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "deployments", where, args, NEWEST_FIRST, after, limit,
                          _deployment)


def start(store: Store, *, model: str, strategy: str, from_version: str | None,
          to_version: str, actor: str, reason: str | None, detail: Any = None) -> int:
    """A deploy that runs for a while (canary, shadow): open until `finish`."""
    with store.transaction() as cur:
        return record(cur, model=model, strategy=strategy, from_version=from_version,
                      to_version=to_version, state="running", actor=actor, reason=reason,
                      detail=detail, ended=False)


def finish(store: Store, deployment_id: int, state: str, detail: Any = None) -> bool:
    """End a running deploy; False when it had ended already."""
    with store.transaction() as cur:
        # Only a running deploy ends: a late second ending (the watch after a person, or the
        # other way round) cannot rewrite what happened.
        row = cur.execute("UPDATE deployments SET state = ?, ended_at = ?, detail = ? "
                          "WHERE id = ? AND state = 'running' RETURNING id",
                          [state, utcnow(), to_json(detail), deployment_id]).fetchone()
    return row is not None


def finish_running(store: Store, reason: str) -> list[tuple[int, str, str, str]]:
    """At start-up: canaries and shadows live in memory, so a restart ends them. Returns
    (id, model, version, strategy) of each."""
    with store.transaction() as cur:
        rows = cur.execute(
            "UPDATE deployments SET state = 'ended', ended_at = ?, "
            "reason = coalesce(reason || '; ', '') || ? WHERE state = 'running' "
            "RETURNING id, model, to_version, strategy", [utcnow(), reason]).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
