"""MLflow's side of the benchmarks, run with the anchors' Python (.venv-anchors, made by
`scripts/bench --with-anchors`); it never imports mlops.

    python benchmarks/mlflow_anchor.py save MODEL.txt OUT_DIR
        the same LightGBM model text, saved with mlflow.lightgbm for `mlflow models serve`
    python benchmarks/mlflow_anchor.py tracking DIR POINTS RUNS SEARCH_RUNS
        on a SQLite backend in DIR: POINTS log_metric calls, RUNS runs of 10 params and 5
        metrics, then search_runs with the filter of `scripts/bench tracking` over
        SEARCH_RUNS runs (logged as mlops' are seeded); prints one JSON line of seconds
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path


def save(model_txt: str, out_dir: str) -> None:
    import lightgbm as lgb
    import mlflow.lightgbm

    booster = lgb.Booster(model_file=model_txt)
    mlflow.lightgbm.save_model(booster, out_dir)
    print(json.dumps({"saved": out_dir, "mlflow": mlflow.__version__}))


def seed(client: object, experiment: int, runs: int) -> None:
    import uuid

    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    store = client._tracking_client.store  # type: ignore[attr-defined]
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        for i in range(runs):
            run = uuid.uuid4().hex
            session.add(SqlRun(run_uuid=run, name=f"run{i}", experiment_id=experiment,
                               status="FINISHED", start_time=now, end_time=now, user_id="bench",
                               lifecycle_stage="active", source_type="LOCAL",
                               artifact_uri=f"file:///tmp/none/{run}"))
            for k in range(5):
                value = (i % 997) / 997 + k
                for table in (SqlMetric, SqlLatestMetric):
                    session.add(table(key=f"m{k}", value=value, timestamp=now, step=0,
                                      is_nan=False, run_uuid=run))
            for k in range(10):
                session.add(SqlParam(key=f"p{k}", value=str((i + k) % 64), run_uuid=run))
            session.add(SqlTag(key="team", value=f"t{i % 5}", run_uuid=run))


def tracking(folder: str, points: int, runs: int, search_runs: int) -> None:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{Path(folder) / 'mlflow.db'}")
    mlflow.set_experiment("bench-points")
    started = time.perf_counter()
    with mlflow.start_run() as run:
        for step in range(points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    client = mlflow.MlflowClient()
    assert len(client.get_metric_history(run.info.run_id, "loss")) == points
    points_s = time.perf_counter() - started

    mlflow.set_experiment("bench-runs")
    started = time.perf_counter()
    for i in range(runs):
        with mlflow.start_run():
            mlflow.log_params({f"p{k}": i * k for k in range(10)})
            for k in range(5):
                mlflow.log_metric(f"m{k}", i / (k + 1))
    found = mlflow.search_runs(experiment_names=["bench-runs"], max_results=runs + 1)
    assert len(found) == runs
    runs_s = time.perf_counter() - started

    # The same rows as mlops' seeded store, written in one transaction through MLflow's own
    # tables (one log_batch per run took ~0.14 s here: 10,000 runs would be 20 minutes);
    # as mlops' store is seeded directly too, seeding is not timed.
    experiment = mlflow.set_experiment("bench-search").experiment_id
    seeded = time.perf_counter()
    seed(client, int(experiment), search_runs)
    seeded = time.perf_counter() - seeded
    times = []
    for _ in range(5):
        started = time.perf_counter()
        found = client.search_runs([experiment], "metrics.m0 > 0.5 and params.p1 = '7'",
                                   max_results=100)
        times.append(time.perf_counter() - started)
    print(json.dumps({"found": len(found), "points_s": points_s, "runs_s": runs_s,
                      "filter_s": statistics.median(times), "seeded_s": seeded,
                      "mlflow": mlflow.__version__}))


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2], sys.argv[3])
    else:
        tracking(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
