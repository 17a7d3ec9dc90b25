"""The client's calls about monitoring: alerts, drift checks and reports, live
performance."""

from __future__ import annotations

from datetime import datetime

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import AlertOut, DriftReportOut, JobOut, PerformanceOut


class MonitoringCalls(Transport):
    def alerts(self, *, state: str | None = None, rule: str | None = None,
               after: str | None = None, limit: int = 100) -> PagedList[AlertOut]:
        """Alerts, most recently seen first; state: open, acknowledged, resolved or active
        (not resolved)."""
        return self._page(AlertOut, "/api/v1/alerts", {
            "state": state, "rule": rule, "after": after, "limit": limit})

    def get_alert(self, alert_id: int) -> AlertOut:
        return self._one(AlertOut, "GET", f"/api/v1/alerts/{alert_id}")

    def set_alert_state(self, alert_id: int, state: str, note: str | None = None) -> AlertOut:
        """Acknowledge ("acknowledged") or resolve ("resolved") an alert."""
        action = "ack" if state == "acknowledged" else "resolve"
        return self._one(AlertOut, "POST", f"/api/v1/alerts/{alert_id}/{action}",
                         json={"note": note})

    def drift_check(self, name: str, against: str | None = None, *,
                    window_s: float | None = None, record: bool = False) -> JobOut:
        """Queue a drift check of the production version of `name`: against a selector
        (default the newest data it was not trained on), or against what it was asked in
        the last `window_s` seconds (its prediction log). Ad hoc unless `record`: then the
        report is part of its drift stream (moves alerts, becomes the latest)."""
        return self._one(JobOut, "POST", f"/api/v1/models/{name}/drift",
                         json={"against": against, "window_s": window_s, "record": record})

    def drift_reports(self, *, model: str | None = None, dataset: str | None = None,
                      recorded: bool | None = None, after: str | None = None,
                      limit: int = 50) -> PagedList[DriftReportOut]:
        """Newest first; `recorded=True`: the drift stream only (ad-hoc checks left out)."""
        return self._page(DriftReportOut, "/api/v1/drift", {
            "model": model, "dataset": dataset, "recorded": recorded, "after": after,
            "limit": limit})

    def drift_report(self, report_id: int) -> DriftReportOut:
        return self._one(DriftReportOut, "GET", f"/api/v1/drift/{report_id}")

    def performance(self, name: str, since: datetime | str | None = None) -> PerformanceOut:
        """Live metrics per version from labelled predictions, beside the holdout's."""
        when = since.isoformat() if isinstance(since, datetime) else since
        return self._one(PerformanceOut, "GET", f"/api/v1/models/{name}/performance",
                         params={"since": when} if when else None)
