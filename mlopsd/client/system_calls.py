"""The client's calls about the daemon itself: health, status, the audit log, events."""

from __future__ import annotations

from mlopsd.client.event_stream import EventStream
from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import AuditEntryOut, Health, Status


class SystemCalls(Transport):
    def health(self) -> Health:
        return self._one(Health, "GET", "/api/v1/health")

    def status(self) -> Status:
        return self._one(Status, "GET", "/api/v1/status")

    def audit(self, *, action: str | None = None, subject: str | None = None,
              after: str | None = None, limit: int = 100) -> PagedList[AuditEntryOut]:
        """The audit log, newest first."""
        return self._page(AuditEntryOut, "/api/v1/audit", {
            "action": action, "subject": subject, "after": after, "limit": limit})

    def events(self, *, types: list[str] | None = None, after: int | None = None,
               timeout: float | None = None, reconnect: bool = True) -> EventStream:
        """Follow the event stream from now (or from after event `after`), reconnecting
        by itself; `timeout` ends the iteration after that long without an event. See
        `mlopsd.client.event_stream`."""
        return EventStream(self, types=types, after=after, timeout=timeout,
                           reconnect=reconnect)
