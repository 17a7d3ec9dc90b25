"""Drift through a real daemon: a drifting data version raises a report and an alert, a
clean one raises none; the CLI prints the per-column table."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.paging import walk
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


def _drop(d: DaemonProcess, frame: pl.DataFrame, name: str, n: int) -> None:
    inbox = d.home.inbox / "bikes"
    inbox.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / f".{name}"
    frame.write_csv(staged)
    os.rename(staged, inbox / name)
    assert d.client is not None
    wait_until(lambda: len(d.client.list_versions("bikes")) >= n, timeout=60,
               what=f"bikes@{n}")


@pytest.fixture
def d(home: Path):
    daemon = DaemonProcess(home, config=CONFIG).start()
    yield daemon
    daemon.kill()


def test_a_drifting_batch_is_reported_and_alerted_a_clean_one_is_not(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    frame = pl.read_csv(EXAMPLE)
    reference = frame.sample(fraction=0.6, seed=1)
    rest = frame.join(reference, on=frame.columns, how="anti")
    _drop(d, reference, "reference.csv", 1)
    job = client.wait_job(client.train("riders").id, timeout=300)
    assert job.state == "succeeded", job.error
    client.promote("riders", job.result["version"])

    clean = rest.sample(n=2_000, seed=2)
    _drop(d, clean, "clean.csv", 2)
    report = wait_until(lambda: (r := client.drift_reports(model="riders")) and r[0],
                        timeout=120, what="the drift report of the clean batch")
    assert (report.current, report.reference) == ("bikes@2", "bikes@1")
    assert not report.dataset_drift, [c for c in report.columns if c["drifted"]]
    first_profile = report.profile_sha
    assert first_profile, "the reference was profiled and the profile kept"
    assert not [a for a in client.alerts(state="open") if a.rule == "dataset_drift"]

    drifted = rest.sample(n=2_000, seed=3).with_columns(
        (pl.col("temp") * 0.5).alias("temp"), (pl.col("atemp") * 0.5).alias("atemp"),
        (pl.col("hum") * 0.6).alias("hum"), (pl.col("windspeed") + 0.2).alias("windspeed"),
        (pl.col("hr").cast(pl.Int64) % 6).alias("hr"), pl.lit("light rain/snow").alias(
            "weathersit"), pl.lit(1).alias("season"), pl.lit("Jan").alias("mnth"))
    _drop(d, drifted, "drifted.csv", 3)
    report = wait_until(lambda: (r := client.drift_reports(model="riders"))[0].current
                        == "bikes@3" and r[0], timeout=120, what="the second report")
    assert report.dataset_drift and report.drift_share >= 0.5
    assert report.profile_sha == first_profile, "the stored profile is reused"
    by_column = {c["column"]: c for c in report.columns}
    assert by_column["temp"]["drifted"] and by_column["weathersit"]["drifted"]
    assert (by_column["temp"]["test"], by_column["temp"]["threshold"]) == ("psi", 0.2), \
        "the column's own test from [model.monitoring.columns.temp]"
    assert report.prediction_drift
    alert = wait_until(lambda: [a for a in client.alerts(state="open")
                                if a.rule == "dataset_drift"], what="the drift alert")[0]
    assert "bikes@3 drifted" in alert.message and alert.subject == "model:riders"
    assert report.performance["degraded"], "the drifted batch carries the target"
    assert report.performance["kind"].startswith("data drift")

    # Concept drift: inputs as in training, but the target relation changed.
    concept = rest.sample(n=2_000, seed=4).with_columns(pl.col("bikers") * 3)
    _drop(d, concept, "concept.csv", 4)
    report = wait_until(lambda: (r := client.drift_reports(model="riders"))[0].current
                        == "bikes@4" and r[0], timeout=120, what="the third report")
    assert not report.dataset_drift
    assert report.performance["degraded"] and report.performance["metric"] == "rmse"
    assert report.performance["kind"].startswith("concept drift")
    # One open alert per rule and subject: the data-drift drop of bikes@3 is the same
    # alert, its message updated once the report's alerts are raised (just after it).
    drop = wait_until(lambda: [a for a in client.alerts(state="open")
                               if a.rule == "performance_drop"
                               and "concept drift" in a.message], what="the drop alert")[0]
    assert drop.severity == "critical" and drop.count >= 2
    out = run_mlops(d.home.root, "drift", "riders", "--against", "bikes@3")
    assert out.returncode == 0 and "DRIFT" in out.stdout and "temp" in out.stdout
    # Recorded (--record): the check is part of the drift stream and moves its alerts.
    again = run_mlops(d.home.root, "drift", "riders", "--against", "bikes@2", "--record")
    assert again.returncode == 0
    cleared = [a for a in client.alerts(state="resolved") if a.rule == "dataset_drift"]
    assert cleared and "shows none" in cleared[0].note, "a clean report clears the alert"
    scored = [a for a in client.alerts(state="resolved") if a.rule == "performance_drop"]
    assert scored and scored[0].id == drop.id and "scores within the limit" in scored[0].note, \
        "a labelled batch that scores as the baseline clears the batch-found drop"
    opened = [e for e in client.audit(limit=500) if e.action == "alert.opened"]
    assert opened, "opening an alert is audited"

    page = d.home.root / "drift.html"
    theirs = d.home.root / ".drift.html.tmp"  # the name the page was staged under, fixed
    theirs.write_text("someone's file")
    written = run_mlops(d.home.root, "drift", "riders", "--html", str(page))
    assert written.returncode == 0, written.stderr
    assert theirs.read_text() == "someone's file", "the page staged in a temp file of its own"
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "windspeed" in text
    assert "<script" not in text and "http" not in text.split("<body>")[1], "self-contained"

    # What the model is asked in production, from its prediction log.
    inputs = [c for c in drifted.columns if c not in ("casual", "registered", "bikers")]
    client.predict("riders", drifted.select(inputs).head(500).to_dicts())
    wait_until(lambda: len(client.predictions(model="riders", limit=1000)) >= 500,
               what="the requests in the prediction log")
    logged = run_mlops(d.home.root, "drift", "riders", "--window", "10m")
    assert logged.returncode == 0, logged.stderr
    latest = client.drift_reports(model="riders")[0]
    assert latest.current.startswith("log:riders[") and latest.dataset_drift
    assert latest.profile_sha == first_profile
    assert not latest.recorded, "a window check is ad hoc"
    assert client.drift_reports(model="riders", recorded=True, limit=1)[0].current \
        == "bikes@2", "…and leaves the stream's latest report as it was"
    # The reports page by page, as the UI lists them.
    assert sum(map(len, walk(client.drift_reports, limit=2, model="riders"))) >= 4

    # Data quality over time: one point per version, per column.
    series = client.quality("bikes")
    assert [p.version for p in series] == [1, 2, 3, 4]
    assert all(p.columns["temp"].null_share == 0 for p in series)
    assert series[2].columns["windspeed"].out_of_range_share > 0, "windspeed + 0.2"
    assert series[1].columns["windspeed"].out_of_range_share == 0
    assert again.returncode == 0 and "no dataset drift" in again.stdout
