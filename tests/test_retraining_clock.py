"""The retraining decisions that depend on time, decided on a clock the test moves: the
cooldown that holds automatic triggers (and its end), alerts firing retrains, schedules
run at their time and those missed while the daemon was down. No daemon: the retrain
service on a real store (a temp DuckDB file), its driver ticked by hand; nothing trains
(the pipelines here end at their first step, for want of data)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from mlopsd.config import Config
from mlopsd.config_load import load_config
from mlopsd.retraining.clock import ManualClock
from mlopsd.retraining.pipeline import Env
from mlopsd.retraining.schedules import RetrainSchedules
from mlopsd.retraining.service import RetrainService
from mlopsd.retraining.triggers import TriggerWatch
from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from store import audit as audit_repo
from store import pipelines as pipeline_repo
from store.db import Store, open_store
from tests.daemon_process import wait_until

CONFIG = """\
[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "riders"
data = "bikes@1"
target = "bikers"

[model.retrain]
"""


class Models:
    """The training service as the retrain service sees it: the models of mlops.toml.
    Nothing is trained here (the pipelines of these tests end before their training)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def spec(self, name: str) -> Any:
        return self.config.models()[name]

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing is trained in these tests")


@dataclass
class Retraining:
    store: Store
    bus: EventBus
    clock: ManualClock
    config: Config
    env: Env
    service: RetrainService

    def pipelines(self, **where: Any) -> list[pipeline_repo.Pipeline]:
        return pipeline_repo.listing(self.store, **where)


def make(tmp_path: Path, policy: str, *, store: Store | None = None,
         clock: ManualClock | None = None, **parts: Any) -> Retraining:
    """A retrain service on `store` (a new temp DuckDB file by default) with `clock` and a
    `[model.retrain]` of `policy`; `parts`: serving parts the pipeline reaches (fakes)."""
    path = tmp_path / "mlops.toml"
    path.write_text(CONFIG + policy)
    config = load_config(path)
    store = store or open_store(tmp_path / "meta.duckdb")
    bus = EventBus()
    bus.attach(store)
    clock = clock or ManualClock()
    env = Env(store=store, runner=parts.get("runner"), training=Models(config),
              deploys=parts.get("deploys"), served=parts.get("served"),
              stats=parts.get("stats"), bus=bus, model=lambda name: config.models()[name],
              monitoring=lambda: config.monitoring, label_join=lambda name: (None, None),
              clock=clock)
    return Retraining(store, bus, clock, config, env, RetrainService(env))


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def _retraining(tmp_path: Path, stores: list[Store], policy: str, **kw: Any) -> Retraining:
    r = make(tmp_path, policy, **kw)
    if r.store not in stores:
        stores.append(r.store)
    return r


def _end_without_data(r: Retraining, pipeline_id: int) -> pipeline_repo.Pipeline:
    """A tick: the pipeline finds no data (there is none here) and ends."""
    r.service.tick()
    ended = pipeline_repo.get(r.store, pipeline_id)
    assert ended.state == "failed" and "no training data" in ended.reason, ended.reason
    return ended


# --- the cooldown ---------------------------------------------------------------------------


def test_an_automatic_trigger_in_the_cooldown_is_held_until_it_has_passed(
        tmp_path: Path, stores: list[Store]) -> None:
    r = _retraining(tmp_path, stores, 'retrain_on = ["drift", "new_rows >= 10"]\n'
                                      'cooldown = "10m"\n')
    first = r.service.trigger("riders", "new_rows", {"rows": 12}, actor="mlopsd")
    assert not first["merged"] and "skipped" not in first
    _end_without_data(r, first["pipeline"].id)

    second = r.service.trigger("riders", "drift", {"alert_id": 1}, actor="alert:1")
    held = second["pipeline"]
    assert held.state == pipeline_repo.HELD and "cooldown" in second["skipped"]
    assert "cooldown" in held.reason
    # Another within the cooldown joins the held one: one pipeline when it passes.
    third = r.service.trigger("riders", "new_rows", {"rows": 30}, actor="mlopsd")
    assert third["pipeline"].id == held.id
    assert [m["trigger"] for m in pipeline_repo.get(r.store, held.id).merged] == ["new_rows"]
    r.clock.advance(599)  # the first started a moment after the clock's start
    r.service.tick()
    assert pipeline_repo.get(r.store, held.id).state == pipeline_repo.HELD
    r.clock.advance(2)
    r.service.tick()
    released = pipeline_repo.get(r.store, held.id)
    assert released.state == "failed", "released, it ran (and found no data)"
    started = audit_repo.list_entries(r.store, action="pipeline.started",
                                      subject=f"pipeline:{held.id}")
    assert started and started[0].details["released"] is True


def test_a_held_trigger_outlives_a_restart_and_starts_when_the_cooldown_ends(
        tmp_path: Path, stores: list[Store]) -> None:
    policy = 'retrain_on = ["new_rows >= 10"]\ncooldown = "1h"\n'
    r = _retraining(tmp_path, stores, policy)
    first = r.service.trigger("riders", "new_rows", {"rows": 12}, actor="mlopsd")
    _end_without_data(r, first["pipeline"].id)
    held = r.service.trigger("riders", "new_rows", {"rows": 40}, actor="mlopsd")["pipeline"]
    assert held.state == pipeline_repo.HELD

    # The daemon restarts: a new service on the same store, the clock 59 minutes on.
    r.clock.advance(59 * 60)
    after = make(tmp_path, policy, store=r.store, clock=r.clock)
    after.service.recover()
    after.service.tick()
    assert pipeline_repo.get(r.store, held.id).state == pipeline_repo.HELD
    r.clock.advance(61)
    after.service.tick()
    assert pipeline_repo.get(r.store, held.id).state == "failed"


def test_a_cooldown_counts_from_the_last_automatic_start_not_from_a_manual_one(
        tmp_path: Path, stores: list[Store]) -> None:
    r = _retraining(tmp_path, stores, 'retrain_on = ["drift"]\ncooldown = "10m"\n')
    manual = r.service.trigger("riders", "manual", {}, actor="cli:someone")["pipeline"]
    _end_without_data(r, manual.id)
    automatic = r.service.trigger("riders", "drift", {}, actor="alert:1")["pipeline"]
    assert automatic.state == "running", "a manual retrain starts no cooldown"
    _end_without_data(r, automatic.id)
    r.clock.advance(9 * 60)
    again = r.service.trigger("riders", "manual", {}, actor="cli:someone")["pipeline"]
    assert again.state == "running", "a person is not held back by the cooldown"
    _end_without_data(r, again.id)
    assert r.service.trigger("riders", "drift", {}, actor="alert:2")["pipeline"].state == \
        pipeline_repo.HELD


# --- triggers -------------------------------------------------------------------------------


def test_an_alert_fires_a_retrain_once_and_the_next_waits_for_the_cooldown(
        tmp_path: Path, stores: list[Store]) -> None:
    r = _retraining(tmp_path, stores, 'retrain_on = ["drift"]\ncooldown = "30m"\n')
    watch = TriggerWatch(r.store, r.bus, r.service, r.config.models)
    alerts = Alerts(r.store, r.bus)
    watch.start()
    try:
        # Another subject's alert, and an alert this policy does not retrain on: nothing.
        alerts.raise_(rule="dataset_drift", subject="dataset:other", severity="warning",
                      message="drift elsewhere")
        alerts.raise_(rule="schema_change", subject="dataset:bikes", severity="warning",
                      message="a new column")
        drift, _ = alerts.raise_(rule="dataset_drift", subject="dataset:bikes",
                                 severity="warning", message="bikes drifted")
        started = wait_until(lambda: r.pipelines(model="riders"), timeout=10,
                             what="the drift alert's retrain")
        assert len(started) == 1
        assert started[0].trigger == "drift" and started[0].actor == f"alert:{drift.id}"
        _end_without_data(r, started[0].id)

        r.clock.advance(29 * 60)
        alerts.raise_(rule="performance_drop", subject="model:riders", severity="warning",
                      message="worse")  # not in retrain_on
        alerts.resolve("dataset_drift", "dataset:bikes", "fixed", by="test")
        drift2, _ = alerts.raise_(rule="dataset_drift", subject="model:riders",
                                  severity="warning", message="drifted again")
        held = wait_until(lambda: r.pipelines(model="riders", state=pipeline_repo.HELD),
                          timeout=10, what="the second drift trigger, held")
        assert held[0].actor == f"alert:{drift2.id}" and "cooldown" in held[0].reason
        r.clock.advance(61)
        r.service.tick()
        assert pipeline_repo.get(r.store, held[0].id).state == "failed"
        assert len(r.pipelines(model="riders")) == 2, "one per drift alert, none for others"
    finally:
        watch.stop()


# --- schedules ------------------------------------------------------------------------------


def _schedules(r: Retraining) -> tuple[RetrainSchedules, BackgroundScheduler]:
    aps = BackgroundScheduler(timezone=UTC)  # never started: the test fires its jobs
    schedules = RetrainSchedules(r.store, aps, r.service, r.clock)
    schedules.sync(r.config.models())
    return schedules, aps


def _missed_runs(r: Retraining) -> list[dict[str, Any]]:
    return [p.trigger_detail["missed_while_down"] for p in r.pipelines(model="riders")
            if (p.trigger_detail or {}).get("missed_while_down")]


def test_a_schedule_fires_its_pipeline_and_records_when_by_the_clock(
        tmp_path: Path, stores: list[Store]) -> None:
    at = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
    r = _retraining(tmp_path, stores, 'dry_run_schedule = ["0 3 * * mon"]\n',
                    clock=ManualClock(at))
    schedules, aps = _schedules(r)
    [job] = aps.get_jobs()
    assert job.trigger.get_next_fire_time(None, at - timedelta(days=1)) == at
    job.func(*job.args)  # what APScheduler does at 03:00 on a Monday
    [stored] = pipeline_repo.schedules(r.store)
    assert stored.last_run_at == at
    [pipeline] = r.pipelines(model="riders")
    assert pipeline.trigger == "schedule" and pipeline.dry_run and pipeline.actor == "scheduler"
    assert pipeline.trigger_detail == {"schedule": stored.id, "cron": "0 3 * * mon"}
    assert schedules.run_missed(r.config.models()) == 0, "nothing missed: it just ran"


def test_schedules_missed_while_down_run_once_within_their_grace(
        tmp_path: Path, stores: list[Store]) -> None:
    start = datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
    r = _retraining(tmp_path, stores, 'dry_run_schedule = ["0 3 * * *"]\ngrace = "1h"\n',
                    clock=ManualClock(start))
    schedules, aps = _schedules(r)
    [job] = aps.get_jobs()
    job.func(*job.args)  # ran at 02:00 (by hand), then the daemon went down
    _end_without_data(r, r.pipelines(model="riders")[0].id)

    r.clock.advance(timedelta(days=2, hours=1, minutes=30).total_seconds())  # Jan 3, 03:30
    assert schedules.run_missed(r.config.models()) == 1
    assert _missed_runs(r) == [{"missed": 3, "newest_missed_at": "2030-01-03T03:00:00+00:00",
                                "coalesced": True, "late_s": 1800.0}]
    assert pipeline_repo.schedules(r.store)[0].last_run_at == r.clock.now()
    assert schedules.run_missed(r.config.models()) == 0, "run once, not again"
    _end_without_data(r, r.pipelines(model="riders")[0].id)

    # Down again until Jan 4, 05:00: 03:00 was missed two hours ago, beyond the grace.
    r.clock.advance(timedelta(days=1, hours=1, minutes=30).total_seconds())
    assert schedules.run_missed(r.config.models()) == 0
    assert len(_missed_runs(r)) == 1
    assert pipeline_repo.schedules(r.store)[0].last_run_at == start + timedelta(
        days=2, hours=1, minutes=30), "not run: its last run stays"


def test_a_long_downtime_with_a_frequent_schedule_still_finds_its_newest_miss(
        tmp_path: Path, stores: list[Store]) -> None:
    start = datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)
    r = _retraining(tmp_path, stores, 'dry_run_schedule = ["*/3 * * * * *"]\ngrace = "5s"\n',
                    clock=ManualClock(start))
    schedules, aps = _schedules(r)
    aps.get_jobs()[0].func(*aps.get_jobs()[0].args)
    _end_without_data(r, r.pipelines(model="riders")[0].id)
    r.clock.advance(86_400 + 1)  # a day: 28,800 fire times, counted up to 10,000
    assert schedules.run_missed(r.config.models()) == 1
    [missed] = _missed_runs(r)
    assert missed["missed"] == 10_000
    assert missed["newest_missed_at"] == "2030-01-02T00:00:00+00:00"
    assert missed["late_s"] == 2.0

