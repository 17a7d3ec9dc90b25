"""What the prediction endpoints send back: JSON bodies with their length (a reply with a
Content-Length goes out in one piece; without it uvicorn frames it as chunks), the headers
that say who answered, and errors in the one shape clients read."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Send

from mlopsd.client.wire import (
    IGNORED_COLUMNS_HEADER,
    UNSEEN_CATEGORIES_HEADER,
    format_unseen_categories,
)
from mlopsd.serving.errors import ServingError

JSON = (b"content-type", b"application/json")
NDJSON = (b"content-type", b"application/x-ndjson")
_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media", 422: "invalid", 500: "internal",
          503: "unavailable"}
_HEADER_LIMIT = 4000
"""Bytes of a descriptive header (ignored columns, unseen categories) at most."""


async def send_json(send: Send, status: int, body: bytes,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        JSON, (b"content-length", str(len(body)).encode()), *(headers or ())]})
    await send({"type": "http.response.body", "body": body})


def prediction(model: str, version: str, request_id: str, answer: dict[str, Any]) -> bytes:
    return orjson.dumps({"model": model, "version": version, "request_id": request_id,
                         **answer})


def prediction_headers(request_id: str, version: str, served_as: str, ignored: list[str],
                       unseen: dict[str, int]) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-request-id", request_id.encode()), (b"x-model-version", version.encode()),
               (b"x-served-as", served_as.encode())]
    if ignored:
        headers.append((IGNORED_COLUMNS_HEADER.encode(),
                        ",".join(ignored).encode()[:_HEADER_LIMIT]))
    if unseen:
        headers.append((UNSEEN_CATEGORIES_HEADER.encode(),
                        format_unseen_categories(unseen).encode()[:_HEADER_LIMIT]))
    return headers


def error_fields(error: ServingError) -> dict[str, Any]:
    """The `error` object of a reply (also one NDJSON stream line's)."""
    found: dict[str, Any] = {"code": error.code or _CODES.get(error.status, "error"),
                             "message": error.message}
    if error.field:
        found["field"] = error.field
    if error.row is not None:
        found["row"] = error.row
    return found


async def send_error(send: Send, error: ServingError, request_id: str) -> None:
    headers = []
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if error.allow:
        headers.append((b"allow", error.allow.encode()))
    await send_json(send, error.status, orjson.dumps({"error": error_fields(error)}), headers)
