"""Lookups over the ingest records that the repair paths need: the files still in
quarantine (listed, requeued) and the drop a job run again already stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from store.data import _INGEST, NEWEST_FIRST, Ingest, _ingest
from store.db import Store, utcnow
from store.pages import Page, fetch_page
from store.rows import naive_utc


def ended_before(store: Store, dataset: str, source_name: str, received_at: datetime,
                 outcomes: tuple[str, ...]) -> Ingest | None:
    """The ingest that ended this very drop (name and arrival) with one of `outcomes`, if
    one did: a job run again after a kill may find its file already stored and moved to
    .done/ (accepted, duplicate), or moved to quarantine (rejected), by its first run."""
    marks = ", ".join("?" for _ in outcomes)
    with store.reading() as cur:
        row = cur.execute(
            f"SELECT {_INGEST} FROM ingests WHERE dataset = ? AND source_name = ? "
            f"AND received_at = ? AND outcome IN ({marks}) ORDER BY id LIMIT 1",
            [dataset, source_name, naive_utc(received_at), *outcomes]).fetchone()
    return _ingest(row) if row else None


_QUARANTINED = ("outcome = 'rejected' AND requeued_at IS NULL AND quarantine_path IS NOT "
                "NULL")


def page_quarantined(store: Store, dataset: str | None = None, *,
                     after: Sequence[Any] | None = None, limit: int = 100) -> Page[Ingest]:
    """Rejected files still in quarantine (not requeued), newest first, a page at a time."""
    where, args = [_QUARANTINED], []
    if dataset:
        where.append("dataset = ?")
        args.append(dataset)
    with store.reading() as cur:
        return fetch_page(cur, _INGEST, "ingests", where, args, NEWEST_FIRST, after, limit,
                          _ingest)


def quarantined(store: Store, dataset: str | None = None) -> list[Ingest]:
    """Rejected files still in quarantine (not requeued)."""
    where = _QUARANTINED
    args: list[Any] = []
    if dataset:
        where += " AND dataset = ?"
        args.append(dataset)
    with store.reading() as cur:
        rows = cur.execute(
            f"SELECT {_INGEST} FROM ingests WHERE {where} ORDER BY id DESC", args
        ).fetchall()
    return [_ingest(r) for r in rows]


def mark_requeued(store: Store, ingest_id: int) -> None:
    with store.transaction() as cur:
        cur.execute("UPDATE ingests SET requeued_at = ? WHERE id = ?", [utcnow(), ingest_id])
