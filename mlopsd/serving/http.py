"""The prediction endpoints (`/v1/...`): a plain ASGI handler in front of the control API.

Predictions skip FastAPI's routing, validation and serialisation layers: a single-row
request is parsed, encoded, predicted and answered in a few hundred microseconds, on the
event loop (LightGBM releases the GIL, and a one-row predict is ~20 µs). Concurrent small
requests for one version are predicted in one call (`batcher.py`). Bigger bodies are
decoded and predicted on a thread so the loop keeps answering. Every other path goes to the
control app unchanged.

    GET  /v1/models/{name}                           signature, version, aliases, example
    POST /v1/models/{name}/predict                   the production version answers
    POST /v1/models/{name}@{alias}/predict           the version an alias points at
    POST /v1/models/{name}/versions/{v}/predict      one version
    POST /v1/models/{name}/predict/stream            NDJSON rows in, NDJSON answers out,
                                                     line by line as they arrive
    POST /v1/models/{name}/feedback                  labels for earlier predictions (token)

A prediction follows one route (`dispatch.py` decides who answers), is answered from the
batcher or alone, falls back when the version fails (`fallback.py`), and is then counted,
logged and shadowed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from mlopsd.services.access import Refused, admit
from mlopsd.services.model_names import ModelNames
from mlopsd.services.tokens import TokenBook
from mlopsd.serving.batcher import MicroBatcher
from mlopsd.serving.dispatch import Dispatcher, Route
from mlopsd.serving.errors import ServingError
from mlopsd.serving.fallback import FailureReporter, OnFailure, fall_back
from mlopsd.serving.feedback import read_labels
from mlopsd.serving.inputs import JSON, Batch, body_format, decode
from mlopsd.serving.predicting import answer
from mlopsd.serving.prediction_log import Entry, PredictionLogger
from mlopsd.serving.replies import prediction, prediction_headers, send_error, send_json
from mlopsd.serving.request_ids import new_request_id
from mlopsd.serving.served import NotServed, ServedModels
from mlopsd.serving.shadowing import ShadowScorer
from mlopsd.serving.stats import BatchingStats, ServingStats
from mlopsd.serving.stream import StreamScorer
from store.db import utcnow

log = logging.getLogger("mlops.serving")

INLINE_BYTES = 16 * 1024
"""JSON bodies up to this size are decoded on the event loop (binary formats never are: a
small compressed body can hold a great many rows)."""

Outcome = tuple[Batch, dict[str, Any] | None, Exception | None]
"""The decoded rows, and the model's answer or why it has none."""


class PredictionApp:
    def __init__(self, control: ASGIApp, *, served: ServedModels, logger: PredictionLogger,
                 stats: ServingStats, tokens: TokenBook, require_token: bool, max_rows: int,
                 max_body_bytes: int, fallback: dict[str, Any] | None = None,
                 on_failure: OnFailure | None = None,
                 on_feedback: Callable[[str, list[str], list[int | None], list[str]], int]
                 | None = None, unseen: dict[str, str] | None = None,
                 model_names: ModelNames | None = None, batch_wait_ms: float = 0.2,
                 batch_max_rows: int = 128, batching: BatchingStats | None = None) -> None:
        self.control, self.served, self.logger, self.stats = control, served, logger, stats
        self.dispatch = Dispatcher(served, defaults=fallback, model_names=model_names)
        self.batcher = MicroBatcher(wait_s=batch_wait_ms / 1000, max_rows=batch_max_rows,
                                    stats=batching)
        self.reporter = FailureReporter(on_failure)
        self.shadows = ShadowScorer(logger)
        self.unseen = unseen or {}
        self.stream = StreamScorer(stats, logger, self.reporter, self.unseen)
        self.on_feedback = on_feedback or (lambda *_: 0)
        self.tokens = tokens
        self._require_token = require_token
        self.max_rows, self.max_body_bytes = max_rows, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.control(scope, receive, send)
            return
        request_id = ""
        try:
            request_id = _header(scope, b"x-request-id")[:200] or new_request_id()
            await self._route(scope, receive, send, request_id)
        except ServingError as exc:
            await send_error(send, exc, request_id)
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("unhandled error on %s %s (ref %s)", scope["method"], scope["path"],
                          ref)
            await send_error(send, ServingError(
                500, f"internal error; the daemon log has the details (ref {ref})"),
                request_id)

    async def _route(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        parts = scope["path"].rstrip("/").split("/")[1:]
        if len(parts) < 3 or parts[1] != "models":
            raise ServingError(404, "no such endpoint: predictions are POST "
                               "/v1/models/{name}/predict")
        if self._require_token:  # on loopback predictions are open, as reads are
            self._admit(scope)
        name, _, alias = parts[2].partition("@")
        rest = parts[3:]
        method = scope["method"]
        if not rest:
            if method != "GET":
                raise ServingError(405, f"{method} /v1/models/{{name}}: use GET", allow="GET")
            await self._describe(send, name)
            return
        if rest == ["feedback"]:
            if method != "POST":
                raise ServingError(405, f"{method} /v1/models/{{name}}/feedback: use POST",
                                   allow="POST")
            await self._feedback(scope, receive, send, name)
            return
        version, stream = None, False
        if rest[0] == "versions" and len(rest) >= 3 and rest[2] == "predict":
            version, rest = rest[1], rest[2:]
        if rest == ["predict", "stream"]:
            stream = True
        elif rest != ["predict"]:
            raise ServingError(404, f"no such endpoint under /v1/models/{parts[2]}: use "
                               "/predict or /predict/stream")
        if method != "POST":
            raise ServingError(405, f"{method} on a predict endpoint: use POST", allow="POST")
        if stream:
            route = await self.dispatch.target(name, alias or None, version)
            await self.stream(receive, send, request_id, route)
            return
        started = time.perf_counter()
        route = await self.dispatch.route(name, alias or None, version,
                                          _header(scope, b"x-client-key"))
        try:
            await self._predict(scope, receive, send, request_id, route, started)
        except ServingError as exc:
            if exc.status < 500:  # a refused request counts once, as the client's error
                self.stats.record(route.model.key, time.perf_counter() - started, ok=True,
                                  rows=0, client_error=True)
            raise

    # --- predict --------------------------------------------------------------------------

    async def _predict(self, scope: Scope, receive: Receive, send: Send, request_id: str,
                       route: Route, started: float) -> None:
        model = route.model
        explain = _flag(scope, "explain")
        batch, found, failure = await self._outcome(scope, receive, route, explain)
        served_as = route.served_as
        if failure is not None or found is None:
            failed_after = time.perf_counter() - started
            self.stats.record(model.key, failed_after, ok=False, rows=batch.rows)
            if route.arm is not None:
                route.arm.record(failed_after, ok=False, rows=batch.rows)
            model, served_as, found = await fall_back(
                route, batch, explain, failure or RuntimeError("no answer"), request_id,
                self.reporter)
        latency = time.perf_counter() - started
        await send_json(send, 200, prediction(model.name, model.version, request_id, found),
                        prediction_headers(request_id, model.version, served_as,
                                           batch.ignored, batch.unseen))
        if failure is None:
            self.stats.record(model.key, latency, ok=True, rows=batch.rows)
            if route.arm is not None:
                route.arm.record(latency, ok=True, rows=batch.rows)
            if route.shadow is not None:
                self.shadows.offer(route.shadow, batch, found, request_id)
        self.logger.offer(Entry(request_id, model.name, model.version, served_as, utcnow(),
                                latency * 1000, batch.records, found,
                                ignored=batch.ignored, unseen=batch.unseen))

    async def _outcome(self, scope: Scope, receive: Receive, route: Route,
                       explain: bool) -> Outcome:
        """Decode the body and predict: small JSON bodies on the loop, through the batcher
        when nothing about the request is its own (an explanation, a drill); anything bigger
        in one hop to a thread, so the loop keeps answering. A refused body raises."""
        model = route.model
        batchable = not explain and not route.drilled
        if batchable:
            self.batcher.expect(model)  # a batch open meanwhile waits for this request
        joined = False
        try:
            body = await self._body(scope, receive)
            if route.delay_s:
                await asyncio.sleep(route.delay_s)  # a latency drill
            content_type = _header(scope, b"content-type")
            reject = self.unseen.get(model.name) == "reject"
            if len(body) > INLINE_BYTES or explain or body_format(content_type) != JSON:
                return await asyncio.get_running_loop().run_in_executor(
                    None, self._decode_and_answer, body, content_type, route, explain, reject)
            batch = decode(body, content_type, model, max_rows=self.max_rows,
                           reject_unseen=reject)
            if not batchable or batch.rows > self.batcher.max_rows:
                return _answered(route, batch, explain)
            joined = True
            try:
                raw = await self.batcher.predict(model, batch.matrix)
                return batch, answer(model, batch, raw=raw), None
            except Exception as exc:  # the model failed: the fallback decides
                return batch, None, exc
        finally:
            if batchable and not joined:
                self.batcher.leave(model)

    def _decode_and_answer(self, body: bytes, content_type: str, route: Route, explain: bool,
                           reject: bool) -> Outcome:
        batch = decode(body, content_type, route.model, max_rows=self.max_rows,
                       reject_unseen=reject)
        return _answered(route, batch, explain)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ServingError(413, f"the body is {int(declared):,} bytes; this daemon takes "
                               f"at most {self.max_body_bytes:,} ([serving] max_body_mb)",
                               field="body")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ServingError(400, "the client went away before sending its whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ServingError(413, f"the body is over {self.max_body_bytes:,} bytes "
                                   "([serving] max_body_mb)", field="body")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _admit(self, scope: Scope) -> None:
        try:
            admit(self.tokens, scope, token_required=self._require_token)
        except Refused as exc:
            raise ServingError(exc.status, exc.message) from None

    # --- feedback, describe ---------------------------------------------------------------

    async def _feedback(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        """Labels for earlier predictions. A write: it needs the home's token."""
        if not self._require_token:  # else admitted in _route already
            self._admit(scope)
        labels = read_labels(await self._body(scope, receive))
        await self.dispatch.check_known(name)
        matched = await asyncio.get_running_loop().run_in_executor(None, lambda: self.on_feedback(
            name, labels.request_ids, labels.rows, labels.labels))
        await send_json(send, 202, orjson.dumps({
            "model": name, "received": len(labels.request_ids), "matched": matched}))

    async def _describe(self, send: Send, name: str) -> None:
        try:
            model = self.served.live(name)
        except NotServed as exc:
            raise await self.dispatch.not_served(name, exc) from None
        example = {"rows": [model.example_row()]}
        await send_json(send, 200, orjson.dumps({
            "model": name, "version": model.version, "task": model.task,
            "aliases": self.served.aliases_of(name), "signature": model.signature,
            "features": model.features,
            "example_request": {"method": "POST", "path": f"/v1/models/{name}/predict",
                                "body": example},
        }))


def _answered(route: Route, batch: Batch, explain: bool) -> Outcome:
    try:
        return batch, answer(route.model, batch, explain, route.failure_rate), None
    except Exception as exc:  # the model failed: the fallback decides
        return batch, None, exc


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _flag(scope: Scope, name: str) -> bool:
    query = scope.get("query_string", b"")
    if not query:
        return False
    values = parse_qs(query.decode("latin-1")).get(name, [])
    return bool(values) and values[-1].lower() in ("1", "true", "yes")
