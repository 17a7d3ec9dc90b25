"""False alarms: resamples of a model's training data, judged against that training data by
the drift job's own comparison (jobs/drift/compare.py, with the default rules), must rarely
look drifted — at every size a user drops, from 100 rows to 10,000."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from jobs.drift.compare import Rules, compare
from jobs.drift.predictions import summary
from jobs.drift.profile import column_profile
from jobs.features import signature_from_frame, to_matrix
from tests import bikes

FEATURES = ["season", "mnth", "day", "hr", "holiday", "weekday", "workingday", "weathersit",
            "temp", "atemp", "hum", "windspeed"]
DRAWS = 200


@pytest.fixture(scope="module")
def trained() -> tuple[pl.DataFrame, dict, dict, np.ndarray]:
    """The bikeshare year as the training data, a LightGBM model on it, and the reference
    profile the drift job would build (columns and the model's scores)."""
    data = bikes.frame()
    signature = signature_from_frame(data, FEATURES, bikes.CATEGORICAL)
    signature["task"] = "regression"
    categorical = [i for i, item in enumerate(signature["inputs"]) if item["categorical"]]
    booster = lgb.train({"objective": "regression", "verbose": -1, "seed": 1,
                         "deterministic": True, "num_threads": 1},
                        lgb.Dataset(to_matrix(data, signature), data["bikers"].to_numpy(),
                                    feature_name=FEATURES, categorical_feature=categorical),
                        num_boost_round=100)
    scores = booster.predict(to_matrix(data, signature))
    items = {i["name"]: i for i in signature["inputs"]}
    profiles = {"rows": data.height,
                "columns": {n: column_profile(items[n], data[n]) for n in FEATURES},
                "prediction": summary(signature, scores)}
    return data, signature, profiles, scores


def _alarm_rates(trained, size: int, rules: Rules) -> tuple[float, float]:
    data, signature, profiles, scores = trained
    rng = np.random.default_rng(size)
    dataset, prediction = 0, 0
    for _ in range(DRAWS):
        rows = rng.integers(0, data.height, size)  # a resample of the training data
        found = compare(profiles, data[rows], signature, rules, current_scores=scores[rows])
        assert found["status"] != "not_enough_data", found["note"]
        dataset += bool(found["dataset_drift"])
        prediction += bool(found["prediction"]["drifted"])
    return dataset / DRAWS, prediction / DRAWS


# 10,000 rows takes ~20 s: in the long run (`scripts/test -m slow`), to keep CI short.
@pytest.mark.parametrize("size", [100, 200, 1_000,
                                  pytest.param(10_000, marks=pytest.mark.slow)])
def test_resamples_of_the_training_data_rarely_alarm(trained, size: int) -> None:
    dataset, prediction = _alarm_rates(trained, size, Rules())
    print(f"{size} rows: dataset drift in {dataset:.1%}, prediction drift in {prediction:.1%} "
          f"of {DRAWS} resamples")
    assert dataset <= 0.05 and prediction <= 0.05


def test_effect_size_alone_alarms_on_small_samples(trained) -> None:
    """What the test above guards against: the same 200-row draws judged by the effect size
    alone (`significance = 1`, the rule before) alarm on prediction far more often."""
    _, prediction = _alarm_rates(trained, 200, Rules(significance=1.0))
    print(f"200 rows, effect size alone: prediction drift in {prediction:.1%}")
    assert prediction > 0.1
