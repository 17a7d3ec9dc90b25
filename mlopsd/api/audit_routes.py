"""The audit log: listed a page at a time, its hash chain verified, exported for a review."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import Limit, Text
from mlopsd.api.wire_out import out
from mlopsd.client.wire import AuditChainedOut, AuditEntryOut, AuditVerifyOut, Page
from store import audit
from store.audit_chain import ChainedEntry

router = APIRouter(prefix="/api/v1", tags=["audit"])

CSV_COLUMNS = ["id", "at", "actor", "action", "subject", "reason", "details", "prev_hash",
               "entry_hash"]
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get("/audit", response_model=Page[AuditEntryOut],
            summary="The audit log, newest first")
def audit_log(
    request: Request,
    action: Text = None,
    subject: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[AuditEntryOut]:
    page = audit.page_entries(request.app.state.daemon.store, action=action, subject=subject,
                              after=cursor_in(after, "audit"), limit=limit)
    return page_out(page, "audit", lambda e: out(e, AuditEntryOut))


@router.get("/audit/verify", response_model=AuditVerifyOut,
            summary="Recompute the audit log's hash chain",
            description="Walks every entry in id order: an entry whose fields no longer give "
            "its hash was changed, one that does not link to the entry before it follows a "
            "removed (or rewritten) entry, one with no hash was written behind the daemon's "
            "back; an event naming an entry the log no longer has shows a removed entry even "
            "at the end. `head` is the newest entry's hash.")
async def audit_verify(request: Request) -> AuditVerifyOut:
    found = await run_in_threadpool(audit.verify, request.app.state.daemon.store)
    chain = found.chain
    return AuditVerifyOut(
        ok=found.ok, entries=chain.entries, first_id=chain.first_id, last_id=chain.last_id,
        head=chain.head, problems=[{"id": i, "problem": p} for i, p in chain.problems],
        orphan_events=[{"event_id": e, "audit_id": a} for e, a in found.orphan_events])


@router.get("/audit/export", summary="The audit log with its hashes, oldest first",
            response_class=StreamingResponse,
            description="Every entry from `since` on (all when absent), oldest first, each "
            "with `prev_hash` and `entry_hash`, as JSON lines or CSV; `mlops audit verify "
            "--file` checks the file with no daemon. Streamed: a log of any size.",
            responses={200: {"content": {MEDIA["jsonl"]: {}, MEDIA["csv"]: {}}}})
def audit_export(
    request: Request,
    since: Annotated[datetime | None, Query(description="only entries at or after this time "
                                            "(ISO 8601; UTC when no zone is given)")] = None,
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv")] = "jsonl",
) -> StreamingResponse:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    entries = audit.chained(request.app.state.daemon.store, since=since)
    lines = _jsonl(entries) if format == "jsonl" else _csv(entries)
    return StreamingResponse(lines, media_type=MEDIA[format])


def _record(entry: ChainedEntry) -> AuditChainedOut:
    return AuditChainedOut(id=entry.id, at=entry.at, actor=entry.actor, action=entry.action,
                           subject=entry.subject, reason=entry.reason, details=entry.details,
                           prev_hash=entry.prev_hash, entry_hash=entry.entry_hash)


def _jsonl(entries: Iterator[ChainedEntry]) -> Iterator[bytes]:
    for entry in entries:
        yield orjson.dumps(_record(entry).model_dump(mode="json")) + b"\n"


def _csv(entries: Iterator[ChainedEntry]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        record = _record(entry).model_dump(mode="json")
        record["details"] = orjson.dumps(record["details"]).decode()
        writer.writerow([record[c] for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
