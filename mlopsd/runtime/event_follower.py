"""One of the daemon's own subscribers (alert hooks, retrain triggers): a thread that reads
the bus from where it got to and hands each event it wants to its handler.

Where it got to is kept in the store (`event_cursors`), so after a stop or a crash it reads
on from there: whatever was published while it was down, or just before a crash, is handled
at start-up (the safety re-read), and nothing is polled from the store's tables. The first
time (no cursor yet) it starts with the events of this start of the daemon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from mlopsd.runtime.events import Event, EventBus
from store import events as events_repo

log = logging.getLogger("mlops.events")

SAVE_EVERY = 1000
"""Events skipped over (not of its types) before the place is kept anyway: reading them
again after a crash costs little, writing the place for each would cost a transaction."""


class EventFollower:
    def __init__(self, bus: EventBus, name: str, types: Iterable[str],
                 handle: Callable[[Event], None], *,
                 holding: Callable[[], int | None] | None = None) -> None:
        """`holding`: the oldest event id the handler has taken but not finished with (its
        work goes on elsewhere), if any: the kept cursor stays before it, so a crash hands
        it over again."""
        self.bus, self.name, self.types, self.handle = bus, name, tuple(types), handle
        self.holding = holding or (lambda: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"follow-{name}", daemon=True)
        self.position = 0
        self._saved = 0

    def start(self) -> None:
        kept = events_repo.cursor(self.bus.store, self.name)
        self.position = kept if kept is not None else self.bus.first_id_this_start - 1
        self._saved = kept if kept is not None else -1
        if kept is None:
            # A first start keeps its place at once: killed before its first save, the next
            # start would begin at ITS start and skip what this run left undone (an alert
            # whose delivery was still being retried).
            self._save()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._save()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.bus.read(self.position, self.types)
            except Exception:  # the store is busy or full: try again shortly
                log.exception("%s could not read the event stream", self.name)
                self._stop.wait(1.0)
                continue
            assert batch is not None
            if batch.lost is not None:
                log.warning("%s missed %s event(s) no longer kept (%s)", self.name,
                            batch.lost.missed, batch.lost.reason)
            for event in batch.events:
                try:
                    self.handle(event)
                except Exception:  # one bad event must not stop the next
                    log.exception("%s failed on event %s (%s)", self.name, event.id,
                                  event.type)
            self.position = batch.upto
            if batch.events or self.position - self._saved > SAVE_EVERY:
                self._save()
            if not batch.events and not self.bus.wait(self.position, 1.0):
                self._save()  # quiet: what the handler finished since is kept now

    def _save(self) -> None:
        held = self.holding()
        upto = self.position if held is None else min(self.position, held - 1)
        if upto == self._saved:
            return
        try:
            events_repo.set_cursor(self.bus.store, self.name, upto)
            self._saved = upto
        except Exception:
            log.exception("%s could not keep its place in the event stream", self.name)
