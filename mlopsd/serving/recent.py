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

    def _ordered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the kept rows, oldest first (under the lock)."""
        n, capacity = len(self), self._at.size
        if self._count <= capacity:
            return self._at[:n].copy(), self._latency[:n].copy(), self._failed[:n].copy()
        start = self._count % capacity
        order = np.r_[start:capacity, 0:start]
        return self._at[order], self._latency[order], self._failed[order]

    def between(self, since: float, until: float) -> tuple[np.ndarray, np.ndarray]:
        """Latencies (s) and failed flags of the kept requests with since < time <= until."""
        with self._lock:
            at, latency, failed = self._ordered()
        inside = (at > since) & (at <= until)
        return latency[inside], failed[inside]

    def latest(self, n: int) -> np.ndarray:
        """Latencies (s) of the newest n kept requests (fewer when fewer were kept)."""
        with self._lock:
            _, latency, _ = self._ordered()
        return latency[-n:] if n else latency[:0]
