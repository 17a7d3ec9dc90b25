"""The daemon's event bus: every event is catalogued (`mlopsd.client.events`), written to the
store's outbox in the transaction of the change it tells of, and published once that
transaction commits.

`publish(payload, audit=entry)` inside a `with store.transaction()` joins it: the change,
its audit entry and its event commit together or not at all, and nobody hears of a change
that was rolled back. Outside one it is a transaction of its own. Ids are given under the
store's lock and delivered in commit order, so a client that resumes after id N misses
nothing and gets nothing twice; they go on counting across restarts (the outbox keeps the
newest). The newest `ring_size` events are kept in memory as well (filled from the outbox at
start); older ones are read back from the outbox. The outbox keeps at most `keep` events and
none older than `keep_age` (pruned every minute): a client asking for older ids is told how
many it missed (`stream.lost`). Telemetry (`TELEMETRY`: `serving.stats` once a second while
requests come, training rounds, progress) is kept `telemetry_age` only, so it never crowds
the changes out of `keep`: a day of traffic is 86,400 `serving.stats`, and with them in the
count a client away for a day would have missed every change. A reader resuming past pruned
telemetry misses nothing it was promised.

Readers pull: an SSE stream (asyncio) or one of the daemon's own followers (a thread) is
woken when events arrive and reads from its last id, so a slow reader falls behind but never
loses an event that is still kept, and never slows a publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlopsd.client.events import CATALOGUE, TELEMETRY, EventData, StreamLost, UnknownEvent
from store import events as events_repo
from store.audit import AuditEntry
from store.db import Store
from store.events import StoredEvent

log = logging.getLogger("mlops.events")

RING_SIZE = 10_000
KEEP = 100_000
KEEP_AGE = timedelta(days=7)
TELEMETRY_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    type: str
    data: dict[str, Any]
    audit_id: int | None = None

    def envelope(self) -> dict[str, Any]:
        """As it travels: the catalogue's `Event` envelope."""
        return {"id": self.id, "at": self.at.isoformat(), "type": self.type,
                "data": self.data, "audit_id": self.audit_id}


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    upto: int
    """The last id looked at (events of other types are skipped over): read on after it."""
    lost: StreamLost | None = None


def wanted(types: Iterable[str] | None, name: str) -> bool:
    """`types` by name or by prefix (`job` is every `job.*`); None is everything."""
    return types is None or any(name == t or name.startswith(t + ".") for t in types)


@dataclass(eq=False)
class Waiter:
    """An asyncio reader's wake-up flag, set (on its loop) whenever events arrive."""

    loop: asyncio.AbstractEventLoop
    flag: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.flag.set)


class EventBus:
    def __init__(self, *, ring_size: int = RING_SIZE, keep: int = KEEP,
                 keep_age: timedelta = KEEP_AGE, telemetry_age: timedelta = TELEMETRY_AGE
                 ) -> None:
        self.keep, self.keep_age, self.telemetry_age = keep, keep_age, telemetry_age
        self._cond = threading.Condition()
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._store: Store | None = None
        self._next_id = 1
        """The id the next event gets; only moved under the store's lock."""
        self._last_id = 0
        """The newest id delivered (committed)."""
        self.first_id_this_start = 1
        """The first id this run of the daemon gives."""
        self._waiters: set[Waiter] = set()
        self.closing = False

    # --- set-up -----------------------------------------------------------------------------

    def attach(self, store: Store) -> None:
        """Use `store`'s outbox: count on from its newest id, keep its newest in memory."""
        self._store = store
        _, newest = events_repo.bounds(store)
        with self._cond:
            self._next_id = self.first_id_this_start = newest + 1
            self._last_id = newest
            self._ring.clear()
            self._ring.extend(_from_stored(e) for e in events_repo.newest(
                store, self._ring.maxlen or RING_SIZE))

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the event bus has no store yet")
        return self._store

    def last_id(self) -> int:
        with self._cond:
            return self._last_id

    # --- publishing --------------------------------------------------------------------------

    def publish(self, payload: EventData, *, audit: AuditEntry | None = None) -> Event:
        """Write `payload` to the outbox in the transaction open on this thread (or one of
        its own); it reaches readers once that commits. `audit`: the entry written with the
        change, named by the event."""
        if CATALOGUE.get(payload.name) is not type(payload):
            raise UnknownEvent(payload.name or type(payload).__name__)
        if isinstance(payload, StreamLost):
            raise ValueError("stream.lost is said to one reader, never published")
        data = payload.model_dump(mode="json")
        store = self.store
        with store.transaction():
            tx = store.current()
            assert tx is not None
            pending: list[Event] | None = tx.extras.get("events")
            if pending is None:
                pending = tx.extras["events"] = []
                first = self._next_id
                batch = pending
                tx.before_commit.append(lambda: events_repo.insert_in(
                    tx.cur, [StoredEvent(e.id, e.at, e.type, e.data, e.audit_id)
                             for e in batch]))
                tx.after_commit.append(lambda: self._deliver(batch))
                tx.after_rollback.append(lambda: self._release(first))
            event = Event(self._next_id, datetime.now(UTC), payload.name, data,
                          audit.id if audit is not None else None)
            self._next_id += 1
            pending.append(event)
        return event

    def _release(self, first: int) -> None:
        # Under the store's lock, which no other thread could take while these ids were
        # given: nobody gave a later one, so they are given again and the ids keep no hole.
        self._next_id = first

    def _deliver(self, events: list[Event]) -> None:
        with self._cond:
            self._ring.extend(events)
            self._last_id = events[-1].id
            self._cond.notify_all()
            waiters = list(self._waiters)
        for waiter in waiters:
            try:
                waiter.wake()
            except RuntimeError:  # its loop has closed
                self.forget(waiter)
        if log.isEnabledFor(logging.DEBUG):
            for event in events:
                log.debug("event %s %s %s", event.id, event.type, event.data)

    # --- reading -----------------------------------------------------------------------------

    def read(self, after_id: int, types: Iterable[str] | None = None, *, limit: int = 500,
             memory_only: bool = False) -> Batch | None:
        """The events after `after_id` (of `types`), oldest first, at most `limit`. From
        memory when it still holds them, else from the outbox (None with `memory_only`:
        the caller reads again off its event loop)."""
        types = tuple(types) if types is not None else None
        with self._cond:
            last = self._last_id
            if after_id > last:
                return Batch([], last, StreamLost(missed=None, reason="unknown",
                                                  oldest_kept_id=self._oldest_in_memory(),
                                                  resume_after=last))
            oldest = self._oldest_in_memory()
            if after_id == last or (oldest is not None and after_id + 1 >= oldest):
                return self._read_memory(after_id, types, limit)
        if memory_only:
            return None
        return self._read_outbox(after_id, types, limit)

    def _oldest_in_memory(self) -> int | None:
        return self._ring[0].id if self._ring else None

    def _read_memory(self, after_id: int, types: tuple[str, ...] | None, limit: int
                     ) -> Batch:
        newer: list[Event] = []
        for event in reversed(self._ring):
            if event.id <= after_id:
                break
            newer.append(event)
        newer.reverse()
        found, upto = [], after_id
        for event in newer:
            upto = event.id
            if wanted(types, event.type):
                found.append(event)
                if len(found) >= limit:
                    break
        return Batch(found, upto)

    def _read_outbox(self, after_id: int, types: tuple[str, ...] | None, limit: int) -> Batch:
        expired = events_repo.expired_upto(self.store)
        lost = None
        if after_id < expired:
            oldest, _ = events_repo.bounds(self.store)
            lost = StreamLost(missed=expired - after_id, reason="expired",
                              oldest_kept_id=oldest, resume_after=expired)
            after_id = expired
        found: list[Event] = []
        upto = after_id
        while len(found) < limit:
            stored = events_repo.after(self.store, upto, limit)
            if not stored:
                break
            for row in stored:
                upto = row.id
                if wanted(types, row.type):
                    found.append(_from_stored(row))
                    if len(found) >= limit:
                        break
        return Batch(found, upto, lost)

    def wait(self, after_id: int, timeout: float) -> bool:
        """For a thread: block until an event after `after_id` is delivered (True) or
        `timeout` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: self._last_id > after_id, timeout)

    def waiter(self) -> Waiter:
        """For an asyncio reader: a flag set whenever events arrive (call on its loop)."""
        waiter = Waiter(asyncio.get_running_loop())
        with self._cond:
            self._waiters.add(waiter)
        return waiter

    def forget(self, waiter: Waiter) -> None:
        with self._cond:
            self._waiters.discard(waiter)

    def close_streams(self) -> None:
        """The daemon stops: every reader is woken and ends."""
        with self._cond:
            self.closing = True
            self._cond.notify_all()
            waiters = list(self._waiters)
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                waiter.wake()

    # --- keeping it bounded ------------------------------------------------------------------

    def prune(self, now: datetime | None = None) -> int:
        """Drop telemetry past `telemetry_age`, then what is past `keep` and `keep_age`, from
        the outbox and from memory."""
        now = now or datetime.now(UTC)
        deleted = events_repo.prune(self.store, keep=self.keep, older_than=now - self.keep_age,
                                    telemetry=TELEMETRY,
                                    telemetry_older_than=now - self.telemetry_age)
        if deleted:
            oldest, _ = events_repo.bounds(self.store)
            aged = now - self.telemetry_age
            with self._cond:  # memory answers as the outbox does
                kept = [e for e in self._ring if (oldest is None or e.id >= oldest)
                        and not (e.type in TELEMETRY and e.at < aged)]
                if len(kept) < len(self._ring):
                    self._ring = deque(kept, maxlen=self._ring.maxlen)
            log.info("pruned %s event(s) from the outbox (kept from id %s)", deleted, oldest)
        return deleted


def _from_stored(row: StoredEvent) -> Event:
    return Event(row.id, row.at, row.type, row.data, row.audit_id)
