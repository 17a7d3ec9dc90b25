"""Alerts: one open alert per rule and subject; a repeat raises its count, not a new row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

SEVERITIES = ("info", "warning", "critical")
_COLUMNS = (
    "id, rule, subject, severity, state, message, detail, count, opened_at, last_seen_at, "
    "updated_at, note"
)


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    subject: str
    severity: str
    state: str
    message: str
    detail: Any
    count: int
    opened_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    note: str | None


def _alert(row: tuple) -> Alert:
    return Alert(row[0], row[1], row[2], row[3], row[4], row[5], from_json(row[6]), row[7],
                 aware(row[8]), aware(row[9]), aware(row[10]), row[11])


def raise_alert(
    store: Store, *, rule: str, subject: str, severity: str, message: str, detail: Any = None
) -> tuple[Alert, bool]:
    """Open an alert, or count a repeat of the one still open; returns (alert, is_new).
    Its audit entry and event are the door's (`mlopsd.services.alerts`), in the same
    transaction."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    now = utcnow()
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE alerts SET count = count + 1, last_seen_at = ?, updated_at = ?, "
            f"message = ?, detail = ?, severity = ? WHERE rule = ? AND subject = ? AND "
            f"state <> 'resolved' RETURNING {_COLUMNS}",
            [now, now, message, to_json(detail), severity, rule, subject],
        ).fetchone()
        if row is not None:
            return _alert(row), False
        row = cur.execute(
            f"INSERT INTO alerts (rule, subject, severity, state, message, detail, opened_at, "
            f"last_seen_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?) "
            f"RETURNING {_COLUMNS}",
            [rule, subject, severity, message, to_json(detail), now, now, now],
        ).fetchone()
    return _alert(row), True


SEEN_LAST_FIRST = Order((Key("last_seen_at", datetime, descending=True),
                         Key("id", int, descending=True)))
"""Most recently seen first. An alert seen again moves to the front: a listing paged
through meanwhile shows it on its first page, not again further on."""


def page_alerts(store: Store, *, state: str | None = None, rule: str | None = None,
                after: Sequence[Any] | None = None, limit: int = 100) -> Page[Alert]:
    """Alerts a page at a time (see store.pages); state "active": not resolved."""
    where, args = [], []
    if state == "active":
        where.append("state <> 'resolved'")
    elif state:
        where.append("state = ?")
        args.append(state)
    if rule:
        where.append("rule = ?")
        args.append(rule)
    with store.reading() as cur:
        return fetch_page(cur, _COLUMNS, "alerts", where, args, SEEN_LAST_FIRST, after, limit,
                          _alert)


def list_alerts(
    store: Store, *, state: str | None = None, rule: str | None = None, limit: int = 100
) -> list[Alert]:
    return page_alerts(store, state=state, rule=rule, limit=limit).items


def get_alert(store: Store, alert_id: int) -> Alert:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", [alert_id]).fetchone()
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    return _alert(row)


def set_state(store: Store, alert_id: int, state: str, *, note: str | None = None) -> Alert:
    """Acknowledge or resolve an alert (a resolved one stays resolved)."""
    if state not in ("acknowledged", "resolved"):
        raise ValueError(f"an alert can be acknowledged or resolved, not {state!r}")
    with store.transaction() as cur:
        row = cur.execute(
            f"UPDATE alerts SET state = ?, note = coalesce(?, note), updated_at = ? "
            f"WHERE id = ? AND state <> 'resolved' RETURNING {_COLUMNS}",
            [state, note, utcnow(), alert_id]).fetchone()
        if row is None:
            found = cur.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?",
                                [alert_id]).fetchone()
            if found is None:
                raise NotFound(f"no alert with id {alert_id}")
            raise Conflict(f"alert {alert_id} is resolved already")
    return _alert(row)


def get(store: Store, alert_id: int) -> Alert:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", [alert_id]).fetchone()
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    return _alert(row)


def resolve(store: Store, rule: str, subject: str, note: str, *,
            unless_version: str | None = None, unversioned_as: str = "",
            only_batch: bool = False) -> list[Alert]:
    """Resolve the active alert of a rule and subject (the door writes the audit entries
    and events in the same transaction). `unless_version`: only one raised about another
    model version (its detail's `model_version`; one raised before alerts named it counts
    as `unversioned_as`), which a new production version makes moot. `only_batch`: only one
    a drift report raised (its detail names the report), not the service watch."""
    where = "rule = ? AND subject = ? AND state <> 'resolved'"
    args: list[Any] = [rule, subject]
    if unless_version is not None:
        where += " AND coalesce(json_extract_string(detail, '$.model_version'), ?) <> ?"
        args += [unversioned_as, unless_version]
    if only_batch:
        where += " AND json_extract(detail, '$.report_id') IS NOT NULL"
    with store.transaction() as cur:
        rows = cur.execute(
            f"UPDATE alerts SET state = 'resolved', note = ?, updated_at = ? WHERE {where} "
            f"RETURNING {_COLUMNS}", [note, utcnow(), *args]).fetchall()
    return [_alert(r) for r in rows]
