"""Tracking and registry benchmark.

    scripts/bench tracking [--runs 10000] [--versions 1000]

1. 10,000 metric points logged one `log_metric` call at a time through the SDK, until they
   are queryable from the daemon (target <= 0.5 s).
2. 200 runs with 10 params and 5 metrics each, through the SDK, until queryable (target
   <= 1 s).
3. With RUNS runs and VERSIONS model versions in the store: listing and filtering over the
   API, median of 20 (target <= 50 ms).

MLflow 3.17 on a local SQLite backend, measured on this machine for the issue: one
log_metric 8.4 ms (10,000 points ~84 s), log_batch of 10,000 ~1.2 s, 200 runs ~10 s,
search_runs ~0.15 s. When `mlflow` is installed, its numbers are measured here too.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import daemon, median, table
from mlopsd.client import Client
from store import models as model_repo
from store import runs as run_repo
from store.db import open_store
from tests.daemon_process import DaemonProcess


def ten_thousand_points(client: Client) -> float:
    started = time.perf_counter()
    with client.start_run(experiment="bench-points") as run:
        for step in range(10_000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert len(client.metric_history(run.id, "loss")) == 10_000
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


def mlflow_numbers() -> dict[str, float] | None:
    if importlib.util.find_spec("mlflow") is None:
        return None
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("bench")
        started = time.perf_counter()
        with mlflow.start_run():
            for step in range(1000):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        per_call = (time.perf_counter() - started) / 1000
        return {"points": per_call * 10_000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d = daemon(root / "fresh", "")
        try:
            assert d.client is not None
            points = median([ten_thousand_points(d.client) for _ in range(3)])
            runs = median([two_hundred_runs(d.client) for _ in range(3)])
        finally:
            d.stop()
        home = root / "big"
        DaemonProcess(home).home.root.mkdir(parents=True)
        seed_store(home / "meta.duckdb", args.runs, args.versions)
        d = daemon(home, "")
        try:
            client = d.client
            assert client is not None
            listing = timed(lambda: client.list_runs(limit=100))
            filtering = timed(lambda: client.list_runs(
                filter="metrics.m0 > 0.5 and params.p1 = 7", limit=100))
            sorting = timed(lambda: client.list_runs(order_by="metrics.m1 desc", limit=100))
            versions = timed(lambda: client.model_versions("model3"))
            models = timed(client.list_models)
        finally:
            d.stop()
    theirs = mlflow_numbers()
    mlflow_points = f"{theirs['points']:.1f} s" if theirs else "84 s (issue's figure)"
    print(f"\nTracking benchmark (medians; {args.runs:,} runs and {args.versions:,} versions "
          "for the listings)\n")
    print(table([
        ["10,000 points, one log_metric call each, until queryable", f"{points:.3f} s",
         mlflow_points, "<= 0.5 s"],
        ["200 runs x (10 params + 5 metrics), until queryable", f"{runs:.3f} s",
         "10 s (issue's figure)",
         "<= 1 s"],
        ["list 100 newest runs", f"{listing * 1000:.1f} ms", "-", "<= 50 ms"],
        ["filter metrics.m0 > 0.5 and params.p1 = 7", f"{filtering * 1000:.1f} ms",
         "150 ms (search_runs, issue's figure)", "<= 50 ms"],
        ["sort by metrics.m1 desc", f"{sorting * 1000:.1f} ms", "-", "<= 50 ms"],
        ["a model's versions", f"{versions * 1000:.1f} ms", "-", "<= 50 ms"],
        ["list models", f"{models * 1000:.1f} ms", "-", "<= 50 ms"],
    ], ["measure", "mlops", "MLflow", "target"]))


if __name__ == "__main__":
    main()
