"""The profile's quantiles without a sort equal polars' sorted quantiles, bit for bit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.ingest import quantiles
from jobs.ingest.profile import QUANTILES


def polars_quantiles(values: np.ndarray) -> list[float]:
    return pl.select(pl.lit(pl.Series(values)).quantile(pl.lit(QUANTILES), "linear")).item(
    ).to_list()


def shapes(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "normal": rng.normal(0, 1, n),
        "long tail": rng.lognormal(0, 6, n),
        "few values": rng.integers(-3, 3, n),
        "far outliers": np.concatenate([rng.normal(0, 1, n), [1e300, -1e300, 5e-324]]),
        "huge ints": rng.integers(-(2**62), 2**62, n),
        "one value": np.full(n, 3.25),
        "piled in one bin": np.concatenate([rng.normal(0, 1e-9, n), [1e6]]),
        "sorted": np.arange(n, dtype=np.float64),
    }


@pytest.mark.parametrize("n", [1, 2, 7, 1000, quantiles.SMALL + 1, 300_000])
def test_binned_quantiles_equal_polars_on_every_shape_of_data(n: int) -> None:
    rng = np.random.default_rng(n)
    for name, values in shapes(rng, n).items():
        assert quantiles.linear(values, QUANTILES) == polars_quantiles(values), name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1,
                max_size=200), st.integers(0, 3))
def test_binned_quantiles_equal_polars_on_any_values(values: list[float], repeat: int) -> None:
    # repeated past SMALL so the binned path runs, not only the direct partition
    array = np.tile(np.array(values), 1 + (quantiles.SMALL // len(values) + 1) * (repeat > 0))
    assert quantiles.linear(array, QUANTILES) == polars_quantiles(array)
