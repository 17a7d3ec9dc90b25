"""The one door for alerts: opening (or counting a repeat), acknowledging and resolving.
Each writes the alert, its audit entry and its event (`alert.opened`, `alert.repeated`,
`alert.acknowledged`, `alert.resolved`) in one store transaction — the caller's, when it
has one open (a drift report and the alerts it moves commit together) — and the event is
published once that commits. Alerts are raised from many places (ingest, training, drift
reports, the service watch, deploys, pipelines, serving); all of them come through here,
so hooks and retrain triggers subscribe to the events instead of polling the table."""

from __future__ import annotations

from typing import Any

from mlopsd.client.events import (
    AlertAcknowledged,
    AlertOpened,
    AlertRepeated,
    AlertResolved,
)
from mlopsd.runtime.events import EventBus
from store import alerts as alert_repo
from store import audit
from store.alerts import Alert
from store.db import Store


class Alerts:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store, self.bus = store, bus

    def raise_(self, *, rule: str, subject: str, severity: str, message: str,
               detail: Any = None, by: str = "mlopsd") -> tuple[Alert, bool]:
        """Open an alert, or count a repeat of the one still open; (alert, is_new)."""
        with self.store.transaction():
            alert, new = alert_repo.raise_alert(self.store, rule=rule, subject=subject,
                                                severity=severity, message=message,
                                                detail=detail)
            if new:
                entry = audit.append(self.store, actor=by, action="alert.opened",
                                     subject=f"alert:{alert.id}", reason=message[:500],
                                     details={"rule": rule, "subject": subject,
                                              "severity": severity})
                self.bus.publish(AlertOpened(**_snapshot(alert, by)), audit=entry)
            else:
                self.bus.publish(AlertRepeated(**_snapshot(alert, by)))
        return alert, new

    def resolve(self, rule: str, subject: str, note: str, *, by: str = "mlopsd",
                unless_version: str | None = None, unversioned_as: str = "",
                only_batch: bool = False) -> list[Alert]:
        """Resolve the active alert of a rule and subject, if any (see
        `store.alerts.resolve` for the filters)."""
        with self.store.transaction():
            resolved = alert_repo.resolve(self.store, rule, subject, note,
                                          unless_version=unless_version,
                                          unversioned_as=unversioned_as,
                                          only_batch=only_batch)
            for alert in resolved:
                self._audited(alert, "resolved", note, by)
        return resolved

    def set_state(self, alert_id: int, state: str, *, note: str | None, by: str) -> Alert:
        """A person acknowledges or resolves an alert."""
        with self.store.transaction():
            alert = alert_repo.set_state(self.store, alert_id, state, note=note)
            self._audited(alert, state, note, by)
        return alert

    def _audited(self, alert: Alert, state: str, note: str | None, by: str) -> None:
        entry = audit.append(self.store, actor=by, action=f"alert.{state}",
                             subject=f"alert:{alert.id}", reason=note and note[:500],
                             details={"rule": alert.rule, "subject": alert.subject})
        self.bus.publish(_BY_STATE[state](**_snapshot(alert, by)), audit=entry)


_BY_STATE = {"acknowledged": AlertAcknowledged, "resolved": AlertResolved}


def _snapshot(alert: Alert, by: str) -> dict[str, Any]:
    return {"alert_id": alert.id, "rule": alert.rule, "subject": alert.subject,
            "severity": alert.severity, "state": alert.state, "message": alert.message,
            "count": alert.count, "detail": alert.detail,
            "opened_at": alert.opened_at.isoformat(),
            "updated_at": alert.updated_at.isoformat(), "note": alert.note, "by": by}
