"""The event bus on a real store: an event is published with the change it tells of or not
at all, ids count up without holes across a reopening, a reader resumes from any id still
kept and is told how many it missed, a follower picks up where it left off, and serving
statistics are one event per busy second (time passed in)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlopsd.client.events import DatasetCreated, JobProgress, JobQueued, StreamLost
from mlopsd.runtime.event_follower import EventFollower
from mlopsd.runtime.events import EventBus
from mlopsd.serving.stats import ServingStats
from mlopsd.serving.stats_events import ServingStatsTicker
from store import audit
from store import events as events_repo
from store.db import Store, open_store


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "meta.duckdb")
    yield s
    s.close()


def _bus(store: Store, **kwargs) -> EventBus:
    bus = EventBus(**kwargs)
    bus.attach(store)
    return bus


def _queued(n: int) -> JobQueued:
    return JobQueued(job_id=n, kind="selfcheck", actor="test")


def test_an_event_commits_with_its_change_or_not_at_all(store: Store) -> None:
    bus = _bus(store)
    with store.transaction():
        entry = audit.append(store, actor="test", action="dataset.create", subject="dataset:a")
        bus.publish(DatasetCreated(dataset="a", by="test"), audit=entry)
        assert bus.last_id() == 0, "nobody hears of a change before it commits"
    assert [(e.id, e.type, e.audit_id) for e in bus.read(0).events] == [
        (1, "dataset.created", entry.id)]
    with pytest.raises(RuntimeError), store.transaction():
        audit.append(store, actor="test", action="dataset.create", subject="dataset:b")
        bus.publish(DatasetCreated(dataset="b", by="test"))
        raise RuntimeError("the change fails")
    assert bus.last_id() == 1 and events_repo.bounds(store) == (1, 1)
    assert [e.subject for e in audit.list_entries(store)] == ["dataset:a"]
    bus.publish(_queued(7))
    assert [e.id for e in bus.read(0).events] == [1, 2], "a rolled-back id is given again"


def test_ids_go_on_across_a_reopening_and_old_ones_come_from_the_outbox(
        tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    store = open_store(db)
    bus = _bus(store, ring_size=3)
    for n in range(6):
        bus.publish(_queued(n))
    store.close()
    store = open_store(db)
    bus = _bus(store, ring_size=3)
    bus.publish(_queued(6))
    assert bus.read(0, memory_only=True) is None, "ids 1..4 are no longer in memory"
    batch = bus.read(0)
    assert [e.id for e in batch.events] == [1, 2, 3, 4, 5, 6, 7] and batch.lost is None
    assert [e.data["job_id"] for e in bus.read(5).events] == [5, 6]
    store.close()


def test_a_reader_behind_what_is_kept_is_told_how_many_it_missed(store: Store) -> None:
    bus = _bus(store, ring_size=2, keep=3)
    for n in range(10):
        bus.publish(_queued(n))
    assert bus.prune() == 7
    batch = bus.read(2)
    assert batch.lost == StreamLost(missed=5, reason="expired", oldest_kept_id=8,
                                    resume_after=7)
    assert [e.id for e in batch.events] == [8, 9, 10]
    assert bus.read(7).lost is None, "from the oldest kept on nothing is missing"
    future = bus.read(99)
    assert future.lost is not None and future.lost.reason == "unknown" and not future.events


def test_age_prunes_but_the_newest_event_always_stays(store: Store) -> None:
    bus = _bus(store, keep=100, keep_age=timedelta(days=1))
    for n in range(3):
        bus.publish(_queued(n))
    assert bus.prune(datetime.now(UTC) + timedelta(days=2)) == 2
    assert events_repo.bounds(store) == (3, 3), "the newest id is where the next start counts on"


def test_telemetry_goes_sooner_and_never_crowds_the_changes_out(store: Store) -> None:
    """A day of serving publishes 86,400 serving.stats: counted with the changes, they
    pushed every change out of `keep` within a day. Telemetry past its hour goes first; a
    reader from the start then misses nothing, though ids are gone between the changes."""
    bus = _bus(store, keep=4, telemetry_age=timedelta(hours=1))
    changes = []
    for n in range(3):
        changes.append(bus.publish(_queued(n)).id)
        for step in range(5):  # numbers while something runs, between two changes
            bus.publish(JobProgress(job_id=n, step=f"step {step}"))
    newest = bus.publish(_queued(99)).id
    assert bus.last_id() == 19
    assert bus.prune(datetime.now(UTC) + timedelta(hours=2)) == 15
    batch = bus.read(0)
    assert batch.lost is None, "only telemetry went: nothing a reader was promised"
    assert [e.id for e in batch.events] == [*changes, newest]
    # Past `keep` (4 changes kept), the oldest change goes and a reader before it is told.
    bus.publish(_queued(100))
    assert bus.prune(datetime.now(UTC) + timedelta(hours=2)) == 1
    lost = bus.read(0).lost
    assert lost is not None and lost.resume_after == changes[0] and lost.missed == changes[0]
    assert next(e.id for e in bus.read(lost.resume_after).events) == changes[1]


def test_a_type_filter_skips_over_other_events(store: Store) -> None:
    bus = _bus(store)
    bus.publish(_queued(1))
    bus.publish(DatasetCreated(dataset="a", by="test"))
    bus.publish(_queued(2))
    batch = bus.read(0, ["dataset"])
    assert [e.type for e in batch.events] == ["dataset.created"] and batch.upto == 3


def test_a_follower_reads_on_from_its_kept_place(store: Store) -> None:
    bus = _bus(store)
    seen: list[int] = []
    arrived = threading.Event()

    def handle(event) -> None:
        seen.append(event.data["job_id"])
        if len(seen) in (2, 4):
            arrived.set()

    follower = EventFollower(bus, "test", ["job.queued"], handle)
    follower.start()
    bus.publish(_queued(1))
    bus.publish(DatasetCreated(dataset="a", by="test"))
    bus.publish(_queued(2))
    assert arrived.wait(10)
    follower.stop()
    bus.publish(_queued(3))  # while it is down
    bus.publish(_queued(4))
    arrived.clear()
    again = EventFollower(bus, "test", ["job.queued"], handle)
    again.start()
    assert arrived.wait(10)
    again.stop()
    assert seen == [1, 2, 3, 4], "each once, the ones published while it was down too"


def test_serving_statistics_are_one_event_per_busy_second(store: Store) -> None:
    bus = _bus(store)
    start = time.monotonic()  # requests are stamped on this clock as they are recorded
    stats = ServingStats()
    ticker = ServingStatsTicker(stats, bus, clock=lambda: start - 2)
    assert ticker.tick(start - 1) is None, "a quiet second publishes nothing"
    for latency in (0.001, 0.002, 0.003, 0.004):
        stats.record("riders:1.0.0", latency, ok=True, rows=2)
    stats.record("riders:1.0.0", 0.005, ok=False, rows=1)
    later = time.monotonic() + 1
    event = ticker.tick(later)  # the five requests fall inside (start - 1, later]
    assert event is not None and len(event.versions) == 1 and event.window_s > 1
    v = event.versions[0]
    assert (v.model, v.version, v.requests, v.errors, v.rows) == ("riders", "1.0.0", 5, 1, 9)
    assert v.p50_ms == pytest.approx(3.0)
    assert ticker.tick(later + 1) is None, "counts are per second, not since the start"
    assert [e.type for e in bus.read(0).events] == ["serving.stats"]


def test_a_second_that_could_not_be_published_is_carried_into_the_next(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bus = _bus(store)
    stats = ServingStats()
    ticker = ServingStatsTicker(stats, bus, clock=time.monotonic)
    stats.record("riders:1.0.0", 0.001, ok=True, rows=1)
    publish = bus.publish

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bus, "publish", full_disk)
    assert ticker.tick() is None
    monkeypatch.setattr(bus, "publish", publish)
    stats.record("riders:1.0.0", 0.002, ok=True, rows=1)
    event = ticker.tick()
    assert event is not None and event.versions[0].requests == 2, "nothing lost"
