"""The most recent requests of one served version, in a ring of three numpy columns
(monotonic time, latency, failed): 17 bytes a request where a deque of tuples took ~100, so
a busy version holds ~0.8 MiB at most instead of ~5 MiB. The columns grow by doubling up to
the ring's size, so a version that answers little holds little.

Written on the event loop, read by the scheduler's threads (the per-second ticker, the
service watch, canary verdicts): a lock keeps a reader from seeing a half-written row."""

from __future__ import annotations

import threading

import numpy as np

_FIRST = 1024


class RecentRequests:
    def __init__(self, size: int) -> None:
        self.size = size
        first = min(_FIRST, size)
        self._at = np.empty(first, dtype=np.float64)
        self._latency = np.empty(first, dtype=np.float64)
        self._failed = np.empty(first, dtype=np.bool_)
        self._count = 0
        """Rows written in all; row i lives at i % capacity once the ring is full."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return min(self._count, self.size)

    def append(self, at: float, latency_s: float, failed: bool) -> None:
        with self._lock:
            capacity = self._at.size
            if self._count == capacity and capacity < self.size:
                self._grow(min(capacity * 2, self.size))
                capacity = self._at.size
            slot = self._count % capacity
            self._at[slot] = at
            self._latency[slot] = latency_s
            self._failed[slot] = failed
            self._count += 1

    def _grow(self, capacity: int) -> None:
        # Only while not yet full, so the rows are in order from slot 0.
        for name in ("_at", "_latency", "_failed"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[:old.size] = old
            setattr(self, name, new)

    def between(self, since: float, until: float) -> tuple[np.ndarray, np.ndarray]:
        """Latencies (s) and failed flags of the kept requests with since < time <= until,
        in no particular order (what counts and percentiles need): a mask over the ring as
        it lies, so a read each second copies only what it returns."""
        with self._lock:
            n = len(self)
            at = self._at[:n]
            inside = (at > since) & (at <= until)
            return self._latency[:n][inside], self._failed[:n][inside]

    def latest(self, n: int) -> np.ndarray:
        """Latencies (s) of the newest n kept requests, oldest first (fewer when fewer were
        kept)."""
        with self._lock:
            n = min(n, len(self))
            slots = np.arange(self._count - n, self._count) % self._at.size
            return self._latency[slots]
