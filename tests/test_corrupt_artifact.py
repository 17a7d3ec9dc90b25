"""A production model whose artifact rotted while the daemon was down: predict says why (503)
or the previous version answers as a fallback, an `artifact_corrupt` alert is open, `mlops
status` shows it, and `mlops reproduce` puts the right bytes back and serves it again."""

from __future__ import annotations

from pathlib import Path

import httpx
import polars as pl

from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.test_ingest_daemon import EXAMPLE


def config(fallback: bool) -> str:
    return bikes_config(serving=f"fallback_to_previous = {str(fallback).lower()}", rounds=30)


def _train_and_promote(d: DaemonProcess, month: Path, versions: int) -> str:
    assert d.client is not None
    d.client.upload("bikes", month)
    wait_until(lambda: len(d.client.list_versions("bikes")) >= versions, timeout=60,
               what=f"bikes@{versions}")
    job = d.client.wait_job(d.client.train("riders").id, timeout=300)
    assert job.state == "succeeded", job.error
    version = d.client.get_model("riders").latest
    assert version is not None
    d.client.promote("riders", version)
    return version


def _predict(d: DaemonProcess) -> httpx.Response:
    assert d.client is not None
    row = pl.read_csv(EXAMPLE).head(1).drop("casual", "registered", "bikers").to_dicts()[0]
    return httpx.post(f"{d.client.base_url}/v1/models/riders/predict", json={"rows": [row]},
                      timeout=30)


def test_a_corrupt_production_artifact_is_refused_said_alerted_and_repaired(
        tmp_path: Path) -> None:
    frame = pl.read_csv(EXAMPLE)
    months = []
    for n, (low, high) in enumerate([(1, 120), (121, 240)]):
        months.append(tmp_path / f"part{n}.csv")
        frame.filter(pl.col("day").is_between(low, high)).write_csv(months[-1])
    home = tmp_path / "home"
    d = DaemonProcess(home, config=config(False)).start()
    first = _train_and_promote(d, months[0], 1)
    second = _train_and_promote(d, months[1], 2)
    assert d.client is not None
    blob = d.home.artifacts / "sha256" / d.client.model_version("riders", second).artifact_sha[:2]
    blob = blob / d.client.model_version("riders", second).artifact_sha
    assert d.stop() == 0
    good = blob.read_bytes()
    blob.chmod(0o600)
    blob.write_bytes(good.replace(b"leaf_value=", b"leaf_valuX=", 1))  # rot, same size

    # No fallback configured: a 503 that says why, an alert, and the status names it.
    d = DaemonProcess(home, config=config(False)).start()
    reply = _predict(d)
    assert reply.status_code == 503, reply.text
    message = reply.json()["error"]["message"]
    assert "corrupt" in message and f"mlops reproduce riders:{second}" in message, message
    assert d.client is not None
    alert = next(a for a in d.client.alerts(state="open") if a.rule == "artifact_corrupt")
    assert alert.subject == "model:riders" and second in alert.message
    status = run_mlops(home, "status")
    assert "riders" in status.stdout and "cannot serve" in status.stdout, status.stdout
    assert d.stop() == 0

    # The previous version answers, marked as a fallback; reproduce repairs the blob.
    d = DaemonProcess(home, config=config(True)).start()
    reply = _predict(d)
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-served-as"] == "fallback" and reply.json()["version"] == first
    repaired = run_mlops(home, "reproduce", f"riders:{second}", timeout=300)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "corrupt" in repaired.stdout and "replaced it" in repaired.stdout, repaired.stdout
    assert "serves again" in repaired.stdout
    assert blob.read_bytes() == good
    reply = _predict(d)
    assert reply.status_code == 200 and reply.json()["version"] == second
    assert reply.headers["x-served-as"] == "production"
    assert d.client is not None
    assert not [a for a in d.client.alerts(state="open") if a.rule == "artifact_corrupt"]
    assert "every production version serves" in run_mlops(home, "status").stdout
    assert d.stop() == 0
