"""Production data without labels, through a real daemon: feature-only drops go to an inputs
dataset the model watches (`target_optional`, `[model.monitoring] inputs`), become versions,
are checked against the production version automatically, and get their performance judged
when their labels arrive (a label file joined on the dataset's id column)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.test_drift_daemon import _drop
from tests.test_ingest_daemon import EXAMPLE

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"

[[dataset]]
name = "rides"                 # what the model is asked in production
target = "bikers"
target_optional = true         # its drops come without the label…
id_column = "ride"             # …which arrives later, in label files

[[model]]
name = "riders"
data = "bikes@1"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 30

[model.monitoring]
inputs = "rides"
"""
LABELS = ["casual", "registered", "bikers"]


@pytest.fixture
def d(home: Path):
    daemon = DaemonProcess(home, config=CONFIG).start()
    yield daemon
    daemon.kill()


def _put(d: DaemonProcess, dataset: str, frame: pl.DataFrame, name: str) -> None:
    inbox = d.home.inbox / dataset
    inbox.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / f".{name}"
    frame.write_csv(staged)
    os.rename(staged, inbox / name)


def test_unlabelled_production_inputs_are_versioned_checked_and_judged_once_labelled(
        d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    frame = pl.read_csv(EXAMPLE)
    reference = frame.sample(fraction=0.6, seed=1)
    rest = frame.join(reference, on=frame.columns, how="anti").sample(n=600, seed=2)
    _drop(d, reference, "reference.csv", 1)
    job = client.wait_job(client.train("riders").id, timeout=300)
    assert job.state == "succeeded", job.error
    version = job.result["version"]
    client.promote("riders", version)
    production = rest.drop(LABELS).with_row_index("ride", offset=1000)

    # Into the training dataset, feature-only rows are still refused — saying where they go.
    _put(d, "bikes", production, "unlabelled.csv")
    refused = wait_until(lambda: client.quarantine("bikes"), what="the refused drop")[0]
    messages = " ".join(i["message"] for i in refused.issues)
    assert "the target column 'bikers' is missing" in messages
    assert "target_optional = true" in messages and "[model.monitoring] inputs" in messages

    # Into the inputs dataset they become a version, checked against production at once.
    _put(d, "rides", production, "monday.csv")
    wait_until(lambda: client.list_versions("rides"), what="rides@1")
    assert not client.quarantine("rides")
    first = wait_until(lambda: next((r for r in client.drift_reports(model="riders")
                                     if r.current == "rides@1"), None), timeout=120,
                       what="the drift report of rides@1")
    assert first.recorded and first.reference == "bikes@1"
    assert first.model_version == version and first.status == "no_drift"
    assert first.rows_current == 600 and first.performance is None
    assert "ride" not in {c["column"] for c in first.columns}, "the id is no model input"
    shown = run_mlops(d.home.root, "drift", "riders")
    assert "rides@1 (600 rows) against its training data bikes@1" in shown.stdout

    # The labels arrive: far from what the model says (three times as many riders).
    labels = rest.select(pl.col("bikers") * 3).with_row_index("ride", offset=1000)
    _put(d, "rides", labels, "monday.labels.csv")
    judged = wait_until(lambda: next((r for r in client.drift_reports(model="riders")
                                      if r.current == "rides@1" and r.performance), None),
                        timeout=120, what="the report with the labels joined")
    assert judged.detail["why"] == "600 labels arrived"
    assert judged.performance["rows"] == 600 and judged.performance["degraded"]
    assert judged.performance["kind"].startswith("concept drift")
    alert = wait_until(lambda: next((a for a in client.alerts(state="open")
                                     if a.rule == "performance_drop"), None),
                       what="the performance drop")
    assert alert.subject == "model:riders" and "rides@1" in alert.message
