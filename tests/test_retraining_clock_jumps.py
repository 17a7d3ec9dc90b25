"""The wall clock jumping (issue 14, faults): set back past the last automatic retrain, or
forward over a day, the retraining decisions stay sane, said in the log, nothing lost. On a
real store with a clock the test moves (tests/test_retraining_clock.py has the set-up)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlopsd.retraining.clock import ManualClock
from store import pipelines as pipeline_repo
from store.db import Store
from tests.test_retraining_clock import (
    _end_without_data,
    _missed_runs,
    _retraining,
    _schedules,
)
from tests.test_retraining_clock import stores as stores

COOLDOWN = 'retrain_on = ["drift", "new_rows >= 10"]\ncooldown = "1h"\n'


def test_a_clock_set_back_a_day_does_not_hold_retrains_for_a_day(
        tmp_path: Path, stores: list[Store], caplog: pytest.LogCaptureFixture) -> None:
    r = _retraining(tmp_path, stores, COOLDOWN)
    first = r.service.trigger("riders", "new_rows", {"rows": 12}, actor="mlopsd")["pipeline"]
    _end_without_data(r, first.id)
    r.clock.set_wall(-86_400)  # the operator sets the clock back a day
    with caplog.at_level(logging.WARNING, logger="mlops.retraining"):
        second = r.service.trigger("riders", "drift", {"alert_id": 1}, actor="alert:1")
    assert "skipped" not in second, "a cooldown a day long is not what the policy says"
    assert second["pipeline"].state == "running"
    assert "was the clock set back?" in caplog.text
    _end_without_data(r, second["pipeline"].id)

    # Back to normal: the cooldown is counted again from the newest start.
    r.clock.set_wall(86_400)
    third = r.service.trigger("riders", "new_rows", {"rows": 30}, actor="mlopsd")
    assert third["pipeline"].state == pipeline_repo.HELD and "cooldown" in third["skipped"]


def test_a_clock_jumping_forward_releases_a_held_retrain_once(
        tmp_path: Path, stores: list[Store]) -> None:
    r = _retraining(tmp_path, stores, COOLDOWN)
    first = r.service.trigger("riders", "new_rows", {"rows": 12}, actor="mlopsd")["pipeline"]
    _end_without_data(r, first.id)
    held = r.service.trigger("riders", "drift", {}, actor="alert:1")["pipeline"]
    assert held.state == pipeline_repo.HELD
    r.clock.set_wall(3 * 86_400)  # NTP steps the clock three days on
    r.clock.advance(1)  # and a second passes: the held ones are looked at once a second
    r.service.tick()
    r.service.tick()
    assert pipeline_repo.get(r.store, held.id).state == "failed", "released and ran once"
    assert len(r.pipelines(model="riders")) == 2


def test_schedules_with_the_clock_set_back_behind_their_last_run_fire_nothing_twice(
        tmp_path: Path, stores: list[Store]) -> None:
    start = datetime(2030, 1, 1, 3, 0, tzinfo=UTC)
    r = _retraining(tmp_path, stores, 'dry_run_schedule = ["0 3 * * *"]\ngrace = "1h"\n',
                    clock=ManualClock(start))
    schedules, aps = _schedules(r)
    [job] = aps.get_jobs()
    job.func(*job.args)  # ran at 03:00
    _end_without_data(r, r.pipelines(model="riders")[0].id)
    r.clock.set_wall(-6 * 3600)  # 21:00 the day before: behind the recorded run
    assert schedules.run_missed(r.config.models()) == 0
    r.clock.set_wall(6 * 3600 + timedelta(days=1, minutes=20).total_seconds())  # Jan 2 03:20
    assert schedules.run_missed(r.config.models()) == 1, "the one missed run, once"
    assert [m["missed"] for m in _missed_runs(r)] == [1]
