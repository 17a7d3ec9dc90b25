"""Production versions that cannot serve: the one door for their alerts.

At start-up a production version whose artifact is missing or corrupt (or that fails its
checks) is not served: requests get a 503 saying why, or the previous version answers in its
place (`[serving] fallback_to_previous`). An `artifact_corrupt` alert (or
`production_unservable` for other reasons) says so; it is resolved when the version is
repaired (`mlops reproduce` rewrites the blob when the retrained bytes match its hash) or
when another version is promoted.
"""

from __future__ import annotations

import logging
import threading

from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from mlopsd.serving.loaded import LoadError
from mlopsd.serving.served import ServedModels
from store import audit
from store.db import Store

log = logging.getLogger("mlops.serving")

CORRUPT, UNSERVABLE = "artifact_corrupt", "production_unservable"


class UnservableModels:
    def __init__(self, store: Store, served: ServedModels, bus: EventBus) -> None:
        self.store, self.served, self.bus = store, served, bus
        self.alerts = Alerts(store, bus)
        self._open: dict[str, str] = {}
        """Model → the rule of its open alert."""
        self._lock = threading.Lock()

    def report(self) -> None:
        """Raise an alert for each production version that failed to load at start."""
        problems = self.served.problems()
        for name, failure in self.served.failed.items():
            rule = CORRUPT if failure.corrupt else UNSERVABLE
            self.alerts.raise_(
                rule=rule, subject=f"model:{name}", severity="critical",
                message=f"{name}@production {problems[name]}",
                detail={"model_version": failure.version, "reason": failure.reason,
                        "stand_in": self._stand_in(name)})
            with self._lock:
                self._open[name] = rule

    def repaired(self, name: str, version: str, *, actor: str) -> bool:
        """A version's artifact was rewritten whole: if it is the production version that
        could not load, load it now and make it live. True when it serves again."""
        failure = self.served.failed.get(name)
        if failure is None or failure.version != version:
            return False
        try:
            self.served.retry(name)
        except LoadError as exc:
            log.error("%s:%s still cannot serve after its repair: %s", name, version, exc)
            return False
        self._resolve(name, f"{name}:{version} was repaired and serves again", actor=actor)
        return True

    def production_moved(self, name: str, from_version: str | None,
                         to_version: str | None) -> None:
        """A listener of production moves: another version serves, the alert is moot."""
        self._resolve(name, f"production moved to {to_version}", actor="mlopsd")

    def _stand_in(self, name: str) -> str | None:
        slot = self.served.slot(name)
        return slot.live.version if slot is not None and slot.stands_in_for else None

    def _resolve(self, name: str, note: str, *, actor: str) -> None:
        with self._lock:
            rule = self._open.pop(name, None)
        if rule is None:
            return
        with self.store.transaction():
            self.alerts.resolve(rule, f"model:{name}", note, by=actor)
            audit.append(self.store, actor=actor, action="model.serves_again",
                         subject=f"model:{name}", reason=note)
        log.info("%s: %s", name, note)
