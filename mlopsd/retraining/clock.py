"""The clock retraining decides by: passed in, never read from the module `time`, so a test
can move it (cooldowns, canary spans, watch windows, missed schedules) instead of sleeping.

`now()` is wall time, for what is recorded and compared with recorded times (a pipeline's
steps, a schedule's last run, a pipeline's start as the store stamped it). `monotonic()` is
for spacing work out (how often the watch looks), where a wall clock set back must not stall
anything.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC."""
        ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock: what the daemon passes."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (tests, replays). It starts at the real time by
    default because the store stamps its own rows (a pipeline's start, which the cooldown
    counts from) with the real clock: time told to pass is then time past those stamps."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._elapsed += seconds

    def set_wall(self, seconds: float) -> None:
        """The wall clock set forward or back by `seconds` (an operator, NTP stepping), as
        a machine's clock can jump: monotonic time goes on unmoved."""
        with self._lock:
            self._start += timedelta(seconds=seconds)
