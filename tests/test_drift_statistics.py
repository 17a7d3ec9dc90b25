"""Drift statistics: exact ones equal scipy's on the same samples; the fast ones against a
stored reference profile stay within their reported bounds of the exact values; and on
batches drawn from the reference itself, drift is (almost) never called."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.spatial import distance

from jobs.drift import statistics as drift
from jobs.drift.reference import NumericReference
from tests import bikes


@pytest.fixture(scope="module")
def rides() -> pl.DataFrame:
    return bikes.frame()


def _halves(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    values = frame[column].cast(pl.Float64).to_numpy()
    return values[: len(values) // 2], values[len(values) // 2:]


@pytest.mark.parametrize("column", ["temp", "hum", "windspeed", "bikers"])
def test_exact_numeric_statistics_are_scipys(rides: pl.DataFrame, column: str) -> None:
    ref, cur = _halves(rides, column)
    ks = drift.ks_exact(ref, cur)
    expected = stats.ks_2samp(ref, cur)
    assert ks.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert ks.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    w = drift.wasserstein_exact(ref, cur)
    assert w.statistic == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref),
                                        abs=1e-9)


@pytest.mark.parametrize("column", ["weathersit", "mnth", "season"])
def test_exact_categorical_statistics_are_scipys(rides: pl.DataFrame, column: str) -> None:
    values = rides[column].cast(pl.String).to_list()
    ref, cur = values[: len(values) // 2], values[len(values) // 2:]
    ref_counts = {c: ref.count(c) for c in set(ref)}
    cur_counts = {c: cur.count(c) for c in set(cur)}
    categories = sorted(set(ref) | set(cur))
    table = [[ref_counts.get(c, 0) for c in categories], [cur_counts.get(c, 0) for c in categories]]
    expected = stats.chi2_contingency(table, correction=False)
    chi = drift.chisquare(ref_counts, cur_counts)
    assert chi.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert chi.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    p = np.array(table[0], dtype=float)
    q = np.array(table[1], dtype=float)
    js = drift.jensenshannon(ref_counts, cur_counts)
    assert js.statistic == pytest.approx(distance.jensenshannon(p / p.sum(), q / q.sum()),
                                         abs=1e-9)


def test_psi_by_hand() -> None:
    ref = np.array([0.1] * 10)
    cur = np.array([0.05, 0.15] * 5)
    assert drift.psi(ref, cur) == pytest.approx(
        float(np.sum((cur - ref) * np.log(cur / ref))), abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.1, 1.0])
@pytest.mark.parametrize("size", [2_000, 200_000])
def test_the_fast_path_is_within_its_bound_of_the_exact_values(shift: float,
                                                              size: int) -> None:
    rng = np.random.default_rng(int(shift * 100) + size)
    ref = rng.normal(0, 1, size)
    cur = rng.normal(shift, 1.2 if shift else 1, size)
    profile = NumericReference.build(ref)
    fast = profile.compare(cur)
    exact_ks = stats.ks_2samp(ref, cur)
    assert fast["ks"].low - 1e-12 <= exact_ks.statistic <= fast["ks"].high + 1e-12
    assert fast["ks"].high - fast["ks"].low <= 0.01 or fast["ks"].low > 0.1
    if size > 10_000:  # scipy's asymptotic p-value, reproduced from the bounds
        assert fast["ks"].p_low - 1e-12 <= exact_ks.pvalue <= fast["ks"].p_high + 1e-12
    exact_w = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert fast["wasserstein"].low - 1e-9 <= exact_w <= fast["wasserstein"].high + 1e-9
    assert abs(fast["wasserstein"].statistic - exact_w) <= fast["wasserstein"].bound + 1e-9
    assert fast["wasserstein"].bound < 0.01
    assert fast["psi"].statistic == pytest.approx(drift.psi_numeric(ref, cur).statistic,
                                                  abs=1e-9)


def test_the_fast_path_handles_ties_and_values_outside_the_reference() -> None:
    rng = np.random.default_rng(7)
    ref = rng.integers(0, 24, 50_000).astype(float)  # hours: few distinct values
    cur = np.concatenate([rng.integers(0, 24, 40_000), np.full(10_000, 30.0)]).astype(float)
    fast = NumericReference.build(ref).compare(cur)
    exact_ks = stats.ks_2samp(ref, cur).statistic
    assert fast["ks"].statistic == pytest.approx(exact_ks, abs=1e-12), "ties land on the grid"
    exact_w = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert fast["wasserstein"].statistic == pytest.approx(exact_w, abs=1e-9)
    assert fast["wasserstein"].bound == pytest.approx(0, abs=1e-12), "no mass between points"


def test_reference_profiles_round_trip_through_json() -> None:
    rng = np.random.default_rng(3)
    profile = NumericReference.build(rng.normal(size=10_000))
    again = NumericReference.from_json(profile.to_json())
    cur = rng.normal(0.2, 1, 5_000)
    assert again.compare(cur)["ks"] == profile.compare(cur)["ks"]


def test_auto_follows_evidentlys_size_rule() -> None:
    assert drift.auto_test("numeric", 1_000) == "ks"
    assert drift.auto_test("numeric", 1_001) == "wasserstein"
    assert drift.auto_test("categorical", 500) == "chisquare"
    assert drift.auto_test("categorical", 5_000) == "jensenshannon"
    assert drift.drifted("ks", 0.01, 0.05) and not drift.drifted("ks", 0.2, 0.05)
    assert drift.drifted("wasserstein", 0.1, 0.1) and not drift.drifted("psi", 0.05, 0.1)


def test_multiple_testing_corrections() -> None:
    p_values = [0.001, 0.01, 0.02, 0.04, 0.3]
    assert drift.corrected_verdicts(p_values, 0.05, None) == [True, True, True, True, False]
    assert drift.corrected_verdicts(p_values, 0.05, "bonferroni") == [
        True, False, False, False, False]
    expected = list(stats.false_discovery_control(np.array(p_values)) < 0.05)
    assert drift.corrected_verdicts(p_values, 0.05, "bh") == expected


def test_batches_from_the_reference_itself_rarely_look_drifted(rides: pl.DataFrame) -> None:
    """False-alarm check: 20 batches drawn from the reference distribution; dataset drift
    (half of the columns drifted, by the auto tests) fires at most once."""
    numeric = ["temp", "atemp", "hum", "windspeed", "hr"]
    categorical = ["weathersit", "mnth", "season", "weekday"]
    reference = rides.sample(fraction=0.5, seed=1)
    profiles = {c: NumericReference.build(reference[c].cast(pl.Float64).to_numpy())
                for c in numeric}
    ref_counts = {c: dict(reference[c].cast(pl.String).value_counts().iter_rows())
                  for c in categorical}
    alarms = 0
    for i in range(20):
        batch = rides.sample(n=2_000, seed=100 + i)
        verdicts = []
        for c in numeric:
            result = profiles[c].compare(batch[c].cast(pl.Float64).to_numpy())["wasserstein"]
            verdicts.append(drift.drifted("wasserstein", result.value, 0.1))
        for c in categorical:
            counts = dict(batch[c].cast(pl.String).value_counts().iter_rows())
            result = drift.jensenshannon(ref_counts[c], counts)
            verdicts.append(drift.drifted("jensenshannon", result.value, 0.1))
        alarms += sum(verdicts) / len(verdicts) >= 0.5
    assert alarms <= 1
