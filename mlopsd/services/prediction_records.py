"""The prediction log's doors, beside the serving path that appends to it: labels fed back
for logged predictions (`feedback.received`), and its retention.

Retention keeps the log to `[serving] log_keep_days`: predictions older than that are
deleted with the feedback on them, hourly and at start, with an audit entry and a
`predictions.pruned` event in the same transaction.

Without it the log grows with traffic for as long as the daemon serves (80 requests a
second is ~7 million rows a day). What reads the log looks back far less than the default
90 days: drift over serving windows, performance over labelled windows, `mlops predictions`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler

from mlopsd.client.events import FeedbackReceived, PredictionsPruned
from mlopsd.runtime.events import EventBus
from store import audit
from store import predictions as prediction_repo
from store.db import Store

log = logging.getLogger("mlops.serving")

PRUNE_EVERY_S = 3600.0


class PredictionRecords:
    def __init__(self, store: Store, bus: EventBus, keep_days: Callable[[], float]) -> None:
        self.store, self.bus = store, bus
        self.keep_days = keep_days
        """The setting in force (read at each pass: a config reload changes it)."""

    def feedback(self, model: str, request_ids: list[str], rows: list[int | None],
                 labels: list[str]) -> int:
        """Labels (JSON texts) for logged predictions; how many match one now."""
        with self.store.transaction():
            matched = prediction_repo.add_feedback(self.store, model, request_ids, rows, labels,
                                                   source="api")
            self.bus.publish(FeedbackReceived(model=model, received=len(labels),
                                              matched=matched))
        return matched

    def start(self, aps: BaseScheduler) -> None:
        """A pass now (a daemon stopped for weeks comes back within its bound), then hourly."""
        self.prune(datetime.now(UTC))
        aps.add_job(lambda: self.prune(datetime.now(UTC)), "interval", seconds=PRUNE_EVERY_S,
                    id="prediction-prune", name="prediction log retention")

    def prune(self, now: datetime) -> tuple[int, int]:
        """Delete what was logged before `now` less the days kept; (predictions, feedback)."""
        days = self.keep_days()
        before = now - timedelta(days=days)
        with self.store.transaction():
            predictions, feedback = prediction_repo.prune(self.store, before)
            if predictions or feedback:
                entry = audit.append(
                    self.store, actor="mlopsd", action="predictions.prune",
                    subject="prediction_log", reason=f"older than {days:g} days "
                    "([serving] log_keep_days)",
                    details={"before": before.isoformat(), "predictions": predictions,
                             "feedback": feedback})
                self.bus.publish(PredictionsPruned(before=before.isoformat(),
                                                   predictions=predictions,
                                                   feedback=feedback), audit=entry)
        if predictions or feedback:
            log.info("pruned %s logged prediction(s) and %s feedback row(s) made before %s",
                     predictions, feedback, before.isoformat())
        return predictions, feedback
