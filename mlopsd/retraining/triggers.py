"""What starts a retraining by itself: alerts and new rows (schedules: schedules.py).

Subscribed, not polled: every alert, wherever it is raised, comes through the alerts' one
door, which publishes `alert.opened`; every data version is an `ingest.committed`. The
watch follows the event stream from where it got to (its place is kept in the store), so an
alert opened just before a crash still fires after the restart, and one already handled
does not fire again. An alert fires once, when it opens (its repeats only count up).

`new_rows >= N`: the rows of the model's dataset in versions newer than both the newest one
its last pipeline trained on and the newest there was at start-up; looked at on each new
data version (and once at start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mlopsd.client.events import AlertOpened, IngestCommitted, payload_of
from mlopsd.config import ModelConfig
from mlopsd.retraining import policy
from mlopsd.retraining.pipeline import dataset_of
from mlopsd.retraining.service import RetrainService
from mlopsd.runtime.event_follower import EventFollower
from mlopsd.runtime.events import Event, EventBus
from store import data as data_repo
from store import pipelines as pipeline_repo
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.retraining")


class TriggerWatch:
    def __init__(self, store: Store, bus: EventBus, service: RetrainService,
                 models: Callable[[], dict[str, ModelConfig]]) -> None:
        self.store, self.service, self.models = store, service, models
        self._baseline: dict[str, int] = {}
        self._follower = EventFollower(bus, "retrain-triggers",
                                       ("alert.opened", "ingest.committed"), self._handle)

    def start(self) -> None:
        self._new_rows()
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def _handle(self, event: Event) -> None:
        payload = payload_of(event.type, event.data)
        if isinstance(payload, AlertOpened):
            self._alert(payload)
        elif isinstance(payload, IngestCommitted):
            self._new_rows(payload)

    def _alert(self, alert: AlertOpened) -> None:
        kind = policy.ALERT_TRIGGERS.get(alert.rule)
        if kind is None:
            return
        for name, m in self.models().items():
            if kind not in policy.triggers(m.retrain.retrain_on).kinds:
                continue
            if alert.subject not in (f"model:{name}", f"dataset:{dataset_of(m)}"):
                continue
            self.service.trigger(name, kind, {"alert_id": alert.alert_id, "rule": alert.rule,
                                              "message": alert.message},
                                 actor=f"alert:{alert.alert_id}")

    def _new_rows(self, committed: IngestCommitted | None = None) -> None:
        for name, m in self.models().items():
            wanted = policy.triggers(m.retrain.retrain_on).new_rows
            if wanted is None:
                continue
            dataset = dataset_of(m)
            try:
                versions = data_repo.list_versions(self.store, dataset)
            except NotFound:
                continue
            # A model first seen now (added by a reload) counts from before this version.
            before = [v for v in versions if committed is None or v.dataset != committed.dataset
                      or v.version < committed.version]
            baseline = self._baseline_of(name, dataset, before)
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
