"""POST /v1/models/{name}/predict/stream: NDJSON in, NDJSON out. Each line (one JSON object,
a row) is answered as soon as it has arrived, for event-by-event scoring over one long
request; a bad line gets an error line and the stream goes on."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Receive, Send

from jobs.features import FeatureError, to_matrix
from mlopsd.serving.dispatch import Route
from mlopsd.serving.errors import ServingError
from mlopsd.serving.fallback import FailureReporter
from mlopsd.serving.inputs import Batch, check_unseen
from mlopsd.serving.prediction_log import Entry, PredictionLogger
from mlopsd.serving.replies import NDJSON
from mlopsd.serving.stats import ServingStats
from store.db import utcnow

log = logging.getLogger("mlops.serving")

MAX_LINE_BYTES = 1024 * 1024
"""A stream line longer than this ends the stream (a line is one row)."""
INLINE_ROWS = 64
"""Up to this many stream lines in one chunk are scored on the event loop."""


@dataclass(frozen=True)
class StreamScorer:
    stats: ServingStats
    logger: PredictionLogger
    reporter: FailureReporter
    unseen: dict[str, str]

    async def __call__(self, receive: Receive, send: Send, request_id: str,
                       route: Route) -> None:
        model = route.model
        await send({"type": "http.response.start", "status": 200, "headers": [
            NDJSON, (b"x-request-id", request_id.encode()),
            (b"x-model-version", model.version.encode()),
            (b"x-served-as", route.served_as.encode())]})
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
                out = [self.line(route, request_id, line + i, text)
                       for i, text in enumerate(lines)]
            else:  # a burst of lines: scored on a thread, the loop keeps answering
                out = await asyncio.get_running_loop().run_in_executor(
                    None, lambda first=line, lines=lines: [
                        self.line(route, request_id, first + i, text)
                        for i, text in enumerate(lines)])
            line += len(lines)
            if out:
                await send({"type": "http.response.body", "body": b"".join(out),
                            "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def line(self, route: Route, request_id: str, line: int, text: bytes) -> bytes:
        model = route.model
        started = time.perf_counter()
        try:
            row = orjson.loads(text)
            if not isinstance(row, dict):
                raise ServingError(422, "each line must be one JSON object (a row)",
                                   field="line")
            batch = Batch(to_matrix([row], model.signature), [], lambda: [row],
                          model.signature)
            if self.unseen.get(model.name) == "reject":
                check_unseen(batch, model, "line")
        except (orjson.JSONDecodeError, ServingError, FeatureError) as exc:
            message = exc.message if isinstance(exc, ServingError) else str(exc)
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
            self.reporter.report(model.name, model.version, f"{type(exc).__name__}: {exc}",
                                 "nothing (a stream line)")
            return orjson.dumps({"line": line, "error": {
                "code": "internal", "message": f"{model.key} failed on this line: {exc}"}}
            ) + b"\n"
        latency = time.perf_counter() - started
        self.stats.record(model.key, latency, ok=True, rows=1)
        self.logger.offer(Entry(request_id, model.name, model.version, route.served_as,
                                utcnow(), latency * 1000, batch.records, answer,
                                first_row=line))
        reply: dict[str, Any] = {"line": line, "prediction": answer["predictions"][0]}
        if "labels" in answer:
            reply["label"] = answer["labels"][0]
        return orjson.dumps(reply) + b"\n"
