"""The OpenAPI document says every status an endpoint can return, and covers `/v1`.

FastAPI documents a route's success and its 422; the errors our middleware and services
raise (401 without the token, 404 for what a path names, 409 for a conflict, 413 for a
body past a limit, 507 when the disk is full …) are added here by rule, once, from what
each route takes. The prediction endpoints are a plain ASGI app in front of FastAPI
(mlopsd/serving/http.py), so their paths are written out below by hand.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from mlopsd.client.wire import ErrorResponse, FeedbackOut, PredictionsOut, ServedModelOut

_WHY = {
    400: "The body cannot be read (not JSON, cut short)",
    401: "The home's token is missing or wrong (mutating calls; every call beyond loopback)",
    403: "Not something this API lets anyone do",
    404: "What the path names does not exist",
    409: "The request conflicts with the current state (named in the message)",
    413: "The body is larger than this daemon takes",
    415: "The body's Content-Type is not one this endpoint reads",
    422: "A parameter or field is invalid (named in `field`)",
    503: "The model cannot serve right now (the message says why)",
    507: "The disk is full: nothing was changed; retry once space is freed",
}
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _error(status: int, why: str | None = None) -> dict[str, Any]:
    return {"description": why or _WHY[status], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


def document_errors(schema: dict[str, Any], extra: dict[str, tuple[int, ...]]) -> None:
    """Add, in place, the error statuses each operation can return, by rule from what it
    takes. `extra` maps a path to statuses only it returns (403 for POST /api/v1/jobs)."""
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            body = "requestBody" in operation
            statuses = {401}  # every call needs the token when bound beyond loopback
            if params or body:
                statuses.add(422)
            # what a path names, or a model a filter names (one 404 for an unknown model)
            if any(p["in"] == "path" or p["name"] == "model" for p in params):
                statuses.add(404)
            if body:
                statuses |= {400, 413}
            if method.upper() in _MUTATING:
                statuses |= {400, 404, 409, 422, 507}
            statuses |= set(extra.get(path, ()))
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(str(status), _error(status))
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(error.pop("$defs", {}))
    components["ErrorResponse"] = error


_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"}}
_ERRORS_PREDICT = (400, 401, 404, 405, 413, 415, 422, 500, 503)


def _responses(ok: int, description: str, errors: tuple[int, ...],
               reply: type[BaseModel] | None = None) -> dict[str, Any]:
    schema = ({"$ref": f"#/components/schemas/{reply.__name__}"} if reply is not None
              else {"type": "object"})
    out: dict[str, Any] = {str(ok): {"description": description,
                                     "content": {"application/json": {"schema": schema}}}}
    for status in errors:
        out[str(status)] = _error(status, _WHY.get(status) or {
            405: "The endpoint takes another method (see Allow)",
            500: "The model failed and no fallback could answer"}[status])
    return out


_PREDICT_BODY = {
    "required": True,
    "description": "Rows as JSON (`{\"rows\": [{input: value}]}` or `{\"columns\": {input: "
                   "[values]}}`), or a CSV, Parquet or Arrow IPC body with its Content-Type.",
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "rows": {"type": "array", "items": {"type": "object"}},
            "columns": {"type": "object", "additionalProperties": {"type": "array"}}}}},
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        "application/vnd.apache.arrow.stream": {"schema": {"type": "string",
                                                           "format": "binary"}},
    },
}
_EXPLAIN = {"name": "explain", "in": "query", "required": False,
            "schema": {"type": "boolean"}, "description": "add per-feature contributions"}


def _predict(summary: str, extra_params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"post": {"tags": ["predict"], "summary": summary,
                     "parameters": [_NAME, *extra_params, _EXPLAIN],
                     "requestBody": _PREDICT_BODY,
                     "responses": _responses(200, "Predictions (and labels, classes, "
                                             "contributions)", _ERRORS_PREDICT,
                                             PredictionsOut)}}


SERVING_PATHS: dict[str, Any] = {
    "/v1/models/{name}": {"get": {
        "tags": ["predict"], "summary": "What the production version takes, with an example "
        "request that works when posted", "parameters": [_NAME],
        "responses": _responses(200, "The model's signature and an example", (401, 404, 405),
                                ServedModelOut)}},
    "/v1/models/{name}/predict": _predict("Predict with the production version (or its "
                                          "canary, by X-Client-Key)", []),
    "/v1/models/{name}/versions/{version}/predict": _predict(
        "Predict with one version", [{"name": "version", "in": "path", "required": True,
                                      "schema": {"type": "string", "maxLength": 64}}]),
    "/v1/models/{name}/predict/stream": {"post": {
        "tags": ["predict"], "summary": "NDJSON in, NDJSON out: one answer per line as the "
        "lines arrive; a bad line gets an error line and the stream goes on",
        "parameters": [_NAME],
        "requestBody": {"required": True, "content": {"application/x-ndjson": {
            "schema": {"type": "string"}}}},
        "responses": _responses(200, "One JSON answer per line", (401, 404, 405, 503))}},
    "/v1/models/{name}/feedback": {"post": {
        "tags": ["predict"], "summary": "Labels for earlier predictions: [{request_id, "
        "label, row?}] (needs the token)", "parameters": [_NAME],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["request_id", "label"], "properties": {
                    "request_id": {"type": "string", "maxLength": 200},
                    "label": {}, "row": {"type": "integer", "minimum": 0,
                                         "maximum": 2**31 - 1}}}}}}},
        "responses": _responses(202, "How many labels matched a logged prediction",
                                (400, 401, 404, 405, 413, 422), FeedbackOut)}},
}


def install(app: FastAPI, extra: dict[str, tuple[int, ...]]) -> None:
    """Serve a document with every error status and the /v1 prediction paths."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            document_errors(schema, extra)
            schema["paths"] = {**schema["paths"], **SERVING_PATHS}
            components = schema["components"]["schemas"]
            for reply in (PredictionsOut, ServedModelOut, FeedbackOut):
                found = reply.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[reply.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ALLOWED: list[tuple[re.Pattern[str], list[str]]] = []


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the document lists for `path` (a 405's Allow header)."""
    if not _ALLOWED:
        # Literal segments win over parameters (/aliases/history before /aliases/{alias}).
        templates = sorted(app.openapi()["paths"].items(), key=lambda t: t[0].count("{"))
        for template, operations in templates:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            _ALLOWED.append((re.compile(f"^{pattern}$"),
                             sorted(m.upper() for m in operations)))
    for pattern, methods in _ALLOWED:
        if pattern.match(path):
            return methods
    return []
