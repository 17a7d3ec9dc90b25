"""Shadow scoring off the request path: after the live answer has gone out, the shadow
version scores the same rows on its own thread; its answer is compared with the live one
and logged (served_as = "shadow"), never returned."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from mlopsd.serving.inputs import Batch
from mlopsd.serving.predicting import answer
from mlopsd.serving.prediction_log import Entry, PredictionLogger
from mlopsd.serving.rollout import Shadow
from store.db import utcnow

log = logging.getLogger("mlops.serving")

SHADOW_BACKLOG = 64
"""Shadow predictions waiting at most; beyond, a request is not shadowed (and counted)."""


class ShadowScorer:
    def __init__(self, logger: PredictionLogger) -> None:
        self.logger = logger
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._in_flight = 0
        self._lock = threading.Lock()

    def offer(self, shadow: Shadow, batch: Batch, live: dict[str, Any],
              request_id: str) -> None:
        with self._lock:
            room = self._in_flight < SHADOW_BACKLOG
            if room:
                self._in_flight += 1
        if not room:
            shadow.skipped += 1  # a slow shadow never holds production back
            return
        future = self._pool.submit(self._score, shadow, batch, live, request_id)
        future.add_done_callback(self._done)

    def _done(self, _: Future[None]) -> None:
        with self._lock:
            self._in_flight -= 1

    def _score(self, shadow: Shadow, batch: Batch, live: dict[str, Any],
               request_id: str) -> None:
        started = time.perf_counter()
        try:
            found = answer(shadow.model, batch)
            latency = time.perf_counter() - started
            shadow.compare(live, found)
        except Exception:
            shadow.errors += 1
            log.exception("shadow %s failed on request %s", shadow.model.key, request_id)
            return
        self.logger.offer(Entry(request_id, shadow.model.name, shadow.model.version, "shadow",
                                utcnow(), latency * 1000, batch.records, found))
