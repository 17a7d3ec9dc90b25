"""The daemon's event bus: what happens, published from any thread, streamed as SSE.

A bounded history lets a reconnecting client resume from `Last-Event-ID`. A subscriber that
cannot keep up loses events rather than slowing the daemon; it is told how many it lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("mlops.events")


@dataclass(frozen=True)
class Event:
    id: int
    at: str
    type: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "type": self.type, "data": self.data}


@dataclass
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    types: frozenset[str] | None
    dropped: int = 0

    def wants(self, event: Event) -> bool:
        if self.types is None:
            return True
        return any(event.type == t or event.type.startswith(t + ".") for t in self.types)


@dataclass
class EventBus:
    history_size: int = 2000
    queue_size: int = 10_000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 1
    _history: deque[Event] = field(init=False)
    _subs: list[Subscription] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._history = deque(maxlen=self.history_size)

    def publish(self, type: str, **data: Any) -> Event:
        with self._lock:
            event = Event(self._next_id, datetime.now(UTC).isoformat(), type, data)
            self._next_id += 1
            self._history.append(event)
            subs = list(self._subs)
        log.debug("event %s %s", type, data)
        for sub in subs:
            if sub.wants(event):
                try:
                    sub.loop.call_soon_threadsafe(_offer, sub, event)
                except RuntimeError:
                    self.unsubscribe(sub)
        return event

    def subscribe(
        self, types: frozenset[str] | None = None, after_id: int | None = None
    ) -> tuple[Subscription, list[Event]]:
        """A new subscription and the events after `after_id` that it missed."""
        sub = Subscription(asyncio.get_running_loop(), asyncio.Queue(self.queue_size), types)
        with self._lock:
            self._subs.append(sub)
            backlog = (
                [e for e in self._history if e.id > after_id and sub.wants(e)]
                if after_id is not None
                else []
            )
        return sub, backlog

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def recent(self, limit: int = 100) -> list[Event]:
        with self._lock:
            return list(self._history)[-limit:]


def _offer(sub: Subscription, event: Event) -> None:
    try:
        sub.queue.put_nowait(event)
    except asyncio.QueueFull:
        sub.dropped += 1
