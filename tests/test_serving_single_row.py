"""LightGBM's fast single-row path answers every row exactly as `Booster.predict` does, and
a version whose fast path is busy (another thread) still answers, the usual way."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.features import to_matrix
from mlopsd.serving.loaded import LoadedModel
from mlopsd.serving.single_row import SingleRow
from tests import bikes


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_every_row_is_answered_bit_for_bit_as_booster_predict(task: str) -> None:
    trained = bikes.train(task, leaves=31, rounds=60)
    booster = trained.booster
    matrix = to_matrix(trained.frame.select(bikes.FEATURES), trained.signature)
    # missing values too: LightGBM's NaN handling must be the same on both paths
    matrix[::7, 0] = np.nan
    outputs = booster.num_model_per_iteration()
    single = SingleRow(booster, matrix.shape[1], outputs, multiclass=task == "multiclass")
    for i in range(matrix.shape[0]):
        row = matrix[i: i + 1]
        found = single.predict(row)
        assert found is not None
        np.testing.assert_array_equal(found, booster.predict(row, num_threads=1))


def test_a_busy_fast_path_or_an_odd_row_falls_back_to_booster_predict() -> None:
    trained = bikes.train("binary", leaves=15, rounds=20)
    matrix = to_matrix(trained.frame.select(bikes.FEATURES).head(3), trained.signature)
    single = SingleRow(trained.booster, matrix.shape[1], 1, multiclass=False)
    model = LoadedModel(name="m", version="1", sha="0" * 64, task="binary",
                        signature=trained.signature, booster=trained.booster,
                        features=trained.booster.feature_name(), classes=None,
                        threshold=None, single=single)
    expected = trained.booster.predict(matrix[:1], num_threads=1)
    with single._lock:  # another thread is in the middle of a call
        assert single.predict(matrix[:1]) is None
        np.testing.assert_array_equal(model.predict(matrix[:1]), expected)
    assert single.predict(np.asfortranarray(matrix[:1, :-1])) is None  # wrong width
    np.testing.assert_array_equal(model.predict(matrix[:1]), expected)
