"""Serving statistics as events: once a second (the scheduler's tick), per version that
answered requests in that second, its requests, errors, rows and latency quantiles
(`serving.stats`). A quiet second publishes nothing, so an idle daemon writes no events.
Read off the request path: the numbers are the in-memory ones `ServingStats` keeps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from mlopsd.client.events import ServingStats as ServingStatsEvent
from mlopsd.client.events import VersionServingStats
from mlopsd.runtime.events import EventBus
from mlopsd.serving.stats import ServingStats, VersionStats

log = logging.getLogger("mlops.serving")


class ServingStatsTicker:
    def __init__(self, stats: ServingStats, bus: EventBus,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats, self.bus, self.clock = stats, bus, clock
        self._last_at = clock()
        self._counted: dict[str, tuple[int, int, int, int]] = {}
        """Per version: requests, errors, client errors, rows at the last tick."""

    def tick(self, now: float | None = None) -> ServingStatsEvent | None:
        """Publish what each version did since the last tick (None when nothing was)."""
        now = self.clock() if now is None else now
        since = self._last_at
        versions = []
        counted = dict(self._counted)
        for key, version in sorted(self.stats.by_version().items()):
            counts = (version.requests, version.errors, version.client_errors, version.rows)
            before = self._counted.get(key, (0, 0, 0, 0))
            counted[key] = counts
            requests = counts[0] - before[0]
            if requests <= 0:
                continue
            p50, p95, p99 = _quantiles(version, since, now)
            model, _, number = key.partition(":")
            versions.append(VersionServingStats(
                model=model, version=number, requests=requests, errors=counts[1] - before[1],
                client_errors=counts[2] - before[2], rows=counts[3] - before[3],
                p50_ms=p50, p95_ms=p95, p99_ms=p99))
        if not versions:
            self._last_at, self._counted = now, counted
            return None
        event = ServingStatsEvent(window_s=round(now - since, 3), versions=versions)
        try:
            self.bus.publish(event)
        except Exception:  # telemetry: the next tick carries this second's counts too
            log.exception("serving statistics could not be published")
            return None
        self._last_at, self._counted = now, counted
        return event


def _quantiles(version: VersionStats, since: float, now: float
               ) -> tuple[float | None, float | None, float | None]:
    latencies, _ = version.recent.between(since, now)
    if not latencies.size:
        return None, None, None
    p50, p95, p99 = (np.percentile(latencies, [50, 95, 99]) * 1000).tolist()
    return round(p50, 3), round(p95, 3), round(p99, 3)
