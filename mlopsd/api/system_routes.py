"""Health, status, the event stream and the audit log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.responses import StreamingResponse

from mlopsd import __version__
from mlopsd.api.pages import After, cursor_in, page_out
from mlopsd.api.params import MAX_QUERY_TEXT, AfterId, Limit, Text
from mlopsd.api.wire_out import out
from mlopsd.client.wire import (
    AuditEntryOut,
    Health,
    Page,
    SchedulerEntryOut,
    SchedulerStatus,
    Status,
    WorkerPool,
)
from mlopsd.metrics import render
from store import audit
from store import jobs as job_repo

metrics_router = APIRouter(tags=["system"])
router = APIRouter(prefix="/api/v1", tags=["system"])

SSE_KEEPALIVE_S = 15.0


@router.get("/health", response_model=Health, summary="Liveness: answers while the daemon runs")
async def health() -> Health:
    return Health(version=__version__)


@metrics_router.get("/metrics", summary="Prometheus metrics (text format 0.0.4)",
                    response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(render(request.app.state.daemon),
                             media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/status", response_model=Status, summary="What the daemon is and is doing")
def status(request: Request) -> Status:
    d = request.app.state.daemon
    counts = job_repo.count_by_state(d.store)
    return Status(
        version=__version__,
        pid=d.pid,
        home=str(d.home.root),
        host=d.host,
        port=d.port,
        started_at=d.started_at,
        uptime_s=round(time.monotonic() - d.started_monotonic, 3),
        schema_version=d.store.schema_version(),
        scheduler=SchedulerStatus(
            running=d.scheduler.running,
            entries=[out(e, SchedulerEntryOut) for e in d.scheduler.entries()],
        ),
        workers=WorkerPool(
            size=d.runner.workers, running=d.runner.running_jobs(), queued=counts.get("queued", 0)
        ),
        jobs=counts,
        watched_dirs=[str(p) for p in d.watched_dirs()],
        auth="all" if d.require_token_for_reads else "mutating",
        unservable=d.served.problems(),
    )


@router.get(
    "/events",
    summary="Server-Sent Events of what happens in the daemon",
    description=(
        "Each event is `id:`, `event:` (its type, e.g. `job.succeeded`) and `data:` (JSON). "
        "Reconnect with `Last-Event-ID` (or `after`) to receive what was missed from the "
        "recent history. `types` filters by type or prefix (`job` matches `job.*`)."
    ),
    response_class=StreamingResponse,
)
async def events(
    request: Request,
    types: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT,
                                       description="comma-separated types or prefixes")] = None,
    after: AfterId = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    bus = request.app.state.daemon.bus
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip()) if types else None
    if after is None and last_event_id and last_event_id.isdigit() and len(last_event_id) < 19:
        after = int(last_event_id)
    sub, backlog = bus.subscribe(wanted, after)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            for event in backlog:
                yield _sse(event.id, event.type, event.as_dict())
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), SSE_KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if sub.dropped:
                    lost, sub.dropped = sub.dropped, 0
                    yield _sse(None, "stream.lost", {"type": "stream.lost", "data": {"lost": lost}})
                yield _sse(event.id, event.type, event.as_dict())
        finally:
            bus.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event_id: int | None, type: str, payload: dict) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {type}\ndata: ".encode() + orjson.dumps(payload) + b"\n\n"


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
