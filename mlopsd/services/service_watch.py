"""Service alerts: every `check_interval_s` the live version of each served model is judged
over the last `window_s` of its requests — p95 latency above `latency_p95_ms`, or a share of
failed requests above `error_rate` (once the window holds `min_requests`) raises an alert.
Every `performance_check_s`, the feedback labels of the last `performance_window_s` are
scored against the version's holdout metrics (`performance_drop`). An alert whose
condition has been clear for `resolve_after_s` resolves itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mlopsd.config import MonitoringConfig
from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from mlopsd.services.degradation import degradation, kind_of_drop
from mlopsd.serving.performance import live_performance
from mlopsd.serving.served import ServedModels
from mlopsd.serving.stats import ServingStats
from store import alerts
from store import drift as drift_repo
from store.db import Store

log = logging.getLogger("mlops.service_watch")

RULES = ("latency_p95", "error_rate", "performance_drop")


class ServiceWatch:
    def __init__(self, config: MonitoringConfig, store: Store, served: ServedModels,
                 stats: ServingStats, bus: EventBus,
                 label_join: Callable[[str], tuple[str | None, str | None]] | None = None,
                 limits: Callable[[str], dict[str, float | None]] | None = None) -> None:
        self.config, self.store, self.served, self.stats, self.bus = (
            config, store, served, stats, bus)
        self.alerts = Alerts(store, bus)
        self.label_join = label_join or (lambda _: (None, None))
        """Model name → (dataset, id column) its label files join on."""
        self.limits = limits or (lambda _: {})
        """Model name → its own latency_p95_ms, error_rate, performance_drop (or None)."""
        self._last_bad: dict[tuple[str, str], float] = {}
        # Alerts raised before a restart still resolve themselves once clear.
        now = time.monotonic()
        for alert in alerts.list_alerts(store, state="active", limit=10_000):
            # A performance drop found on a labelled batch (its detail names the drift
            # report) is not this watch's to resolve.
            if alert.rule in RULES and "report_id" not in (alert.detail or {}):
                self._last_bad[(alert.rule, alert.subject)] = now

    def check(self) -> None:
        cfg = self.config
        now = time.monotonic()
        for name, slot in self.served.served().items():
            subject = f"model:{name}"
            version = self.stats.version(slot.live.key)
            requests, failed, p95 = version.window(cfg.window_s) if version else (0, 0, None)
            enough = requests >= cfg.min_requests
            rate = failed / requests if requests else 0.0
            own = self.limits(name)
            latency_limit = own.get("latency_p95_ms") or cfg.latency_p95_ms
            rate_limit = own.get("error_rate")
            rate_limit = cfg.error_rate if rate_limit is None else rate_limit
            self._judge("latency_p95", subject, enough and p95 is not None
                        and p95 > latency_limit, now,
                        f"{name}:{slot.live.version} p95 latency {p95 or 0:.1f} ms over the last "
                        f"{cfg.window_s:g} s (limit {latency_limit:g} ms, "
                        f"{requests} requests)", {"p95_ms": p95, "requests": requests})
            self._judge("error_rate", subject, enough and rate > rate_limit, now,
                        f"{name}:{slot.live.version} failed {rate:.1%} of {requests} requests "
                        f"over the last {cfg.window_s:g} s (limit {rate_limit:.1%})",
                        {"error_rate": rate, "failed": failed, "requests": requests})

    def check_performance(self) -> None:
        """Feedback labels over the last `performance_window_s`: the live version's headline
        metric against its holdout metric; a drop past `performance_drop` is an alert."""
        cfg = self.config
        now = time.monotonic()
        since = datetime.now(UTC) - timedelta(seconds=cfg.performance_window_s)
        for name, slot in self.served.served().items():
            dataset, id_column = self.label_join(name)
            found = live_performance(self.store, name, since=since, id_column=id_column,
                                     dataset=dataset)
            live = next((v for v in found["versions"] if v["version"] == slot.live.version
                         and v["served_as"] == "production"), None)
            worse = degradation(slot.live.task, live["baseline"], live["metrics"]) \
                if live else None
            limit = self.limits(name).get("performance_drop") or cfg.performance_drop
            bad = bool(worse and live and live["rows"] >= cfg.min_labels
                       and worse.drop > limit)
            drifted = False
            if bad:
                latest = drift_repo.latest(self.store, name)  # the stream's, not ad hoc
                drifted = bool(latest and latest.dataset_drift)
            self._judge("performance_drop", f"model:{name}", bad, now,
                        f"{name}:{slot.live.version} on feedback labels: "
                        f"{worse.describe() if worse else ''} over {live['rows'] if live else 0}"
                        f" rows — {kind_of_drop(drifted)}",
                        {"metric": worse.metric if worse else None,
                         "drop": worse.drop if worse else None,
                         "rows": live["rows"] if live else 0, "inputs_drifted": drifted},
                        severity="critical")

    def _judge(self, rule: str, subject: str, bad: bool, now: float, message: str,
               detail: dict[str, object], severity: str = "warning") -> None:
        key = (rule, subject)
        if bad:
            self._last_bad[key] = now
            _, new = self.alerts.raise_(rule=rule, subject=subject, severity=severity,
                                        message=message, detail=detail)
            if new:
                log.warning("%s", message)
            return
        since = self._last_bad.get(key)
        if since is None or now - since < self.config.resolve_after_s:
            return
        del self._last_bad[key]
        self.alerts.resolve(rule, subject,
                            f"resolved by itself: clear for {self.config.resolve_after_s:g} s")
