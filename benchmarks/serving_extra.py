"""The serving benchmark's mlops-only measurements: start to first prediction, and the
single-row p99 while a training job runs in a worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.http_clients import Target, connect, post, sequential_latency
from benchmarks.report import Load, LoadWatch
from mlopsd.client import Client
from tests import bikes
from tests.daemon_process import mlopsd_cmd


def start_to_first_prediction(home: Path, body: bytes) -> float:
    """From `mlopsd` process start to the first answered prediction (polled every 5 ms)."""
    started = time.perf_counter()
    proc = subprocess.Popen(mlopsd_cmd(home, "--port", "0"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("mlopsd exited during start")
            try:
                client = Client.from_home(home)
                conn = connect(client.base_url)
                status, _ = post(conn, "/v1/models/riders/predict", body)
                conn.close()
                client.close()
                if status == 200:
                    return time.perf_counter() - started
            except Exception:
                pass  # not listening yet, or daemon.json is the previous run's
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def p99_during_training(d: Any, target: Target, body: bytes, requests: int
                        ) -> tuple[float, Load]:
    """Single-row p99 (ms) while the `heavy` model trains in a worker (cancelled when the
    requests are done), and the load meanwhile."""
    client = d.client
    inbox = d.home.inbox / "bikes"
    inbox.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / "bikes.csv"
    shutil.copy(bikes.CSV, staged)
    os.rename(staged, inbox / "bikes.csv")
    deadline = time.monotonic() + 60
    while not client.list_versions("bikes"):
        if time.monotonic() > deadline:
            raise TimeoutError("the bikes file was not ingested")
        time.sleep(0.1)
    job = client.train("heavy")
    while client.get_job(job.id).state != "running":
        time.sleep(0.02)
    watch = LoadWatch()
    times = sequential_latency(target, body, requests)
    load = watch.done()
    client.cancel_job(job.id)
    done = client.wait_job(job.id, timeout=600)
    if done.state == "succeeded":
        print("note: the background training ended before the requests did; raise its rounds")
    return float(np.percentile(times, 99)) * 1000, load
