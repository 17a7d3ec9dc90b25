"""Alert hooks (`[[hook]]` in mlops.toml): when an alert opens, is acknowledged or resolves,
each hook whose rules match gets it as JSON — a line appended to a file, a command's stdin,
or a webhook POST. The notifier follows the event stream (`alert.opened`,
`alert.acknowledged`, `alert.resolved`, from the alerts' one door) from where it got to: its
place is kept in the store and stays before any event whose deliveries are still being
tried, so an alert raised just before a crash, or while a hook was being retried, is sent
after the restart (at least once). Sending happens on a thread of its own, each attempt with
a timeout, retried with backoff (1, 2, 4… s) and then given up with a log line: a slow or
broken hook never holds up the daemon.

The body is the event's payload (`mlopsd.client.events.AlertOpened`…: the alert as the
change left it) with `event` (opened, acknowledged, resolved), `type` (the event's name),
`event_id` and `id` (the alert's id)."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import orjson

from mlopsd.client.events import payload_of
from mlopsd.config import HookConfig
from mlopsd.runtime.event_follower import EventFollower
from mlopsd.runtime.events import Event, EventBus

log = logging.getLogger("mlops.notify")

QUEUE_SIZE = 10_000
EVENTS = ("alert.opened", "alert.acknowledged", "alert.resolved")


@dataclass
class _Delivery:
    hook: HookConfig
    payload: bytes
    event_id: int
    attempt: int = 0
    not_before: float = 0.0


class Notifier:
    def __init__(self, hooks: tuple[HookConfig, ...], bus: EventBus) -> None:
        self.hooks, self.bus = hooks, bus
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(QUEUE_SIZE)
        self._in_flight: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._follower = EventFollower(bus, "alert-hooks", EVENTS, self._offer,
                                       holding=self._oldest_in_flight)
        self._thread = threading.Thread(target=self._send_loop, name="alert-hooks",
                                        daemon=True)

    def start(self) -> None:
        if not self.hooks:
            return
        self._thread.start()
        self._follower.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._follower.stop()
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _offer(self, event: Event) -> None:
        alert = payload_of(event.type, event.data)
        rule = event.data["rule"]
        payload = orjson.dumps({"event": event.type.split(".", 1)[1], "type": event.type,
                                "event_id": event.id, "id": event.data["alert_id"],
                                **alert.model_dump(mode="json")})
        for hook in self.hooks:
            if "*" in hook.rules or rule in hook.rules:
                with self._lock:
                    self._in_flight[event.id] += 1
                try:
                    self._queue.put_nowait(_Delivery(hook, payload, event.id))
                except queue.Full:
                    self.dropped += 1
                    self._done(event.id)

    def _oldest_in_flight(self) -> int | None:
        with self._lock:
            return min(self._in_flight) if self._in_flight else None

    def _done(self, event_id: int) -> None:
        with self._lock:
            self._in_flight[event_id] -= 1
            if self._in_flight[event_id] <= 0:
                del self._in_flight[event_id]

    # --- the sender -----------------------------------------------------------------------

    def _send_loop(self) -> None:
        waiting: list[_Delivery] = []
        while True:
            timeout = max(0.0, min((d.not_before for d in waiting), default=time.monotonic()
                                   + 1.0) - time.monotonic())
            try:
                item = self._queue.get(timeout=min(timeout, 1.0) if waiting else None)
                if item is None:
                    return
                waiting.append(item)
            except queue.Empty:
                pass
            now = time.monotonic()
            due = [d for d in waiting if d.not_before <= now]
            waiting = [d for d in waiting if d.not_before > now]
            for delivery in due:
                try:
                    _deliver(delivery.hook, delivery.payload)
                    self.sent += 1
                    self._done(delivery.event_id)
                except Exception as exc:
                    delivery.attempt += 1
                    if delivery.attempt > delivery.hook.retries:
                        self.failed += 1
                        self._done(delivery.event_id)
                        log.error("alert hook %s %s failed %s times; given up: %s",
                                  delivery.hook.kind, delivery.hook.target, delivery.attempt,
                                  exc)
                    else:
                        delay = 2 ** (delivery.attempt - 1)
                        log.warning("alert hook %s %s failed (%s); retry in %s s",
                                    delivery.hook.kind, delivery.hook.target, exc, delay)
                        delivery.not_before = time.monotonic() + delay
                        waiting.append(delivery)


def _deliver(hook: HookConfig, payload: bytes) -> None:
    if hook.kind == "file":
        with open(hook.target, "ab") as out:
            out.write(payload + b"\n")
            out.flush()
            os.fsync(out.fileno())
    elif hook.kind == "command":
        result = subprocess.run(hook.target, shell=True, input=payload, capture_output=True,
                                timeout=hook.timeout_s, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"exit {result.returncode}: "
                               f"{result.stderr.decode(errors='replace').strip()[:200]}")
    else:
        _post_within(hook, payload)


def _post_within(hook: HookConfig, payload: bytes) -> None:
    """POST with `timeout_s` for the whole exchange. httpx's timeouts are per read, so a
    server that answers one byte at a time would hold the sender (and every later alert)
    for ever: the POST runs on a thread of its own, which is left to end by itself (at its
    next stalled read) when it overruns."""
    outcome: list[BaseException | None] = []

    def post() -> None:
        try:
            response = httpx.post(hook.target, content=payload, timeout=hook.timeout_s,
                                  headers={"content-type": "application/json"})
            response.raise_for_status()
            outcome.append(None)
        except BaseException as exc:  # handed to the sender, which logs and retries
            outcome.append(exc)

    thread = threading.Thread(target=post, name="alert-webhook", daemon=True)
    thread.start()
    thread.join(hook.timeout_s)
    if not outcome:
        raise TimeoutError(f"no complete answer within timeout_s = {hook.timeout_s:g} s")
    if outcome[0] is not None:
        raise outcome[0]
