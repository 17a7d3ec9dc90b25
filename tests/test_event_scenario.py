"""A day in the life, as a client following `GET /api/v1/events` sees it: a file dropped and
ingested, a model trained (its curve live, round by round), promoted, asked for predictions
(serving statistics once a second), a drifting batch and its alert, the alert acknowledged.
Every event is typed by the catalogue (and valid against the schema the daemon serves),
arrives in order, once, with the audit entry of its change where the change is audited."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import jsonschema_rs
import polars as pl
import pytest

from mlopsd.client.events import Event
from tests.daemon_process import DaemonProcess, wait_until
from tests.sse import Frame, read_events, saw
from tests.test_ingest_daemon import EXAMPLE

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "riders"
data = "bikes@1"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 30

[model.monitoring.columns.temp]
test = "psi"
threshold = 0.2
"""

AUDITED = {  # event → the audit action written with its change
    "daemon.started": "daemon.start", "dataset.created": "dataset.create",
    "job.queued": "job.submit", "ingest.committed": "data.commit",
    "model.registered": "model.register", "model.alias_moved": "model.promote",
    "drift.report": "drift.report", "alert.opened": "alert.opened",
    "alert.acknowledged": "alert.acknowledged", "alert.resolved": "alert.resolved",
}


@pytest.fixture
def d(home: Path):
    daemon = DaemonProcess(home, config=CONFIG).start()
    yield daemon
    daemon.kill()


def _drop(d: DaemonProcess, frame: pl.DataFrame, name: str, n: int) -> None:
    inbox = d.home.inbox / "bikes"
    staged = d.home.root / f".{name}"
    frame.write_csv(staged)
    os.rename(staged, inbox / name)
    assert d.client is not None
    wait_until(lambda: len(d.client.list_versions("bikes")) >= n, timeout=60,
               what=f"bikes@{n}")


def test_a_day_in_the_life_streams_every_change_once_typed_and_audited(
        d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    frames: list[Frame] = []
    follower = threading.Thread(target=lambda: frames.extend(read_events(
        client.base_url, after=0, until=saw("alert.acknowledged"), timeout=300)), daemon=True)
    follower.start()

    data = pl.read_csv(EXAMPLE)
    reference = data.sample(fraction=0.6, seed=1)
    rest = data.join(reference, on=data.columns, how="anti")
    _drop(d, reference, "reference.csv", 1)
    job = client.wait_job(client.train("riders").id, timeout=300)
    assert job.state == "succeeded", job.error
    version = job.result["version"]
    client.promote("riders", version)
    inputs = [c for c in data.columns if c not in ("casual", "registered", "bikers")]
    rows = rest.select(inputs).head(20).to_dicts()
    asked = 0
    started = time.monotonic()
    while time.monotonic() - started < 2.5:  # requests over a few seconds
        client.predict("riders", rows[asked % 20: asked % 20 + 1])
        asked += 1

    def _served(frames: list[Frame]) -> int:
        return sum(v["requests"] for f in frames if f.event == "serving.stats"
                   for v in f.data["data"]["versions"])

    # The last second's numbers come with the next tick: let it come before going on.
    read_events(client.base_url, after=0, until=lambda f: _served(f) >= asked, timeout=30)
    drifted = rest.sample(n=2_000, seed=3).with_columns(
        (pl.col("temp") * 0.5).alias("temp"), (pl.col("atemp") * 0.5).alias("atemp"),
        (pl.col("hum") * 0.6).alias("hum"), (pl.col("hr").cast(pl.Int64) % 6).alias("hr"),
        pl.lit("light rain/snow").alias("weathersit"), pl.lit("Jan").alias("mnth"))
    _drop(d, drifted, "drifted.csv", 2)
    alert = wait_until(lambda: [a for a in client.alerts(state="open")
                                if a.rule == "dataset_drift"], timeout=120,
                       what="the drift alert")[0]
    client.set_alert_state(alert.id, "acknowledged", note="looking")
    follower.join(timeout=120)
    assert frames and frames[-1].event == "alert.acknowledged"

    # Typed: each envelope is valid against the schema the daemon serves, and its payload
    # against the catalogue's model for its name; `id:` and `event:` agree with it.
    schema = jsonschema_rs.validator_for(httpx.get(
        f"{client.base_url}/api/v1/events/schema").json())
    events = []
    for frame in frames:
        assert schema.is_valid(frame.data), frame
        event = Event.model_validate(frame.data)
        event.payload()
        assert (frame.id, frame.event) == (event.id, event.type)
        events.append(event)

    # In order and each once: ids count up without a hole, as the daemon keeps them.
    ids = [e.id for e in events]
    assert ids == list(range(1, len(ids) + 1))
    kept = read_events(client.base_url, after=0, until=lambda f: f[-1].id == ids[-1])
    assert kept == frames, "a late reader gets the very same stream"

    def only(type_: str, **data) -> Event:
        found = [e for e in events if e.type == type_
                 and all(e.data.get(k) == v for k, v in data.items())]
        assert len(found) == 1, (type_, data, [(e.id, e.type) for e in found])
        return found[0]

    committed = [only("ingest.committed", dataset="bikes", version=n) for n in (1, 2)]
    queued = only("job.queued", kind="train", subject="model:riders")
    curve = [e for e in events if e.type == "train.iteration"
             and e.data["job_id"] == queued.data["job_id"]]
    registered = only("model.registered", model="riders", version=version)
    moved = only("model.alias_moved", model="riders", alias="production", to_version=version)
    stats = [e for e in events if e.type == "serving.stats"]
    report = only("drift.report", model="riders", recorded=True, dataset_drift=True)
    opened = only("alert.opened", alert_id=alert.id, rule="dataset_drift")
    acked = only("alert.acknowledged", alert_id=alert.id)
    order = [committed[0].id, queued.id, curve[0].id, curve[-1].id, registered.id, moved.id,
             stats[0].id, committed[1].id, report.id, opened.id, acked.id]
    assert order == sorted(order), [(e.id, e.type) for e in events]

    # Training progress: round by round to the last, live (before the version exists).
    rounds = [e.data["iteration"] for e in curve]
    assert rounds == sorted(set(rounds)) and rounds[0] == 1 and rounds[-1] >= 2
    assert "rmse" in curve[-1].data["valid"]
    # Serving statistics: one event per busy second, counting every request once.
    served = [v for e in stats for v in e.data["versions"] if v["version"] == version]
    total = client.serving().stats[f"riders:{version}"].requests
    assert sum(v["requests"] for v in served) == asked, (
        asked, total, [(e.id, e.at, e.data["window_s"], [v["requests"] for v in
                                                          e.data["versions"]]) for e in stats])
    assert len(stats) >= 2 and all(v["p50_ms"] is not None for v in served)
    # The alert as acknowledged, by whom.
    assert (acked.data["state"], acked.data["note"], acked.data["by"]) == (
        "acknowledged", "looking", "test@owner")

    # Each change once, with its audit entry: the event names the entry written in its
    # transaction, and no entry is claimed by two events.
    entries = {e.id: e for e in client.audit(limit=10_000)}
    claimed = Counter(e.audit_id for e in events if e.audit_id is not None)
    assert max(claimed.values()) == 1
    for event in events:
        if event.type not in AUDITED:
            continue
        assert event.audit_id in entries, (event.type, event.id)
        entry = entries[event.audit_id]
        assert entry.action == AUDITED[event.type], (event.type, entry.action)
        subject = {"job.queued": f"job:{event.data.get('job_id')}",
                   "alert.opened": f"alert:{event.data.get('alert_id')}",
                   "alert.acknowledged": f"alert:{event.data.get('alert_id')}",
                   "alert.resolved": f"alert:{event.data.get('alert_id')}",
                   "ingest.committed": "dataset:bikes", "dataset.created": "dataset:bikes",
                   "model.registered": "model:riders", "model.alias_moved": "model:riders",
                   "drift.report": "model:riders"}.get(event.type)
        assert subject is None or entry.subject == subject, (event.type, entry.subject)
    jobs_queued = Counter(e.data["job_id"] for e in events if e.type == "job.queued")
    jobs_ended = Counter(e.data["job_id"] for e in events if e.type.startswith("job.")
                         and e.type.split(".")[1] in ("succeeded", "failed"))
    assert set(jobs_queued.values()) == {1} and set(jobs_ended.values()) == {1}
    opened_alerts = Counter(e.data["alert_id"] for e in events if e.type == "alert.opened")
    assert set(opened_alerts.values()) == {1}
