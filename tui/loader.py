"""Loading a screen's data off the UI thread, one load at a time, coalescing requests.

A burst of events asks for many reloads; they fold into at most one running load and one
to follow it. (An `exclusive` worker restarted on every request would be cancelled before it
ever finished under a steady stream of events: see TRAPS.md, Textual.)
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
                 name: str = "load", min_interval: float = 0.0) -> None:
        self.owner, self.fetch, self.show, self.failed = owner, fetch, show, failed
        self.name = name
        self.min_interval = min_interval
        """At least this long between the starts of two loads: a flood of events costs the
        daemon and the UI a few loads a second, not one per event."""
        self.running = False
        self.pending = False
        self._started_at = -1e9
        self._timer: Any = None
        self.loads = 0
        """Loads finished (shown or failed): tests wait on it."""

    def request(self) -> None:
        if self.running or self._timer is not None:
            self.pending = self.pending or self.running
            return
        wait = self._started_at + self.min_interval - time.monotonic()
        if wait > 0:
            self._timer = self.owner.set_timer(wait, self._after_wait)
            return
        self.running, self.pending = True, False
        self._started_at = time.monotonic()
        self.owner.run_worker(self._work, thread=True, group=self.name, name=self.name,
                              exit_on_error=False)

    def _after_wait(self) -> None:
        self._timer = None
        self.request()

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
                self.request()
