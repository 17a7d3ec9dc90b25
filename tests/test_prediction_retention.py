"""The prediction log keeps `[serving] log_keep_days`: older predictions are deleted with the
feedback on them, at start and hourly, with an audit entry and a `predictions.pruned`
event in the same transaction; newer ones, and their feedback, stay. On a real store (time
passed in), and on a real daemon whose logged rows are made old while it is stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from mlopsd.runtime.events import EventBus
from mlopsd.services.prediction_records import PredictionRecords
from store import audit
from store import events as events_repo
from store import predictions as prediction_repo
from store.db import Store, open_store
from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "meta.duckdb")
    yield s
    s.close()


def _log(store: Store, request_id: str, at: datetime, rows: int = 2) -> None:
    columns = prediction_repo.PredictionColumns()
    for i in range(rows):
        columns.request_id.append(request_id)
        columns.row_index.append(i)
        columns.model.append("riders")
        columns.version.append("1.0.0")
        columns.served_as.append("production")
        columns.predicted_at.append(at)
        columns.latency_ms.append(1.0)
        columns.inputs.append('{"temp": 0.3}')
        columns.output.append("12.5")
    prediction_repo.insert_predictions(store, columns)


def test_older_predictions_go_with_their_feedback_newer_ones_stay(store: Store) -> None:
    bus = EventBus()
    bus.attach(store)
    _log(store, "old", NOW - timedelta(days=31))
    _log(store, "edge", NOW - timedelta(days=30) + timedelta(seconds=1))
    _log(store, "new", NOW - timedelta(hours=1))
    for request_id in ("old", "edge", "new"):
        prediction_repo.add_feedback(store, "riders", [request_id], [None], ["7"],
                                     source="test")
    retention = PredictionRecords(store, bus, lambda: 30.0)

    assert retention.prune(NOW) == (2, 1)
    left = prediction_repo.list_predictions(store, model="riders")
    assert sorted({p.request_id for p in left}) == ["edge", "new"]
    assert all(p.label == 7 for p in left)
    with store.transaction() as cur:
        feedback = cur.execute("SELECT request_id FROM feedback ORDER BY 1").fetchall()
    assert feedback == [("edge",), ("new",)]
    [entry] = audit.list_entries(store, action="predictions.prune")
    assert entry.actor == "mlopsd" and entry.subject == "prediction_log"
    assert entry.details == {"before": (NOW - timedelta(days=30)).isoformat(),
                             "predictions": 2, "feedback": 1}
    [event] = [e for e in events_repo.after(store, 0, 1000) if e.type == "predictions.pruned"]
    assert event.audit_id == entry.id and event.data["predictions"] == 2

    # Nothing more to delete: no audit entry, no event.
    assert retention.prune(NOW) == (0, 0)
    assert len(audit.list_entries(store, action="predictions.prune")) == 1


CONFIG = """\
[serving]
log_keep_days = 30
"""


def test_a_daemon_deletes_what_is_past_its_days_when_it_starts(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=CONFIG).start()
    try:
        assert d.client is not None
        d.client.promote("riders", bikes.log(d.client, bikes.train(rounds=5), "riders"))
        rows = bikes.frame(3).select(bikes.FEATURES).to_dicts()
        made = [d.client.predict("riders", rows[i:i + 1]).request_id for i in range(3)]
        wait_until(lambda: len(d.client.predictions(model="riders")) == 3,
                   what="the three predictions logged")
        d.client.feedback("riders", [{"request_id": made[0], "label": 5}])
    finally:
        assert d.stop() == 0
    # Two of them made 40 days ago, while nothing else has the file open.
    con = duckdb.connect(str(d.home.db))
    con.execute("UPDATE prediction_log SET predicted_at = predicted_at - INTERVAL 40 DAY "
                "WHERE request_id IN (?, ?)", made[:2])
    con.close()

    d.start()
    try:
        assert d.client is not None
        kept = d.client.predictions(model="riders")
        assert [p.request_id for p in kept] == [made[2]]
        [entry] = d.client.audit(action="predictions.prune")
        assert entry.details["predictions"] == 2 and entry.details["feedback"] == 1
        assert "log_keep_days" in (entry.reason or "")
        events = d.client.events(after=0, timeout=2, reconnect=False)
        pruned = [e for e in events if e.type == "predictions.pruned"]
        assert [e.data["predictions"] for e in pruned] == [2]
    finally:
        assert d.stop() == 0
