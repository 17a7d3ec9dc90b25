"""The prediction endpoints (`/v1/...`): a plain ASGI handler in front of the control API.

Predictions skip FastAPI's routing, validation and serialisation layers: a single-row
request is parsed, encoded, predicted and answered in a few hundred microseconds, on the
event loop (LightGBM releases the GIL, and a one-row predict is ~80 µs). Bigger bodies are
decoded and predicted on a thread so the loop keeps answering. Every other path goes to
the control app unchanged.

    GET  /v1/models/{name}                           signature, version, aliases, example
    POST /v1/models/{name}/predict                   the production version answers
    POST /v1/models/{name}@{alias}/predict           the version an alias points at
    POST /v1/models/{name}/versions/{v}/predict      one version
    POST /v1/models/{name}/predict/stream            NDJSON rows in, NDJSON answers out,
                                                     line by line as they arrive
    POST /v1/models/{name}/feedback                  labels for earlier predictions (token)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from jobs.features import FeatureError, to_matrix
from mlopsd.client.wire import (
    IGNORED_COLUMNS_HEADER,
    UNKNOWN_MODEL,
    UNSEEN_CATEGORIES_HEADER,
    format_unseen_categories,
)
from mlopsd.services.model_names import ModelNames, UnknownModel
from mlopsd.serving.inputs import BadInput, Batch, body_format, check_unseen, decode
from mlopsd.serving.loaded import LoadedModel, LoadError
from mlopsd.serving.prediction_log import Entry, PredictionLogger
from mlopsd.serving.rollout import Shadow
from mlopsd.serving.served import NotServed, ServedModels, Unservable
from mlopsd.serving.stats import ServingStats
from store.db import utcnow
from store.errors import NotFound

log = logging.getLogger("mlops.serving")

MAX_LINE_BYTES = 1024 * 1024
"""A stream line longer than this ends the stream (a line is one row)."""
SHADOW_BACKLOG = 64
"""Shadow predictions waiting at most; beyond, a request is not shadowed (and counted)."""
INLINE_ROWS = 64
"""Up to this many stream lines in one chunk are scored on the event loop."""
INLINE_BYTES = 16 * 1024
"""JSON bodies up to this size are decoded on the event loop (binary formats never are: a
small compressed body can hold a great many rows)."""

_JSON = [(b"content-type", b"application/json")]
_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media", 422: "invalid", 500: "internal",
          503: "unavailable"}


class DrillFailure(RuntimeError):
    """A failure injected on purpose: a canary's `drill_failure_rate`, or a drill on the
    live version (POST /api/v1/models/{name}/drill)."""


class _Fail(Exception):
    def __init__(self, status: int, message: str, field: str | None = None,
                 row: int | None = None, code: str | None = None,
                 allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.row = status, message, field, row
        self.code = code
        self.allow = allow
        """For a 405: the methods the endpoint takes (its Allow header)."""


class PredictionApp:
    def __init__(self, control: ASGIApp, *, served: ServedModels, logger: PredictionLogger,
                 stats: ServingStats, token: str, require_token: bool, max_rows: int,
                 max_body_bytes: int, fallback: dict[str, Any] | None = None,
                 on_failure: Callable[[str, str, str, str], None] | None = None,
                 on_feedback: Callable[[str, list[str], list[int | None], list[str]], int]
                 | None = None, unseen: dict[str, str] | None = None,
                 model_names: ModelNames | None = None) -> None:
        self.control, self.served, self.logger, self.stats = control, served, logger, stats
        self.model_names = model_names
        self.fallback = fallback or {}
        self.on_failure = on_failure or (lambda *_: None)
        self.on_feedback = on_feedback or (lambda *_: 0)
        self.unseen = unseen or {}
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._shadows_in_flight = 0
        self._shadow_lock = threading.Lock()
        self._last_alert: dict[str, float] = {}
        self._expected = f"Bearer {token}".encode()
        self._require_token = require_token
        self.max_rows, self.max_body_bytes = max_rows, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.control(scope, receive, send)
            return
        request_id = ""
        try:
            request_id = _header(scope, b"x-request-id")[:200] or uuid.uuid4().hex
            await self._route(scope, receive, send, request_id)
        except _Fail as exc:
            await _error(send, exc.status, exc.message, exc.field, exc.row, request_id,
                         exc.code, allow=exc.allow)
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("unhandled error on %s %s (ref %s)", scope["method"], scope["path"],
                          ref)
            await _error(send, 500, f"internal error; the daemon log has the details (ref "
                         f"{ref})", None, None, request_id)

    async def _route(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        parts = scope["path"].rstrip("/").split("/")[1:]
        if len(parts) < 3 or parts[1] != "models":
            raise _Fail(404, "no such endpoint: predictions are POST /v1/models/{name}/predict")
        if self._require_token and not hmac.compare_digest(
                _header(scope, b"authorization").encode(), self._expected):
            raise _Fail(401, "this daemon listens beyond loopback: send 'Authorization: "
                        "Bearer <token>' (the token is in HOME/token)")
        name, _, alias = parts[2].partition("@")
        rest = parts[3:]
        method = scope["method"]
        if not rest:
            if method != "GET":
                raise _Fail(405, f"{method} /v1/models/{{name}}: use GET", allow="GET")
            await self._describe(send, name)
            return
        if rest == ["feedback"]:
            if method != "POST":
                raise _Fail(405, f"{method} /v1/models/{{name}}/feedback: use POST",
                            allow="POST")
            await self._feedback(scope, receive, send, name)
            return
        version, stream = None, False
        if rest[0] == "versions" and len(rest) >= 3 and rest[2] == "predict":
            version, rest = rest[1], rest[2:]
        if rest == ["predict", "stream"]:
            stream = True
        elif rest != ["predict"]:
            raise _Fail(404, f"no such endpoint under /v1/models/{parts[2]}: use /predict or "
                        "/predict/stream")
        if method != "POST":
            raise _Fail(405, f"{method} on a predict endpoint: use POST", allow="POST")
        if stream:
            await self._stream(receive, send, request_id, name, alias or None, version)
        else:
            await self._predict(scope, receive, send, request_id, name, alias or None,
                                version)

    # --- predict --------------------------------------------------------------------------

    async def _predict(self, scope: Scope, receive: Receive, send: Send, request_id: str,
                       name: str, alias: str | None, version: str | None) -> None:
        started = time.perf_counter()
        model, served_as = await self._resolve(name, alias, version)
        slot = self.served.slot(name) if served_as == "production" else None
        if slot is not None and slot.stands_in_for:
            served_as = "fallback"  # the previous version answers for one that cannot load
        canary = slot.canary if slot is not None else None
        if canary is not None and canary.takes(_header(scope, b"x-client-key")):
            model, served_as = canary.model, "canary"
        body = await self._body(scope, receive)
        explain = _flag(scope, "explain")
        content_type = _header(scope, b"content-type")
        loop = asyncio.get_running_loop()
        reject = self.unseen.get(name) == "reject"
        drill = canary.drill_failure_rate if served_as == "canary" and canary else 0.0
        delay = 0.0
        if served_as == "production" and slot is not None and slot.drill is not None:
            drill, delay = slot.drill.take()
        if delay:
            await asyncio.sleep(delay)  # a latency drill

        def work() -> tuple[Batch, dict[str, Any] | None, Exception | None]:
            batch = decode(body, content_type, model, max_rows=self.max_rows,
                           reject_unseen=reject)
            try:
                return batch, _answer(model, batch, explain, drill), None
            except Exception as exc:  # the model failed: the fallback decides
                return batch, None, exc

        try:
            # Small JSON bodies on the loop (decode + predict ~0.1 ms for a row); anything
            # bigger in one hop to a thread, so the loop keeps answering.
            small = (len(body) <= INLINE_BYTES and not explain
                     and body_format(content_type) == "json")
            batch, answer, failure = work() if small else await loop.run_in_executor(None, work)
        except BadInput as exc:
            self.stats.record(model.key, time.perf_counter() - started, ok=True, rows=0,
                              client_error=True)
            raise _Fail(exc.status, exc.message, exc.field, exc.row) from None
        if failure is not None or answer is None:
            failed = model
            self.stats.record(failed.key, time.perf_counter() - started, ok=False,
                              rows=batch.rows)
            if canary is not None and served_as in ("canary", "production"):
                arm = canary.candidate if served_as == "canary" else canary.champion
                arm.record(time.perf_counter() - started, ok=False, rows=batch.rows)
            model, served_as, answer = await self._fall_back(
                name, failed, served_as, batch, explain, failure or RuntimeError("no answer"),
                request_id)
        latency = time.perf_counter() - started
        reply = orjson.dumps({"model": model.name, "version": model.version,
                              "request_id": request_id, **answer})
        headers = [*_JSON, (b"x-request-id", request_id.encode()),
                   (b"x-model-version", model.version.encode()),
                   (b"x-served-as", served_as.encode())]
        if batch.ignored:
            headers.append((IGNORED_COLUMNS_HEADER.encode(),
                            ",".join(batch.ignored).encode()[:4000]))
        if batch.unseen:
            headers.append((UNSEEN_CATEGORIES_HEADER.encode(),
                            format_unseen_categories(batch.unseen).encode()[:4000]))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": reply})
        if not served_as.startswith("fallback"):
            self.stats.record(model.key, latency, ok=True, rows=batch.rows)
            if canary is not None:
                arm = canary.candidate if served_as == "canary" else canary.champion
                arm.record(latency, ok=True, rows=batch.rows)
        self.logger.offer(Entry(request_id, model.name, model.version, served_as, utcnow(),
                                latency * 1000, batch.records, answer,
                                ignored=batch.ignored, unseen=batch.unseen))
        shadow = slot.shadow if slot is not None else None
        if shadow is not None and served_as == "production":
            with self._shadow_lock:
                room = self._shadows_in_flight < SHADOW_BACKLOG
                if room:
                    self._shadows_in_flight += 1
            if room:
                future = self._shadow_pool.submit(self._shadow, shadow, batch, answer,
                                                  request_id)
                future.add_done_callback(self._shadow_done)
            else:
                shadow.skipped += 1  # a slow shadow never holds production back

    async def _fall_back(self, name: str, failed: LoadedModel, served_as: str, batch: Batch,
                         explain: bool, exc: Exception, request_id: str
                         ) -> tuple[LoadedModel, str, dict[str, Any]]:
        """A version raised: the live version answers for a failed canary, the previous one
        for a failed live version, and else the configured default. Counted and alerted."""
        loop = asyncio.get_running_loop()
        slot = self.served.slot(name)
        backup = None
        if served_as == "canary" and slot is not None:
            backup = slot.live
        elif served_as == "production" and slot is not None and slot.previous is not None:
            backup = slot.previous
        error = f"{type(exc).__name__}: {exc}"
        if backup is not None and backup is not failed:
            try:
                answer = await loop.run_in_executor(None, _answer, backup, batch, explain, 0.0)
            except Exception:
                log.exception("the fallback %s failed too on request %s", backup.key,
                              request_id)
            else:
                log.warning("%s failed on request %s (%s); %s answered", failed.key,
                            request_id, error, backup.version)
                self._report_failure(name, failed.version, error, f"version {backup.version}")
                return backup, "fallback", answer
        if name in self.fallback and served_as in ("production", "canary"):
            value = self.fallback[name]
            log.warning("%s failed on request %s (%s); the configured default answered",
                        failed.key, request_id, error)
            self._report_failure(name, failed.version, error, "the configured default")
            return failed, "fallback-default", {"predictions": [value] * batch.rows,
                                                "fallback": "default"}
        self._report_failure(name, failed.version, error, "nothing")
        raise _Fail(500, f"{failed.key} failed to predict ({error}) and no fallback could "
                    "answer") from exc

    def _shadow_done(self, _: Any) -> None:
        with self._shadow_lock:
            self._shadows_in_flight -= 1

    def _report_failure(self, name: str, version: str, error: str, answered_by: str) -> None:
        """An alert for a failed prediction, written off the loop and at most once a second
        per model (a failure storm must not queue thousands of store writes)."""
        now = time.monotonic()
        if now - self._last_alert.get(name, -1e9) < 1.0:
            return
        self._last_alert[name] = now
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # already on a worker thread (a burst of stream lines)
            self.on_failure(name, version, error, answered_by)
        else:
            loop.run_in_executor(None, self.on_failure, name, version, error, answered_by)

    def _shadow(self, shadow: Shadow, batch: Batch, live: dict[str, Any],
                request_id: str) -> None:
        """Off the request path: the shadow scores the same rows; logged and compared."""
        started = time.perf_counter()
        try:
            answer = _answer(shadow.model, batch, False, 0.0)
            latency = time.perf_counter() - started
            shadow.compare(live, answer)
        except Exception:
            shadow.errors += 1
            log.exception("shadow %s failed on request %s", shadow.model.key, request_id)
            return
        self.logger.offer(Entry(request_id, shadow.model.name, shadow.model.version, "shadow",
                                utcnow(), latency * 1000, batch.records, answer))

    async def _stream(self, receive: Receive, send: Send, request_id: str, name: str,
                      alias: str | None, version: str | None) -> None:
        """NDJSON in, NDJSON out: each line (one JSON object, a row) is answered as soon as
        it has arrived, for event-by-event scoring over one long request. A bad line gets
        an error line and the stream goes on."""
        model, served_as = await self._resolve(name, alias, version)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/x-ndjson"), (b"x-request-id", request_id.encode()),
            (b"x-model-version", model.version.encode()), (b"x-served-as", served_as.encode())]})
        pending, line = b"", 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            more = message.get("more_body", False)
            pending += message.get("body", b"")
            *complete, pending = pending.split(b"\n")
            if not more and pending.strip():
                complete.append(pending)
                pending = b""
            if len(pending) > MAX_LINE_BYTES:
                await send({"type": "http.response.body", "more_body": False,
                            "body": orjson.dumps({"line": line, "error": {
                                "code": "too_large", "message": f"a line is over "
                                f"{MAX_LINE_BYTES:,} bytes: the stream ends here"}}) + b"\n"})
                return
            lines = [text for text in complete if text.strip()]
            if len(lines) <= INLINE_ROWS:
                out = [self._stream_line(model, served_as, request_id, line + i, text)
                       for i, text in enumerate(lines)]
            else:  # a burst of lines: scored on a thread, the loop keeps answering
                out = await asyncio.get_running_loop().run_in_executor(
                    None, lambda first=line, lines=lines: [
                        self._stream_line(model, served_as, request_id, first + i, text)
                        for i, text in enumerate(lines)])
            line += len(lines)
            if out:
                await send({"type": "http.response.body", "body": b"".join(out),
                            "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _stream_line(self, model: LoadedModel, served_as: str, request_id: str, line: int,
                     text: bytes) -> bytes:
        started = time.perf_counter()
        try:
            row = orjson.loads(text)
            if not isinstance(row, dict):
                raise BadInput(422, "each line must be one JSON object (a row)", field="line")
            batch = Batch(to_matrix([row], model.signature), [], lambda: [row],
                          model.signature)
            if self.unseen.get(model.name) == "reject":
                check_unseen(batch, model, "line")
        except (orjson.JSONDecodeError, BadInput, FeatureError) as exc:
            message = exc.message if isinstance(exc, BadInput) else str(exc)
            field = getattr(exc, "input", None)
            self.stats.record(model.key, time.perf_counter() - started, ok=True, rows=0,
                              client_error=True)
            return orjson.dumps({"line": line, "error": {
                "code": "invalid", "message": message,
                **({"field": field} if field else {})}}) + b"\n"
        try:
            answer = model.answer(model.predict(batch.matrix))
        except Exception as exc:
            self.stats.record(model.key, time.perf_counter() - started, ok=False, rows=1)
            log.exception("%s failed on line %s of stream %s", model.key, line, request_id)
            self._report_failure(model.name, model.version, f"{type(exc).__name__}: {exc}",
                                 "nothing (a stream line)")
            return orjson.dumps({"line": line, "error": {
                "code": "internal", "message": f"{model.key} failed on this line: {exc}"}}
            ) + b"\n"
        latency = time.perf_counter() - started
        self.stats.record(model.key, latency, ok=True, rows=1)
        self.logger.offer(Entry(request_id, model.name, model.version, served_as, utcnow(),
                                latency * 1000, batch.records, answer, first_row=line))
        reply: dict[str, Any] = {"line": line, "prediction": answer["predictions"][0]}
        if "labels" in answer:
            reply["label"] = answer["labels"][0]
        return orjson.dumps(reply) + b"\n"

    async def _feedback(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        """Labels for earlier predictions: [{"request_id", "label", "row"?}] (row: the row's
        index in its request; without it, every row of the request). A write: it needs the
        home's token."""
        if not hmac.compare_digest(_header(scope, b"authorization").encode(), self._expected):
            raise _Fail(401, "feedback changes what is stored: send 'Authorization: Bearer "
                        "<token>' (the token is in HOME/token)")
        body = await self._body(scope, receive)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Fail(400, f"the body is not valid JSON: {exc}", "body") from None
        items = payload.get("feedback") if isinstance(payload, dict) else payload
        if not isinstance(items, list) or not items:
            raise _Fail(422, 'send a non-empty list of {"request_id", "label", "row"?}',
                        "body")
        request_ids, rows, labels = [], [], []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
                raise _Fail(422, f"item {i}: needs a request_id (text)", f"[{i}].request_id")
            if "label" not in item or item["label"] is None:
                raise _Fail(422, f"item {i}: needs a label", f"[{i}].label")
            row = item.get("row")
            if row is not None and (not isinstance(row, int) or isinstance(row, bool)
                                    or not 0 <= row < 2**31):
                raise _Fail(422, f"item {i}: row must be a row index (0 or more)",
                            f"[{i}].row")
            request_ids.append(item["request_id"])
            rows.append(row)
            labels.append(orjson.dumps(item["label"]).decode())
        await self._known(name)
        loop = asyncio.get_running_loop()
        matched = await loop.run_in_executor(None, lambda: self.on_feedback(
            name, request_ids, rows, labels))
        reply = orjson.dumps({"model": name, "received": len(items), "matched": matched})
        await send({"type": "http.response.start", "status": 202, "headers": _JSON})
        await send({"type": "http.response.body", "body": reply})

    async def _resolve(self, name: str, alias: str | None,
                       version: str | None) -> tuple[LoadedModel, str]:
        try:
            if version is None and alias in (None, "production"):
                return self.served.live(name), "production"
            if version is None:
                assert alias is not None
                version = self.served.alias_version(name, alias)
                served_as = alias
            else:
                served_as = "version"
            found = self.served.cached(name, version)
            if found is None:
                loop = asyncio.get_running_loop()
                found = await loop.run_in_executor(None, self.served.version, name, version)
            return found, served_as
        except (NotServed, NotFound) as exc:
            raise await self._not_served(name, exc) from None
        except LoadError as exc:
            raise _Fail(503, str(exc)) from None

    async def _not_served(self, name: str, exc: Exception) -> _Fail:
        """A name that is no model at all gets the API's one message for it; a known model
        is told why it does not answer. (Asked only when nothing answers: a prediction
        never waits on the store.)"""
        if isinstance(exc, Unservable):  # it exists, its version cannot be loaded
            return _Fail(503, str(exc), code="unservable")
        await self._known(name)
        return _Fail(404, str(exc))

    async def _known(self, name: str) -> None:
        """_Fail with the one unknown-model 404 unless `name` is a model (the store is read
        on a thread: this loop answers predictions)."""
        if self.model_names is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.model_names.check,
                                                             name)
        except UnknownModel as unknown:
            raise _Fail(404, unknown.message, unknown.field, code=UNKNOWN_MODEL) from None

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _Fail(413, f"the body is {int(declared):,} bytes; this daemon takes at most "
                        f"{self.max_body_bytes:,} ([serving] max_body_mb)", "body")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Fail(400, "the client went away before sending its whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Fail(413, f"the body is over {self.max_body_bytes:,} bytes "
                            "([serving] max_body_mb)", "body")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # --- describe -------------------------------------------------------------------------

    async def _describe(self, send: Send, name: str) -> None:
        try:
            model = self.served.live(name)
        except NotServed as exc:
            raise await self._not_served(name, exc) from None
        aliases = self.served.aliases_of(name)
        example = {"rows": [model.example_row()]}
        body = orjson.dumps({
            "model": name, "version": model.version, "task": model.task,
            "aliases": aliases, "signature": model.signature, "features": model.features,
            "example_request": {"method": "POST", "path": f"/v1/models/{name}/predict",
                                "body": example},
        })
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": body})


def _encoded_for(model: LoadedModel, batch: Batch) -> Batch:
    """The batch as `model` reads it: re-encoded from the request's rows when its signature
    differs from the one the batch was encoded with (category codes are positions in each
    version's own category list, so another version's matrix would mean other values)."""
    if batch.signature is model.signature or batch.signature["inputs"] == model.signature[
            "inputs"]:
        return batch
    records = batch.records()
    return Batch(to_matrix(records, model.signature), batch.ignored, lambda: records,
                 model.signature)


def _answer(model: LoadedModel, batch: Batch, explain: bool, drill: float) -> dict[str, Any]:
    batch = _encoded_for(model, batch)
    if drill and random.random() < drill:
        raise DrillFailure(f"{model.key} failed on purpose (a failure drill at {drill:.0%})")
    answer = model.answer(model.predict(batch.matrix))
    if explain:
        answer.update(model.explain(model.contributions(batch.matrix)))
    return answer


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


async def _error(send: Send, status: int, message: str, field: str | None, row: int | None,
                 request_id: str, code: str | None = None, *, allow: str | None = None) -> None:
    error: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if field:
        error["field"] = field
    if row is not None:
        error["row"] = row
    headers = list(_JSON)
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"error": error})})
