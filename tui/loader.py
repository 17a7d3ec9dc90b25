"""Loading a screen's data off the UI thread, one load at a time, coalescing requests.

A burst of events asks for many reloads; they fold into at most one running load and one
to follow it. (An `exclusive` worker restarted on every request would be cancelled before it
ever finished under a steady stream of events: see TRAPS.md, Textual.) While events keep
asking (a third load asked for within `stream_interval` of the last), loads come at most
once every `stream_interval`: each load is a fetch in a thread
that takes the GIL and a repaint of the whole table, and four a second kept input waiting
up to ~50 ms (benchmarks/tui_bench.py); what the user asks for (a filter, a key, an action
done) loads at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.widget import Widget

from mlopsd.client import MlopsError


class Loader:
    def __init__(self, owner: Widget, fetch: Callable[[], Any],
                 show: Callable[[Any], None], failed: Callable[[str], None],
                 name: str = "load", min_interval: float = 0.0,
                 stream_interval: float | None = None) -> None:
        self.owner, self.fetch, self.show, self.failed = owner, fetch, show, failed
        self.name = name
        self.min_interval = min_interval
        """At least this long between the starts of two loads: a flood of events costs the
        daemon and the UI a few loads a second, not one per event."""
        self.stream_interval = max(min_interval, stream_interval or 0.0)
        """Between loads asked for by events that come within this of the last load."""
        self.running = False
        self.pending: str | None = None
        """What asked for a load while one ran: None, "events" or "user"."""
        self._started_at = -1e9
        self._timer: Any = None
        self._timer_for = ""
        self._asked_in_a_row = 0
        self.loads = 0
        """Loads finished (shown or failed): tests wait on it."""

    def request(self, *, by_events: bool = False) -> None:
        asker = "events" if by_events else "user"
        if self.running:
            self.pending = "user" if "user" in (self.pending, asker) else "events"
            return
        if self._timer is not None:
            if asker == "events" or self._timer_for == "user":
                return
            self._timer.stop()  # the user's load waits no longer than the shorter gap
            self._timer = None
        now = time.monotonic()
        # A stream: events kept asking within the stream interval of the loads before.
        # Two changes in a row (queued, then running) still show a quarter second apart.
        if by_events and now - self._started_at < self.stream_interval:
            self._asked_in_a_row += 1
        else:
            self._asked_in_a_row = 0
        streaming = self._asked_in_a_row >= 2
        gap = self.stream_interval if streaming else self.min_interval
        wait = self._started_at + gap - now
        if wait > 0:
            self._timer_for = asker
            self._timer = self.owner.set_timer(wait, self._after_wait)
            return
        self._start_now()

    def _after_wait(self) -> None:
        self._timer = None
        self._start_now()

    def _start_now(self) -> None:
        self.running, self.pending = True, None
        self._started_at = time.monotonic()
        self.owner.run_worker(self._work, thread=True, group=self.name, name=self.name,
                              exit_on_error=False)

    def _work(self) -> None:
        try:
            data = self.fetch()
        except MlopsError as exc:
            self.owner.app.call_from_thread(self._done, None, str(exc))
        except Exception as exc:
            self.owner.app.call_from_thread(self._done, None, f"{type(exc).__name__}: {exc}")
        else:
            self.owner.app.call_from_thread(self._done, data, None)

    def _done(self, data: Any, error: str | None) -> None:
        self.running = False
        try:
            if error is None:
                self.show(data)
            else:
                self.failed(error)
        finally:
            self.loads += 1
            if self.pending:
                self.request(by_events=self.pending == "events")
