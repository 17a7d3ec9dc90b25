"""Live training curves: a LightGBM callback that sends `train.iteration` events, throttled.

At most one event per `interval` seconds (10 a second by default), the first iteration at once,
and `finish()` sends the last iteration if it was held back (also when early stopping ended
training), so a client's curve always ends where training did. Iterations count from 1:
event `iteration=i` is element i-1 of the result's curves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from jobs.context import JobContext


def _safe(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class Progress:
    order = 25
    """After LightGBM's record_evaluation (20), before its early stopping (30), which ends
    training by raising: the stopping iteration is still seen here."""

    def __init__(self, ctx: JobContext, model: str, *, train_name: str, valid_name: str,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.model = ctx, model
        self.train_name, self.valid_name = train_name, valid_name
        self.interval, self.clock = interval, clock
        self.last_sent_at: float | None = None
        self.pending: dict[str, Any] | None = None
        self.sent = 0

    def __call__(self, env: Any) -> None:
        data: dict[str, Any] = {"iteration": env.iteration + 1, "train": {}, "valid": {}}
        for dataset, metric, value, *_ in env.evaluation_result_list or []:
            part = ("train" if dataset == self.train_name
                    else "valid" if dataset == self.valid_name else None)
            if part:
                data[part][metric] = _safe(value)
        now = self.clock()
        if self.last_sent_at is None or now - self.last_sent_at >= self.interval:
            self._send(data, now)
        else:
            self.pending = data

    def finish(self) -> None:
        if self.pending is not None:
            self._send(self.pending, self.clock())

    def _send(self, data: dict[str, Any], now: float) -> None:
        self.ctx.emit("train.iteration", job_id=self.ctx.job_id, model=self.model, **data)
        self.last_sent_at, self.pending = now, None
        self.sent += 1
