"""What starts a retraining by itself: alerts and new rows (schedules: schedules.py).

Polled, not pushed: alerts are opened from many places (drift jobs, the service watch, the
ingest service), and a poll of the alerts opened since the last one catches them all with
one cheap query. An alert fires once, when it opens (its repeats only count up); alerts
opened before the daemon started do not fire again.

`new_rows >= N`: the rows of the model's dataset in versions newer than both the newest one
its last pipeline trained on and the newest there was at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mlopsd.config import ModelConfig
from mlopsd.retraining import policy
from mlopsd.retraining.pipeline import dataset_of
from mlopsd.retraining.service import RetrainService
from store import alerts
from store import data as data_repo
from store import pipelines as pipeline_repo
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.retraining")


class TriggerWatch:
    def __init__(self, store: Store, service: RetrainService,
                 models: Callable[[], dict[str, ModelConfig]]) -> None:
        self.store, self.service, self.models = store, service, models
        self._last_alert = alerts.last_id(store)
        self._baseline: dict[str, int] = {}

    def poll(self) -> None:
        try:
            self._alerts()
            self._new_rows()
        except Exception:  # never let one bad poll stop the next
            log.exception("retrain trigger poll failed")

    def _alerts(self) -> None:
        for alert in alerts.opened_after(self.store, self._last_alert):
            self._last_alert = max(self._last_alert, alert.id)
            kind = policy.ALERT_TRIGGERS.get(alert.rule)
            if kind is None:
                continue
            for name, m in self.models().items():
                if kind not in policy.triggers(m.retrain.retrain_on).kinds:
                    continue
                if alert.subject not in (f"model:{name}", f"dataset:{dataset_of(m)}"):
                    continue
                self.service.trigger(name, kind, {"alert_id": alert.id, "rule": alert.rule,
                                                  "message": alert.message},
                                     actor=f"alert:{alert.id}")

    def _new_rows(self) -> None:
        for name, m in self.models().items():
            wanted = policy.triggers(m.retrain.retrain_on).new_rows
            if wanted is None:
                continue
            dataset = dataset_of(m)
            try:
                versions = data_repo.list_versions(self.store, dataset)
            except NotFound:
                continue
            baseline = self._baseline_of(name, dataset, versions)
            newer = [v for v in versions if v.version > baseline]
            rows = sum(v.n_rows for v in newer)
            if rows < wanted:
                continue
            self._baseline[name] = max(v.version for v in newer)
            self.service.trigger(name, "new_rows", {
                "rows": rows, "versions": [v.version for v in newer], "threshold": wanted},
                actor="mlopsd")

    def _baseline_of(self, name: str, dataset: str, versions: list) -> int:
        if name not in self._baseline:
            self._baseline[name] = max((v.version for v in versions), default=0)
        trained = _last_trained_version(self.store, name, dataset) or 0
        self._baseline[name] = max(self._baseline[name], trained)
        return self._baseline[name]


def _last_trained_version(store: Store, model: str, dataset: str) -> int | None:
    for row in pipeline_repo.listing(store, model=model, limit=20):
        step = next((s for s in row.steps if s["step"] == "materialise"), None)
        numbers = [v["version"] for v in (step or {}).get("detail", {}).get("versions", [])
                   if v.get("dataset") == dataset]
        if numbers:
            return max(numbers)
    return None
