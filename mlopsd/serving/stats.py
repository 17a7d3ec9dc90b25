"""Per-version service numbers kept in memory: requests, errors, rows, recent latencies.

Recorded on the event loop for every prediction request; read by the control API (and
later by canary decisions and /metrics) as percentiles over the recent window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlopsd.serving.recent import RecentRequests

WINDOW = 4096
"""The most recent requests per version whose latencies give the percentiles."""
RECENT = 50_000
"""(time, latency, failed) of the most recent requests per version, for time windows."""


@dataclass
class VersionStats:
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    rows: int = 0
    recent: RecentRequests = field(default_factory=lambda: RecentRequests(RECENT))

    def record(self, seconds: float, *, ok: bool, rows: int, client_error: bool = False
               ) -> None:
        self.requests += 1
        self.rows += rows
        if client_error:
            self.client_errors += 1
        elif not ok:
            self.errors += 1
        self.recent.append(time.monotonic(), seconds, not ok and not client_error)

    def latencies_s(self) -> np.ndarray:
        """Latencies (s) of the newest WINDOW requests."""
        return self.recent.latest(WINDOW)

    def window(self, seconds: float, now: float | None = None
               ) -> tuple[int, int, float | None]:
        """Requests, failed requests and p95 latency (ms) over the `seconds` before `now`
        (a monotonic time; default: now)."""
        now = time.monotonic() if now is None else now
        latencies, failed = self.recent.between(now - seconds, now)
        if not latencies.size:
            return 0, 0, None
        return (int(latencies.size), int(failed.sum()),
                float(np.percentile(latencies, 95)) * 1000)

    def summary(self) -> dict[str, Any]:
        recent = self.latencies_s()
        p50, p95, p99 = (np.percentile(recent, [50, 95, 99]) * 1000).tolist() if len(
            recent) else (None, None, None)
        return {"requests": self.requests, "errors": self.errors,
                "client_errors": self.client_errors, "rows": self.rows,
                "error_rate": self.errors / self.requests if self.requests else 0.0,
                "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "window": len(recent)}


@dataclass
class BatchingStats:
    batches: int = 0
    """Predict calls made for batches of two requests or more…"""
    requests: int = 0
    """…and the requests they answered."""
    largest: int = 0
    """Requests in the largest batch."""
    alone: int = 0
    """Requests that went through the batcher and were predicted alone."""

    def summary(self) -> dict[str, int]:
        return {"batches": self.batches, "batched_requests": self.requests,
                "largest": self.largest, "alone": self.alone}


class ServingStats:
    def __init__(self) -> None:
        self._by_version: dict[str, VersionStats] = {}

    def record(self, key: str, seconds: float, *, ok: bool, rows: int,
               client_error: bool = False) -> None:
        stats = self._by_version.get(key)
        if stats is None:
            stats = self._by_version.setdefault(key, VersionStats())
        stats.record(seconds, ok=ok, rows=rows, client_error=client_error)

    def summary(self) -> dict[str, dict[str, Any]]:
        return {key: stats.summary() for key, stats in list(self._by_version.items())}

    def by_version(self) -> dict[str, VersionStats]:
        return dict(self._by_version)

    def version(self, key: str) -> VersionStats | None:
        return self._by_version.get(key)
