"""Tracking and registry benchmark.

    scripts/bench tracking [--points 10000] [--runs 10000] [--versions 1000]

1. POINTS metric points logged one `log_metric` call at a time through the SDK, until they
   are queryable from the daemon (goal <= 0.5 s for 10,000).
2. 200 runs with 10 params and 5 metrics each, through the SDK, until queryable (goal
   <= 1 s).
3. With RUNS runs and VERSIONS model versions in the store: listing and filtering over the
   API, median of 20 (goal <= 50 ms).

MLflow (in .venv-anchors, `scripts/bench --with-anchors`; else "not installed") on a
SQLite backend does the same in the same run: POINTS `mlflow.log_metric` calls, 200 runs,
and `MlflowClient.search_runs` with the same filter over RUNS runs holding the same params
and metrics (median of 5). Both sides run at this process's niceness.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, anchor_python, daemon, median, progress
from benchmarks.report import (
    NOT_INSTALLED,
    Load,
    LoadWatch,
    Measured,
    Row,
    at_most,
    header,
    render,
    steady,
)
from mlopsd.client import Client
from store import models as model_repo
from store import runs as run_repo
from store.db import open_store
from tests.daemon_process import DaemonProcess


def many_points(client: Client, points: int) -> float:
    started = time.perf_counter()
    with client.start_run(experiment="bench-points") as run:
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert len(client.metric_history(run.id, "loss")) == points
    return time.perf_counter() - started


def two_hundred_runs(client: Client) -> float:
    """Until all 200 are queryable (a search applies whatever the journal still holds)."""
    experiment = f"bench-runs-{time.monotonic_ns()}"
    started = time.perf_counter()
    for i in range(200):
        with client.start_run(experiment=experiment) as run:
            run.log_params({f"p{k}": i * k for k in range(10)})
            for k in range(5):
                run.log_metric(f"m{k}", i / (k + 1))
    assert len(client.list_runs(experiment=experiment, limit=1000)) == 200
    return time.perf_counter() - started


def seed_store(db: Path, runs: int, versions: int) -> None:
    """Fill the store directly, before the daemon starts (it is the only one to open it
    while running)."""
    store = open_store(db)
    with store.transaction() as cur:
        for i in range(runs):
            run_id = run_repo.new_run_id()
            run_repo.insert_run(cur, run_id=run_id, experiment=f"exp{i % 20}",
                                state="finished")
            run_repo.insert_batch(cur, run_id, params={f"p{k}": (i + k) % 64 for k in range(10)},
                                  tags={"team": f"t{i % 5}"},
                                  metrics=[(f"m{k}", (i % 997) / 997 + k, 0, None)
                                           for k in range(5)])
        for v in range(versions):
            model_repo.register_version(
                cur, model=f"model{v % 10}", task="regression", artifact_sha=f"{v:064x}",
                signature={"inputs": []}, signature_hash="s", data_key=f"d{v}",
                config_hash="c", metrics={"rmse": v}, run_id=None)
    store.checkpoint()
    store.close()


def timed(call: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return median(times)


def mlflow_numbers(points: int, runs: int) -> dict[str, Any] | None:
    """MLflow on SQLite, in the anchors' environment: the same calls, the same sizes."""
    python = anchor_python("mlflow")
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        watch = LoadWatch()
        out = subprocess.run([python, str(ROOT / "benchmarks" / "mlflow_anchor.py"),
                              "tracking", tmp, str(points), "200", str(runs)],
                             capture_output=True, text=True, check=True)
        found = json.loads(out.stdout.strip().splitlines()[-1])
        found["load"] = watch.done()
        return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d = daemon(root / "fresh", "")
        try:
            assert d.client is not None
            client = d.client
            progress("mlops: points")
            points, points_load = steady(lambda: median(
                [many_points(client, args.points) for _ in range(3)]))
            progress("mlops: 200 runs")
            runs, runs_load = steady(lambda: median([two_hundred_runs(client)
                                                     for _ in range(3)]))
        finally:
            d.stop()
        progress(f"mlops: listings over {args.runs:,} runs")
        home = root / "big"
        DaemonProcess(home).home.root.mkdir(parents=True)
        seed_store(home / "meta.duckdb", args.runs, args.versions)
        d = daemon(home, "")
        try:
            client = d.client
            assert client is not None
            listing = steady(lambda: timed(lambda: client.list_runs(limit=100)))
            filtering = steady(lambda: timed(lambda: client.list_runs(
                filter="metrics.m0 > 0.5 and params.p1 = 7", limit=100)))
            sorting = steady(lambda: timed(lambda: client.list_runs(
                order_by="metrics.m1 desc", limit=100)))
            versions = steady(lambda: timed(lambda: client.model_versions("model3")))
            models = steady(lambda: timed(client.list_models))
        finally:
            d.stop()
    progress("MLflow")
    theirs = mlflow_numbers(args.points, args.runs)

    def anchor(key: str) -> Measured | str:
        if theirs is None:
            return NOT_INSTALLED
        return Measured.of(theirs[key], theirs["load"])

    def ms(found: tuple[float, Load]) -> tuple[float, str, Load]:
        return found[0] * 1000, "ms", found[1]

    faster = {"ratio": "anchor/ours"}
    rows = [
        Row(f"{args.points:,} points, one log_metric call each, until queryable", points, "s",
            points_load, anchor("points_s"), [at_most(0.5 * args.points / 10_000, "s")],
            **faster),
        Row("200 runs x (10 params + 5 metrics), until queryable", runs, "s", runs_load,
            anchor("runs_s"), [at_most(1, "s")], **faster),
        Row(f"filter metrics.m0 > 0.5 and params.p1 = 7 over {args.runs:,} runs (100)",
            *ms(filtering), Measured.of(theirs["filter_s"] * 1000, theirs["load"])
            if theirs else NOT_INSTALLED, [at_most(50, "ms")], digits=1, **faster),
        Row(f"list 100 newest of {args.runs:,} runs", *ms(listing), None, [at_most(50, "ms")],
            digits=1),
        Row(f"sort {args.runs:,} runs by metrics.m1 desc (100)", *ms(sorting), None,
            [at_most(50, "ms")], digits=1),
        Row(f"a page of a model's versions ({args.versions:,} in the registry)",
            *ms(versions), None, [at_most(50, "ms")], digits=1),
        Row("list models (first page)", *ms(models), None, [at_most(50, "ms")], digits=1),
    ]
    version = f"MLflow {theirs['mlflow']} (SQLite)" if theirs else "MLflow"
    print(header("Tracking benchmark: the SDK and the API against MLflow's, equal sizes",
                 medians="of 3 (logging) and 20 (listings)",
                 mlflow_search_seeded=f"{theirs['seeded_s']:.0f} s, untimed" if theirs
                 else "-"))
    print(render(rows, version))


if __name__ == "__main__":
    main()
