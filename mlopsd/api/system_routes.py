"""Health, status and the event stream (the audit log: audit_routes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.responses import StreamingResponse

from mlopsd import __version__
from mlopsd.api.params import MAX_QUERY_TEXT, AfterId
from mlopsd.api.wire_out import out
from mlopsd.client.events import json_schema
from mlopsd.client.wire import (
    Health,
    SchedulerEntryOut,
    SchedulerStatus,
    Status,
    WorkerPool,
)
from mlopsd.metrics import render
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
        last_event_id=d.bus.last_id(),
    )


@router.get(
    "/events",
    summary="Server-Sent Events of what happens in the daemon",
    description=(
        "Each event is `id:`, `event:` (its name, e.g. `job.succeeded`) and `data:`, the "
        "envelope `{id, at, type, data, audit_id}` whose `data` is the payload the event "
        "catalogue gives that name (`GET /api/v1/events/schema`). Ids count up across "
        "restarts. Reconnect with `Last-Event-ID` (or `after`) to receive every event after "
        "it that is still kept (the newest 100,000, none older than 7 days); older ones are "
        "announced by a `stream.lost` event (no id) saying how many were missed. `types` "
        "filters by name or prefix (`job` matches `job.*`)."
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
    position = bus.last_id() if after is None else after

    async def stream() -> AsyncIterator[bytes]:
        nonlocal position
        waiter = bus.waiter()
        try:
            yield b": connected\n\n"
            while not bus.closing:
                waiter.flag.clear()
                batch = bus.read(position, wanted, memory_only=True) or \
                    await asyncio.to_thread(bus.read, position, wanted)
                if batch.lost is not None:
                    # No id: it is said to this reader, not kept (and a client that only
                    # takes events with an id passes over it).
                    yield _sse(None, batch.lost.name, {
                        "at": datetime.now(UTC).isoformat(), "type": batch.lost.name,
                        "data": batch.lost.model_dump(mode="json")})
                for event in batch.events:
                    yield _sse(event.id, event.type, event.envelope())
                position = batch.upto
                if batch.events or batch.lost is not None:
                    continue
                try:
                    await asyncio.wait_for(waiter.flag.wait(), SSE_KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            bus.forget(waiter)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/events/schema", summary="The event catalogue as a JSON schema",
            description="Every event name the stream can carry and its payload's schema: "
            "the envelope with one branch per name (`oneOf`), the names in `x-events`.")
def events_schema() -> dict[str, Any]:
    return json_schema()


def _sse(event_id: int | None, type: str, payload: dict) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {type}\ndata: ".encode() + orjson.dumps(payload) + b"\n\n"
