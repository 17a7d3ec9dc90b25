"""Every API error is JSON `{"error": {"code", "message", "field"?}}`; no traceback leaves."""

from __future__ import annotations

import errno
import logging
import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jobs.context import InvalidParams
from mlopsd.api.openapi import allowed_methods
from mlopsd.runtime.runner import UnknownJobKind
from mlopsd.services.errors import ServiceError
from mlopsd.services.job_requests import DaemonKind
from store.errors import Conflict, DiskFull, NotFound, StoreError, is_disk_full
from store.pages import BadCursor

log = logging.getLogger("mlops.api")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media",
          422: "invalid", 500: "internal", 503: "unavailable", 507: "disk_full"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or _CODES.get(status, "error")
        self.field = field


def error_response(status: int, message: str, *, code: str | None = None,
                   field: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if field:
        body["field"] = field
    return Response(orjson.dumps({"error": body}), status_code=status,
                    media_type="application/json", headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, code=exc.code, field=exc.field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint; see /openapi.json"
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path with
            # GET and POST routes must say both.
            allowed = allowed_methods(app, request.url.path) or ["GET"]
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            message = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        return error_response(exc.status_code, message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        return error_response(422, f"{field}: {first.get('msg')}", field=field or None)

    @app.exception_handler(InvalidParams)
    async def _params(_: Request, exc: InvalidParams) -> Response:
        return error_response(422, str(exc), field=f"params.{exc.field}")

    @app.exception_handler(DaemonKind)
    async def _daemon_kind(_: Request, exc: DaemonKind) -> Response:
        return error_response(403, str(exc), field="kind")

    @app.exception_handler(UnknownJobKind)
    async def _kind(_: Request, exc: UnknownJobKind) -> Response:
        return error_response(422, str(exc), field="kind")

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> Response:
        return error_response(exc.status, exc.message, code=exc.code, field=exc.field)

    @app.exception_handler(BadCursor)
    async def _cursor(_: Request, exc: BadCursor) -> Response:
        return error_response(422, f"after: not a cursor of this listing ({exc})",
                              field="after")

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> Response:
        return error_response(404, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> Response:
        return error_response(409, str(exc))

    @app.exception_handler(DiskFull)
    async def _disk_full(_: Request, exc: DiskFull) -> Response:
        log.error("refused a change: %s", exc)
        return error_response(507, str(exc))

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> Response:
        log.error("store error: %s", exc)
        return error_response(503, f"the metadata store failed: {exc}")


def disk_full_response() -> Response:
    return error_response(507, "the disk holding the home is full: nothing was stored; free "
                               "space and retry")


class CatchAllMiddleware:
    """Outermost guard: an unexpected exception becomes a JSON 500 with a reference to the
    daemon log, where the traceback is written."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if is_disk_full(exc):
                log.error("refused %s %s: the disk is full (%s)", scope.get("method"),
                          scope.get("path"), exc)
                if not started:
                    await disk_full_response()(scope, receive, send)
                return
            unwritable = _unwritable(exc)
            if unwritable is not None:
                log.error("refused %s %s: %s", scope.get("method"), scope.get("path"),
                          unwritable)
                if not started:
                    await error_response(503, f"the home cannot be written ({unwritable}): "
                                         "nothing was stored; make it writable and retry"
                                         )(scope, receive, send)
                return
            ref = uuid.uuid4().hex[:12]
            log.exception("unhandled error on %s %s (ref %s)", scope.get("method"),
                          scope.get("path"), ref)
            if not started:
                response = error_response(
                    500, f"internal error; the daemon log has the details (ref {ref})"
                )
                await response(scope, receive, send)



def _unwritable(exc: BaseException) -> str | None:
    """A read-only or forbidden file system under the request (EROFS, EACCES, EPERM), said
    with the file it was about; None for anything else."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.EROFS, errno.EACCES,
                                                         errno.EPERM):
            where = f": {seen.filename}" if seen.filename else ""
            return f"{seen.strerror or seen}{where}"
        seen = seen.__cause__ or seen.__context__
    return None
