"""Events of monitoring: drift reports and alerts."""

from __future__ import annotations

from typing import Any, ClassVar

from mlopsd.client.events.base import EventData


class DriftReported(EventData):
    name: ClassVar[str] = "drift.report"
    model: str
    report_id: int
    recorded: bool
    status: str | None
    dataset_drift: bool | None
    prediction_drift: bool | None
    drifted: list[str]


class _AlertEvent(EventData):
    """The alert as this change left it."""

    alert_id: int
    rule: str
    subject: str
    severity: str
    state: str
    message: str
    count: int
    detail: Any = None
    opened_at: str
    updated_at: str
    note: str | None = None
    by: str
    """Who changed it (`mlopsd` when the daemon did)."""


class AlertOpened(_AlertEvent):
    name: ClassVar[str] = "alert.opened"


class AlertRepeated(_AlertEvent):
    """Raised again while open: its count went up, its message and detail were updated."""

    name: ClassVar[str] = "alert.repeated"


class AlertAcknowledged(_AlertEvent):
    name: ClassVar[str] = "alert.acknowledged"


class AlertResolved(_AlertEvent):
    name: ClassVar[str] = "alert.resolved"
