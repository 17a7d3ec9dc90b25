"""MLflow's error shape, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "…"}` with the
HTTP status MLflow gives each code, for every reply under its prefix: MLflow's client reads
the code (`RESOURCE_DOES_NOT_EXIST` makes `set_experiment` create the experiment,
`RESOURCE_ALREADY_EXISTS` makes `register_model` add a version).

Our own errors are translated here, once. Statuses MLflow's client retries (429, 500, 502,
503, 504: seven times, backing off for minutes) are kept for what a retry may cure (the
store failing, an unexpected error); a refusal that will not change is never one of them.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mlopsd.api.errors import ApiError
from mlopsd.services.errors import ServiceError
from store.errors import ArtifactError, Conflict, DiskFull, NotFound, StoreError
from store.pages import BadCursor
from store.run_filter import FilterError

log = logging.getLogger("mlops.api")

PREFIX = "/api/2.0"
"""Where MLflow's client finds its API (and the artifacts proxy) under the tracking URI."""

INVALID = "INVALID_PARAMETER_VALUE"
MISSING = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"
LOST = "DATA_LOSS"
STATUS = {INVALID: 400, MISSING: 404, EXISTS: 400, "ENDPOINT_NOT_FOUND": 404,
          "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "RESOURCE_CONFLICT": 409,
          "BAD_REQUEST": 400, "INTERNAL_ERROR": 500, "TEMPORARILY_UNAVAILABLE": 503,
          LOST: 409}
_BY_STATUS = {400: INVALID, 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: MISSING,
              409: "RESOURCE_CONFLICT", 413: INVALID, 422: INVALID}


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS.get(code, 400)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"error_code": code, "message": message}),
                    status_code=status, media_type="application/json", headers=headers)


def refusal(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The auth middleware's 401 or 403, in MLflow's shape."""
    return error_response(status, _BY_STATUS.get(status, "PERMISSION_DENIED"), message,
                          headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(MlflowError)
    async def _mlflow(_: Request, exc: MlflowError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> Response:  # our helpers' (cursors)
        status = 400 if exc.status == 422 else exc.status
        message = exc.message.replace("after:", "page_token:", 1)
        return error_response(status, _BY_STATUS.get(status, INVALID), message)

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> Response:
        return error_response(404, MISSING, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> Response:
        return error_response(400, INVALID, str(exc))

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> Response:
        # A version that cannot be served (503) will not serve on a retry: a conflict.
        status = exc.status if exc.status in _BY_STATUS else 409
        status = 400 if status == 422 else status
        return error_response(status, _BY_STATUS.get(status, INVALID), exc.message)

    @app.exception_handler(FilterError)
    async def _filter(_: Request, exc: FilterError) -> Response:
        return error_response(400, INVALID, f"filter: {exc}")

    @app.exception_handler(BadCursor)
    async def _cursor(_: Request, exc: BadCursor) -> Response:
        return error_response(400, INVALID, f"page_token: not a token of this listing ({exc})")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(400, "BAD_REQUEST", f"{where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, _BY_STATUS.get(exc.status_code, INVALID),
                              f"{request.method} {request.url.path}: {exc.detail}")

    @app.exception_handler(ArtifactError)
    async def _artifact(request: Request, exc: ArtifactError) -> Response:
        # Bytes gone from the artifact store, or rotted, stay so: a retry (MLflow's client
        # retries a 500 for minutes) cannot bring them back.
        log.error("%s %s: %s", request.method, request.url.path, exc)
        missing = "missing" in str(exc)
        return error_response(404 if missing else STATUS[LOST], MISSING if missing else LOST,
                              f"{exc} (`mlops verify` names what else is missing or changed; "
                              "`mlops restore` brings a backup back)")

    @app.exception_handler(DiskFull)
    async def _disk_full(_: Request, exc: DiskFull) -> Response:
        log.error("refused a change: %s", exc)
        return error_response(507, "INTERNAL_ERROR", str(exc))

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> Response:
        log.error("store error: %s", exc)
        return error_response(503, "TEMPORARILY_UNAVAILABLE", f"the metadata store failed: {exc}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette re-raises it after this reply: the outer guard logs the traceback.
        return error_response(500, "INTERNAL_ERROR", "internal error; the daemon log has the "
                              "details")
