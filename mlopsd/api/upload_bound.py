"""How an upload is bounded: a drop or a file `mlops check data` sends by `[ingest]
max_upload_mb`, a file MLflow's client logs by `[tracking] max_artifact_mb` (with its own
error shape). A declared length past it is refused before a byte is read; a
streamed body is counted as it comes and cut off past it. The caller removes what was
written (the 413 leaves no partial file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from mlopsd.api.errors import ApiError

SETTING = "[ingest] max_upload_mb"


def max_upload_bytes(request: Request) -> int:
    """The bound of the config in force (it can be reloaded)."""
    return int(request.app.state.daemon.config.ingest.max_upload_mb * (1 << 20))


def too_large(size: int, bound: int, *, declared: bool) -> ApiError:
    said = f"declares {size:,} bytes" if declared else f"passed {bound:,} bytes"
    return ApiError(413, f"the upload {said}: at most {bound:,} bytes are taken ({SETTING})",
                    field="body")


Refusal = Callable[[int, bool], Exception]
"""(size, declared) -> the error to raise: ours by default; MLflow's routes pass theirs."""


def refuse_declared(request: Request, bound: int, refuse: Refusal | None = None) -> None:
    """A Content-Length past the bound: refused before anything is written."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bound:
        raise (refuse or _ours(bound))(int(declared), True)


async def stream_into(request: Request, sink: BinaryIO, bound: int,
                      refuse: Refusal | None = None) -> int:
    """The body into `sink` (written on a thread: this loop also answers predictions), at
    most `bound` bytes; returns how many were written."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bound:
            raise (refuse or _ours(bound))(size, False)
        await run_in_threadpool(sink.write, chunk)
    return size


def _ours(bound: int) -> Refusal:
    return lambda size, declared: too_large(size, bound, declared=declared)
