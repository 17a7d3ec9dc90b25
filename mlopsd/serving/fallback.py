"""When the version a route names fails to predict: who answers instead, and the alert.

The route says who backs the version up (the live version for a canary, the previous one
for the live version) and whether a configured default exists. Each failure is counted by
the caller and alerted here, at most once a second per model: a failure storm must not
queue thousands of store writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from mlopsd.serving.dispatch import FALLBACK, FALLBACK_DEFAULT, Route
from mlopsd.serving.errors import ServingError
from mlopsd.serving.inputs import Batch
from mlopsd.serving.loaded import LoadedModel
from mlopsd.serving.predicting import answer

log = logging.getLogger("mlops.serving")

OnFailure = Callable[[str, str, str, str], None]
"""(model, version, error, who answered instead) → writes the `prediction_failed` alert."""


class FailureReporter:
    def __init__(self, on_failure: OnFailure | None = None) -> None:
        self.on_failure = on_failure or (lambda *_: None)
        self._last_alert: dict[str, float] = {}

    def report(self, name: str, version: str, error: str, answered_by: str) -> None:
        """An alert, written off the loop and at most once a second per model."""
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


async def fall_back(route: Route, batch: Batch, explain: bool, exc: Exception,
                    request_id: str, reporter: FailureReporter
                    ) -> tuple[LoadedModel, str, dict[str, Any]]:
    """The answer of whoever backs `route.model` up: (the model named in the reply, how it
    served, its answer); a ServingError (500) when nobody can."""
    failed = route.model
    error = f"{type(exc).__name__}: {exc}"
    backup = route.backup
    if backup is not None and backup is not failed:
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                None, answer, backup, batch, explain)
        except Exception:
            log.exception("the fallback %s failed too on request %s", backup.key, request_id)
        else:
            log.warning("%s failed on request %s (%s); %s answered", failed.key, request_id,
                        error, backup.version)
            reporter.report(failed.name, failed.version, error, f"version {backup.version}")
            return backup, FALLBACK, found
    if route.default is not None:
        log.warning("%s failed on request %s (%s); the configured default answered",
                    failed.key, request_id, error)
        reporter.report(failed.name, failed.version, error, "the configured default")
        return failed, FALLBACK_DEFAULT, {"predictions": [route.default[0]] * batch.rows,
                                          "fallback": "default"}
    reporter.report(failed.name, failed.version, error, "nothing")
    raise ServingError(500, f"{failed.key} failed to predict ({error}) and no fallback "
                       "could answer") from exc
