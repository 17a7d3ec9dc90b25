"""A notebook's MLflow code, unchanged: run with the tracking server in
`MLFLOW_TRACKING_URI` (and `MLFLOW_TRACKING_TOKEN`), it tracks a run with params, tags and
1,000 metric steps, searches, deletes and restores a run, trains LightGBM under
`mlflow.lightgbm.autolog()`, registers the model and gives it the alias `production`.

    python examples/mlflow/notebook.py CSV OUT.json [EXPERIMENT] [MODEL]

It imports nothing of mlops: the same file runs against `mlflow server`
(`scripts/bench mlflow-client`) and against mlopsd (`scripts/demo`,
tests/test_mlflow_client.py). OUT.json
says what it made (ids, the version, the booster's predictions on a few rows) and how long
each phase took, in seconds.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import pandas as pd
from mlflow import MlflowClient

FEATURES = ["season", "hr", "holiday", "weekday", "workingday", "temp", "atemp", "hum",
            "windspeed"]
TARGET = "bikers"
STEPS = 1000
SEARCH = ("metrics.rmse < 20 and params.learning_rate = '0.1' and tags.team = 'growth' "
          "and attributes.status = 'FINISHED'")


def main(csv: str, out: str, experiment: str = "notebook", model: str = "bikes-mlflow"
         ) -> None:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    client = MlflowClient()
    experiment_id = mlflow.set_experiment(experiment).experiment_id

    phase = time.perf_counter()
    with mlflow.start_run(run_name="notebook") as run:
        mlflow.log_params({"learning_rate": 0.1, "num_leaves": 15, "features": "numeric"})
        mlflow.set_tags({"team": "growth", "purpose": "the MLflow client, unchanged"})
        steps = time.perf_counter()
        for step in range(STEPS):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        seconds["metric_steps"] = time.perf_counter() - steps
        mlflow.log_metric("rmse", 12.5)
    seconds["tracked_run"] = time.perf_counter() - phase

    phase = time.perf_counter()
    found = mlflow.search_runs(experiment_ids=[experiment_id], filter_string=SEARCH,
                               order_by=["metrics.rmse ASC"], output_format="list")
    history = client.get_metric_history(run.info.run_id, "loss")
    seconds["search"] = time.perf_counter() - phase

    scratch = client.create_run(experiment_id, run_name="scratch")
    client.set_terminated(scratch.info.run_id)
    client.delete_run(scratch.info.run_id)
    active = [r.info.run_id for r in client.search_runs([experiment_id])]
    deleted = client.get_run(scratch.info.run_id).info.lifecycle_stage
    client.restore_run(scratch.info.run_id)
    restored = client.get_run(scratch.info.run_id).info.lifecycle_stage

    phase = time.perf_counter()
    data = pd.read_csv(csv).head(4000)
    train, valid = data.iloc[:3200], data.iloc[3200:]
    mlflow.lightgbm.autolog()
    with mlflow.start_run(run_name="lightgbm") as trained:
        booster = lgb.train(
            {"objective": "regression", "num_leaves": 15, "learning_rate": 0.1, "seed": 1,
             "deterministic": True, "num_threads": 1, "verbose": -1},
            lgb.Dataset(train[FEATURES], train[TARGET]), num_boost_round=20,
            valid_sets=[lgb.Dataset(valid[FEATURES], valid[TARGET])])
    mlflow.lightgbm.autolog(disable=True)
    seconds["autolog_training"] = time.perf_counter() - phase

    phase = time.perf_counter()
    version = mlflow.register_model(f"runs:/{trained.info.run_id}/model", model)
    client.set_registered_model_alias(model, "production", version.version)
    by_alias = client.get_model_version_by_alias(model, "production")
    seconds["register"] = time.perf_counter() - phase
    seconds["end_to_end"] = time.perf_counter() - started

    rows = valid[FEATURES].head(5)
    summary: dict[str, Any] = {
        "experiment_id": experiment_id, "run_id": run.info.run_id,
        "found": [r.info.run_id for r in found], "history": len(history),
        "scratch_id": scratch.info.run_id, "active_after_delete": active,
        "deleted_stage": deleted, "restored_stage": restored,
        "trained_run_id": trained.info.run_id, "model": model, "version": version.version,
        "version_status": version.status, "alias_version": by_alias.version,
        "rows": rows.to_dict(orient="records"), "predictions": booster.predict(rows).tolist(),
        "seconds": seconds, "mlflow": mlflow.__version__,
    }
    with open(out, "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
