"""Drift-triggered retraining keeps working after the first retrain: once a retrained
version is deployed, the drift alert about the version it replaced is resolved, the drift
stream is judged against the new version, and a still-drifted report opens a new alert —
a new trigger, held by the policy's cooldown."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.retraining_home import BASE, ended, example_frame, in_production
from tests.test_drift_daemon import _drop


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return example_frame()


POLICY = """\
retrain_on = ["drift"]
cooldown = "1h"
deploy = "direct"
watch = "0s"

[model.retrain.gates]
min_improvement = -1000.0
"""


def test_a_model_that_keeps_drifting_is_retrained_again(home: Path,
                                                        frame: pl.DataFrame) -> None:
    d = DaemonProcess(home, config=BASE + POLICY).start()
    try:
        client = d.client
        assert client is not None
        reference = frame.sample(fraction=0.5, seed=1)
        champion = in_production(d, reference)
        rest = frame.join(reference, on=frame.columns, how="anti")
        # Another climate: the first retrain learns it (training_window: the last version).
        _drop(d, rest.sample(n=1_500, seed=2).with_columns(
            (pl.col("temp") * 0.5).alias("temp"), (pl.col("atemp") * 0.5).alias("atemp"),
            (pl.col("hum") * 0.6).alias("hum"), (pl.col("windspeed") + 0.2).alias("windspeed"),
            (pl.col("hr").cast(pl.Int64) % 6).alias("hr"), pl.lit(1).alias("season"),
            pl.lit("light rain/snow").alias("weathersit")), "drifted.csv", 2)
        first = wait_until(lambda: client.pipelines(model="riders"), timeout=120,
                           what="the pipeline the drift alert started")[0]
        alert = next(a for a in client.alerts() if a.rule == "dataset_drift")
        assert first.trigger == "drift" and first.trigger_detail["alert_id"] == alert.id
        assert alert.detail["model_version"] == champion
        done = ended(client, first.id)
        assert done.state == "deployed", done.reason
        retrained = done.challenger
        assert client.get_model("riders").aliases["production"] == retrained != champion

        # The deploy resolved the alert about the version it replaced.
        old = next(a for a in client.alerts() if a.id == alert.id)
        assert old.state == "resolved"
        assert f"production moved from riders:{champion} to riders:{retrained}" in old.note

        # The world moves again (back to the old climate): judged against the new version.
        _drop(d, rest.sample(n=1_500, seed=3), "third.csv", 3)
        report = wait_until(lambda: next((r for r in client.drift_reports(model="riders")
                                          if r.current == "bikes@3"), None), timeout=120,
                            what="the report of bikes@3")
        assert (report.model_version, report.reference) == (retrained, "bikes@2")
        assert report.recorded and report.dataset_drift
        again = wait_until(lambda: next((a for a in client.alerts(state="open")
                                         if a.rule == "dataset_drift"), None),
                           what="a new drift alert")
        assert again.id != alert.id and again.detail["model_version"] == retrained
        # A new trigger, subject to the cooldown: held, to start when it has passed.
        held = wait_until(lambda: client.pipelines(model="riders", state="held"), timeout=30,
                          what="the second drift trigger, held by the cooldown")[0]
        assert held.trigger == "drift" and held.trigger_detail["alert_id"] == again.id
        assert held.actor == f"alert:{again.id}"
        out = run_mlops(d.home.root, "pipelines", "--state", "held")
        assert out.returncode == 0 and str(held.id) in out.stdout
    finally:
        d.kill()
