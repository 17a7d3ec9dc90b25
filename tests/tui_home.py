"""A home for the TUI's tests, filled through the real paths: files dropped into the inbox,
trainings run by the daemon's job, promotions and deploys over HTTP. The UI then shows
what a user would meet."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mlopsd.client import Client
from tests.daemon_process import DaemonProcess, wait_until

EXAMPLE = Path(__file__).parent.parent / "examples" / "bikeshare" / "bikeshare-2011-hourly.csv"

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "riders"
data = "bikes@all"
target = "bikers"
task = "regression"
exclude = ["casual", "registered"]
rounds = 15

[model.monitoring]
exclude = ["season", "mnth", "day"]

[model.retrain]
schedule = ["0 3 * * mon"]
approval = "required"
deploy = "direct"

[model.retrain.gates]
min_improvement = -1000.0
bootstrap = 100
"""


def example() -> pl.DataFrame:
    return pl.read_csv(EXAMPLE)


def drop(d: DaemonProcess, frame: pl.DataFrame | str, name: str,
         dataset: str = "bikes") -> None:
    """Drop a file as an upstream system does: written aside, renamed into the inbox."""
    inbox = d.home.inbox / dataset
    inbox.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / f".{name}"
    if isinstance(frame, str):
        staged.write_text(frame)
    else:
        frame.write_csv(staged)
    os.rename(staged, inbox / name)


def drop_version(d: DaemonProcess, frame: pl.DataFrame, name: str, n: int) -> None:
    drop(d, frame, name)
    assert d.client is not None
    wait_until(lambda: len(d.client.list_versions("bikes")) >= n, timeout=60,
               what=f"bikes@{n}")


def train(client: Client, reason: str = "test") -> str:
    job = client.wait_job(client.train("riders", reason=reason).id, timeout=300)
    assert job.state == "succeeded", job.error
    return job.result["version"]


@dataclass
class Filled:
    daemon: DaemonProcess
    first: str
    """riders' first version, in production before the second was trained"""
    second: str


def fill(d: DaemonProcess) -> Filled:
    """bikes@1 and bikes@2 (two drops), a rejected drop in quarantine with its alert,
    riders 1.0.0 (promoted) and 1.1.0 (trained on both versions, not promoted)."""
    client = d.client
    assert client is not None
    frame = example()
    drop_version(d, frame.sample(fraction=0.4, seed=1), "first.csv", 1)
    first = train(client, "first model")
    client.promote("riders", first, reason="first model goes live")
    drop_version(d, frame.sample(fraction=0.4, seed=2), "second.csv", 2)
    second = train(client, "with the second drop")
    drop(d, "season,mnth\n1,Jan,extra,fields\n", "broken.csv")
    wait_until(lambda: client.quarantine("bikes"), timeout=60, what="broken.csv quarantined")
    return Filled(d, first, second)
