"""Alert hooks (`[[hook]]` in mlops.toml): when an alert opens or resolves, each hook whose
rules match gets it as JSON — a line appended to a file, a command's stdin, or a webhook
POST. The store is polled for changed alerts (alerts are raised from many places); sending
happens on a thread of its own, each attempt with a timeout, retried with backoff (1, 2, 4…
s) and then given up with a log line: a slow or broken hook never holds up the daemon."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import threading
import time
from dataclasses import dataclass

import httpx
import orjson

from mlopsd.config import HookConfig
from store import alerts as alert_repo
from store.alerts import Alert
from store.db import Store

log = logging.getLogger("mlops.notify")

QUEUE_SIZE = 10_000


@dataclass
class _Delivery:
    hook: HookConfig
    payload: bytes
    attempt: int = 0
    not_before: float = 0.0


class Notifier:
    def __init__(self, hooks: tuple[HookConfig, ...], store: Store) -> None:
        self.hooks, self.store = hooks, store
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(QUEUE_SIZE)
        self._seen: dict[int, tuple[str, int]] = {}
        self._thread = threading.Thread(target=self._send_loop, name="alert-hooks",
                                        daemon=True)

    def start(self) -> None:
        if not self.hooks:
            return
        # Alerts that exist at start were notified (or not) by the daemon before.
        for alert in alert_repo.list_alerts(self.store, limit=10_000):
            self._seen[alert.id] = (alert.state, alert.count)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """Hand new and resolved alerts to the hooks (the scheduler calls this)."""
        if not self.hooks:
            return
        for alert in reversed(alert_repo.list_alerts(self.store, limit=500)):
            before = self._seen.get(alert.id)
            self._seen[alert.id] = (alert.state, alert.count)
            if before is None:
                event = "opened"
            elif before[0] != alert.state:
                event = alert.state  # acknowledged or resolved
            else:
                continue
            self._offer(alert, event)

    def _offer(self, alert: Alert, event: str) -> None:
        payload = orjson.dumps({"event": event, "id": alert.id, "rule": alert.rule,
                                "subject": alert.subject, "severity": alert.severity,
                                "state": alert.state, "message": alert.message,
                                "count": alert.count, "detail": alert.detail,
                                "opened_at": alert.opened_at, "updated_at": alert.updated_at,
                                "note": alert.note})
        for hook in self.hooks:
            if "*" in hook.rules or alert.rule in hook.rules:
                try:
                    self._queue.put_nowait(_Delivery(hook, payload))
                except queue.Full:
                    self.dropped += 1

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
                except Exception as exc:
                    delivery.attempt += 1
                    if delivery.attempt > delivery.hook.retries:
                        self.failed += 1
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
        response = httpx.post(hook.target, content=payload, timeout=hook.timeout_s,
                              headers={"content-type": "application/json"})
        response.raise_for_status()
