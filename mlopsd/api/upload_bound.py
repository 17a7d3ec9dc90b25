"""The one bound on files uploaded to our API (a drop, a file `mlops check data` sends):
`[ingest] max_upload_mb`. A declared length past it is refused before a byte is read; a
streamed body is counted as it comes and cut off past it. The caller removes what was
written (the 413 leaves no partial file)."""

from __future__ import annotations

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


def refuse_declared(request: Request, bound: int) -> None:
    """A Content-Length past the bound: refused before anything is written."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bound:
        raise too_large(int(declared), bound, declared=True)


async def stream_into(request: Request, sink: BinaryIO, bound: int) -> int:
    """The body into `sink` (written on a thread: this loop also answers predictions), at
    most `bound` bytes; returns how many were written."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bound:
            raise too_large(size, bound, declared=False)
        await run_in_threadpool(sink.write, chunk)
    return size
