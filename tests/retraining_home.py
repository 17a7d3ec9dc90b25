"""What the retraining tests share: the bikes config with a `riders` model, a champion in
production with new data for a challenger, lenient gates for what follows the gate, traffic
while a pipeline runs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mlopsd.client import Client
from tests.daemon_process import DaemonProcess, wait_until
from tests.test_drift_daemon import _drop
from tests.test_ingest_daemon import EXAMPLE

BASE = """\
[ingest]
settle_s = 0.2

[monitoring]
min_labels = 20
min_requests = 20

[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "riders"
data = "bikes@1"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 40

[model.retrain]
training_window = "last 1 versions"
"""
INPUTS_DROPPED = ("casual", "registered", "bikers")


def example_frame() -> pl.DataFrame:
    """The bikeshare example: each test module reads it once (its `frame` fixture)."""
    return pl.read_csv(EXAMPLE)


def start_daemon(home: Path, policy: str) -> DaemonProcess:
    return DaemonProcess(home, config=BASE + policy).start()


def lenient(*, deploy: str, watch: str, approval: str = "auto") -> str:
    """A policy whose gate lets any challenger through: for tests of what follows the gate."""
    return (f'approval = "{approval}"\ndeploy = "{deploy}"\nwatch = "{watch}"\n\n'
            "[model.retrain.gates]\nmin_improvement = -1000.0\n")


@contextlib.contextmanager
def lenient_daemon(home: Path, frame: pl.DataFrame, **policy: str
                    ) -> Iterator[tuple[DaemonProcess, Client, str]]:
    """A daemon whose model has a lenient policy, a champion in production and new data
    for a challenger: (daemon, client, champion)."""
    d = start_daemon(home, lenient(**policy))
    try:
        assert d.client is not None
        yield d, d.client, champion_and_new_data(d, frame)
    finally:
        d.kill()


def serve_until_ended(client: Client, pipeline_id: int, rows: list[dict],
                       timeout: float = 120) -> None:
    """Traffic while a pipeline runs: a canary or shadow needs requests of its own."""
    deadline = time.monotonic() + timeout
    while client.pipeline(pipeline_id).state == "running" and time.monotonic() < deadline:
        client.predict("riders", rows)


def in_production(d: DaemonProcess, data: pl.DataFrame) -> str:
    """bikes@1 from `data`, riders trained on it and promoted: the champion."""
    client = d.client
    assert client is not None
    _drop(d, data, "reference.csv", 1)
    job = client.wait_job(client.train("riders").id, timeout=300)
    assert job.state == "succeeded", job.error
    client.promote("riders", job.result["version"])
    return job.result["version"]


def champion_and_new_data(d: DaemonProcess, frame: pl.DataFrame) -> str:
    """A champion on 40% of the rows, then another 40% as bikes@2 for its challenger."""
    champion = in_production(d, frame.sample(fraction=0.4, seed=1))
    _drop(d, frame.sample(fraction=0.4, seed=2), "second.csv", 2)
    return champion


def ended(client: Client, pipeline_id: int, timeout: float = 180):
    return wait_until(lambda: (p := client.pipeline(pipeline_id)).state not in (
        "running",) and p, timeout=timeout, what=f"pipeline {pipeline_id} to end or wait")


def steps_of(pipeline) -> dict[str, dict]:
    return {s["step"]: s for s in pipeline.steps}


def request_rows(data: pl.DataFrame) -> list[dict]:
    return data.drop(INPUTS_DROPPED).to_dicts()


def wait_for_canary(client: Client, pipeline_id: int) -> None:
    """Until the pipeline's deploy step has its canary deployment."""
    wait_until(lambda: "deployment_id" in (steps_of(client.pipeline(pipeline_id)).get(
        "deploy") or {}).get("detail", {}), timeout=180, what="the canary")
