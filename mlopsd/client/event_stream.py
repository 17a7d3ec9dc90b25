"""Following the daemon's event stream (`GET /api/v1/events`, Server-Sent Events) without
losing one's place.

`EventStream` yields events as they come. When the connection drops or the daemon restarts
(on another port, even: it reads the home's daemon.json again), it reconnects by itself,
sending `Last-Event-ID`, so the daemon replays what was missed from its recent history.
What cannot be replayed is never passed over in silence: a `stream.lost` event (no id)
reaches the caller, who should then re-read what it shows. It comes from the daemon
(`data.lost`: how many events this subscriber missed) or from the stream itself
(`data.lost` null and a `data.reason`) when the first event after a reconnect has an id at
or below the last one seen: the daemon numbered its events anew, so its replay could not
start at our place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from mlopsd.client.errors import MlopsError
from mlopsd.client.transport import api_error
from mlopsd.client.wire import EventOut

if TYPE_CHECKING:
    from mlopsd.client.transport import Transport

STREAM_LOST = "stream.lost"
KEEPALIVE_GRACE_S = 40.0
"""The daemon sends a keep-alive comment every 15 s: this long without a byte means the
connection is dead though no one closed it (a host gone, a cable out)."""
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0


def parse_event(event_id: str | None, event_type: str | None, data: str) -> EventOut:
    """One Server-Sent Event as the client hands it out: the one place an event's text
    becomes an object (typed payloads from the event catalogue plug in here)."""
    payload: dict[str, Any] = orjson.loads(data) if data else {}
    return EventOut(
        id=int(event_id) if event_id else payload.get("id"),
        at=payload.get("at"),
        type=event_type or payload.get("type") or "message",
        data=payload.get("data") or {},
        audit_id=payload.get("audit_id"),
    )


class EventStream(Iterator[EventOut]):
    """Events of the daemon, in order, across dropped connections and daemon restarts.

    `last_id` is the id of the last event yielded (keep it to resume later with
    `client.events(after=...)`); `connected` says whether a connection is open now (False
    while it reconnects: a UI can say so); `reconnects` counts the connections made again. The
    iteration ends when `timeout` seconds pass without an event (None: never), when
    `close()` is called, or, with `reconnect=False`, when the connection ends. A refusal
    (401, 422) is raised as `ApiError`; no daemon at the first connection as
    `DaemonNotRunning` (once connected, a daemon that goes away is waited for).
    """

    def __init__(self, transport: Transport, *, types: list[str] | None = None,
                 after: int | None = None, timeout: float | None = None,
                 reconnect: bool = True) -> None:
        self._transport = transport
        self._types = ",".join(types) if types else None
        self.last_id = after
        self.timeout = timeout
        self.reconnect = reconnect
        self.reconnects = 0
        self.connected = False
        self._ever_connected = False
        self._quiet_since = time.monotonic()
        self._events = self._follow()

    def __next__(self) -> EventOut:
        return next(self._events)

    def close(self) -> None:
        self._events.close()

    # --- following -----------------------------------------------------------------------

    def _quiet_for(self) -> float:
        return time.monotonic() - self._quiet_since

    def _follow(self) -> Iterator[EventOut]:
        delay = RETRY_FIRST_S
        while True:
            try:
                for event in self._connection():
                    delay = RETRY_FIRST_S
                    yield event
                if self._quiet_over():
                    return
            except httpx.ReadTimeout:
                if self._quiet_over():
                    return
            except httpx.TransportError as exc:  # refused, reset, cut mid-event
                # Never connected: the daemon is not there (say so, as any call does);
                # once connected, it is coming back (a restart): wait for it.
                if not self.reconnect or not self._ever_connected:
                    raise self._transport.unreachable(exc) from exc
            if not self.reconnect:
                return
            wait = delay if self.timeout is None else min(delay, self._left())
            time.sleep(max(wait, 0.0))
            if self._quiet_over():
                return
            delay = min(delay * 2, RETRY_MAX_S)
            # daemon.json is gone while the daemon is down: read it again next time
            with contextlib.suppress(MlopsError):
                self._transport.rediscover()
            self.reconnects += 1

    def _left(self) -> float:
        assert self.timeout is not None
        return self.timeout - self._quiet_for()

    def _quiet_over(self) -> bool:
        return self.timeout is not None and self._left() <= 0

    def _connection(self) -> Iterator[EventOut]:
        """One connection's events, until it ends or goes quiet for too long."""
        headers = {"Last-Event-ID": str(self.last_id)} if self.last_id is not None else {}
        read = KEEPALIVE_GRACE_S if self.timeout is None else max(
            0.01, min(KEEPALIVE_GRACE_S, self._left()))
        params = {"types": self._types} if self._types else None
        with self._transport.stream(
                "GET", "/api/v1/events", params=params, headers=headers,
                timeout=httpx.Timeout(10.0, read=read)) as response:
            if response.status_code >= 400:
                response.read()
                error = api_error(response)
                if response.status_code < 500:
                    raise error
                raise httpx.RemoteProtocolError(str(error))  # a 5xx: try again
            self.connected = self._ever_connected = True
            try:
                yield from self._checked(self._events_of(response))
            finally:
                self.connected = False

    def _checked(self, events: Iterator[EventOut]) -> Iterator[EventOut]:
        """One connection's events, with a `stream.lost` first when its numbering restarted
        below our place."""
        first = True
        for event in events:
            if event.id is not None:
                if first and self.last_id is not None and event.id <= self.last_id:
                    yield EventOut(id=None, type=STREAM_LOST, data={
                        "lost": None,
                        "reason": f"the daemon numbers its events anew (event {event.id} "
                                  f"came after {self.last_id}): events published while the "
                                  "stream was cut may be missing"})
                first = False
                self.last_id = event.id
            self._quiet_since = time.monotonic()
            yield event

    def _events_of(self, response: httpx.Response) -> Iterator[EventOut]:
        event_id: str | None = None
        event_type: str | None = None
        data: list[str] = []
        for line in response.iter_lines():
            if self._quiet_over():
                return
            if line == "":
                if data:
                    yield parse_event(event_id, event_type, "\n".join(data))
                event_id, event_type, data = None, None, []
            elif line.startswith(":"):
                continue  # a comment: connected, keep-alive
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event_id = value
                elif name == "event":
                    event_type = value
                elif name == "data":
                    data.append(value)
