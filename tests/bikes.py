"""Real LightGBM models on the shipped bikeshare data, trained in the test process and logged
to a daemon through the SDK (quicker than ingest + train job when a test is about serving)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from jobs.features import signature_from_frame, to_matrix
from mlopsd.client import Client

CSV = Path(__file__).resolve().parents[1] / "examples" / "bikeshare" / "bikeshare-2011-hourly.csv"
FEATURES = ["season", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit", "temp",
            "atemp", "hum", "windspeed"]
CATEGORICAL = ["mnth", "weathersit"]


def frame(rows: int | None = None) -> pl.DataFrame:
    data = pl.read_csv(CSV).with_columns(pl.col("hr").cast(pl.Int64))
    return data if rows is None else data.head(rows)


@dataclass
class Trained:
    booster: lgb.Booster
    signature: dict[str, Any]
    frame: pl.DataFrame

    def expected(self, rows: Any) -> np.ndarray:
        """What Booster.predict gives on these rows, encoded as training encodes them."""
        return self.booster.predict(to_matrix(rows, self.signature))


def train(task: str = "regression", *, leaves: int = 15, rounds: int = 20,
          features: list[str] | None = None) -> Trained:
    data = frame(4000)
    features = features or FEATURES
    signature = signature_from_frame(data, features, [c for c in CATEGORICAL if c in features])
    y = data["bikers"].to_numpy()
    params: dict[str, Any] = {"num_leaves": leaves, "verbose": -1, "seed": 1,
                              "deterministic": True, "num_threads": 1}
    if task == "binary":
        y, params["objective"] = (y > 150).astype(int), "binary"
    elif task == "multiclass":
        y = data["season"].to_numpy() - 1
        params.update(objective="multiclass", num_class=4)
    else:
        params["objective"] = "regression"
    categorical = [i for i, item in enumerate(signature["inputs"]) if item["categorical"]]
    booster = lgb.train(params, lgb.Dataset(to_matrix(data, signature), y,
                                            feature_name=features,
                                            categorical_feature=categorical or "auto"),
                        num_boost_round=rounds)
    return Trained(booster, signature, data)


def log(client: Client, trained: Trained, model: str, *, classes: list[Any] | None = None,
        data: str = "bikes@1") -> str:
    """Register the model through the SDK; returns its version."""
    with client.start_run(experiment=f"{model}-tests") as run:
        version = run.log_model(trained.booster, model=model, input_example=trained.frame,
                                categorical=[c for c in CATEGORICAL
                                             if c in trained.booster.feature_name()],
                                classes=classes, data=[data])
    return version.version


def riders_pair(client: Client) -> dict[str, Trained]:
    """Model `riders`: 1.0.0 (15 leaves, bikes@1) in production and 1.1.0 (31 leaves,
    bikes@2) registered beside it, for canaries, shadows and switches."""
    first, second = train("regression"), train("regression", leaves=31)
    assert log(client, first, "riders") == "1.0.0"
    assert log(client, second, "riders", data="bikes@2") == "1.1.0"
    client.promote("riders", "1.0.0")
    return {"1.0.0": first, "1.1.0": second}
