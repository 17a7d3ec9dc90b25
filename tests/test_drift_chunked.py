"""The drift job reads its data a few columns at a time (jobs/drift/columns.py), sorts with
polars or by counting, sums the stretches in chunks, and tries the grid's bounds first: the
profiles, statistics and verdicts are those of the whole data held in memory — and the
verdicts those of scipy's exact statistics."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from jobs.context import JobContext
from jobs.drift import columns as drift_columns
from jobs.drift import reference as drift_reference
from jobs.drift.columns import Rows
from jobs.drift.compare import Rules, compare
from jobs.drift.predictions import sample
from jobs.drift.profile import counts, is_categorical, numbers, profile_of, read
from jobs.drift.reference import NumericReference
from jobs.features import signature_from_frame
from store.artifacts import ArtifactStore

FEATURES = ["x", "wide", "hour", "ids", "flag", "city", "day", "late"]


def _frame(rows: int, seed: int, shift: float = 0.0, late: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, rows)
    x[rng.integers(0, rows, rows // 50)] = np.nan  # NaN, and nulls below
    frame = pl.DataFrame({
        "x": x,
        "wide": rng.standard_cauchy(rows) * (1 + shift),  # far outliers
        "hour": rng.integers(0, 24 + int(shift * 4), rows),  # ties: sorted by counting
        "ids": rng.integers(0, 10**12, rows),  # a span too wide to count
        "flag": rng.random(rows) < 0.3 + shift / 10,
        "city": rng.choice(["berlin", "paris", "rome"], rows),
        "day": pl.Series([date(2024, 1, 1)] * rows).dt.offset_by(
            pl.Series(rng.integers(0, 365, rows)).cast(pl.String) + "d"),
    }).with_columns(pl.when(pl.int_range(pl.len()) % 37 == 0).then(None)
                    .otherwise(pl.col("x")).alias("x"),
                    pl.when(pl.int_range(pl.len()) % 41 == 0).then(None)
                    .otherwise(pl.col("city")).alias("city"))
    if late:
        frame = frame.with_columns(pl.Series("late", rng.normal(0, 1, rows)))
    return frame


def _versions(store: ArtifactStore, frames: list[pl.DataFrame]) -> list[dict[str, Any]]:
    items = []
    for version, frame in enumerate(frames, 1):
        tmp = store.tmp_path(".parquet")
        frame.write_parquet(tmp, row_group_size=4_096)
        items.append({"dataset": "d", "version": version, "snapshot_sha": store.adopt(tmp)})
    return items


def _in_memory_profile(item: dict[str, Any], column: pl.Series) -> dict[str, Any]:
    """What the drift job kept of a reference column when it held the whole data: numpy's
    sort of the column's numbers, or the counts of its values."""
    if is_categorical(item):
        return {"kind": "categorical", "counts": counts(column)}
    return {"kind": "numeric", **NumericReference.build(numbers(column)).to_json()}


@pytest.fixture()
def ctx(tmp_path: Path) -> JobContext:
    return JobContext(1, logging.getLogger("test"), ArtifactStore(tmp_path / "artifacts"),
                      lambda *a, **k: None, tmp_path)


def test_read_a_column_at_a_time_the_statistics_and_verdicts_are_the_in_memory_ones(
        ctx: JobContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # One column a read, and the stretches in chunks of 997 values: every seam is crossed.
    monkeypatch.setattr(drift_columns, "READ_BYTES", 8)
    monkeypatch.setattr(drift_reference, "STRETCH_CHUNK", 997)
    reference_frames = [_frame(30_000, 1), _frame(20_000, 2, late=False)]
    reference = _versions(ctx.artifacts, reference_frames)
    current = _versions(ctx.artifacts, [_frame(40_000, 3, shift=0.3)])
    whole = read(reference, ctx, FEATURES)
    signature = signature_from_frame(whole, FEATURES, ["flag"])
    items = {i["name"]: i for i in signature["inputs"]}

    rows = Rows(reference, ctx)
    rows.plan([n for n in FEATURES if not is_categorical(items[n])])
    chunked = {n: profile_of(items[n], rows) for n in FEATURES}
    rows.checked()
    assert chunked == {n: _in_memory_profile(items[n], whole[n]) for n in FEATURES}
    assert rows.sample(FEATURES).equals(sample(whole.select(FEATURES)))

    now = read(current, ctx, FEATURES)
    profiles = {"rows": whole.height, "columns": chunked, "prediction": None}
    rules = Rules(significance=0.01)
    in_memory = compare(profiles, now, signature, rules,
                        raw_column=lambda n: numbers(whole[n]))
    current_rows = Rows(current, ctx)
    current_rows.plan(FEATURES)
    streamed = compare(profiles, current_rows, signature, rules,
                       raw_column=lambda n: numbers(whole[n]))
    current_rows.checked()
    assert streamed == in_memory
    by_column = {c["column"]: c for c in streamed["columns"]}
    for name in ("x", "wide", "hour", "ids", "day", "late"):
        ref, cur = numbers(whole[name]), numbers(now[name])
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
        judged = by_column[name]
        assert judged["test"] == "wasserstein"
        if judged["approximate"]:
            assert judged["low"] - 1e-9 <= exact <= judged["high"] + 1e-9, (name, judged)
        else:
            assert judged["statistic"] == pytest.approx(exact, rel=1e-9)
        assert judged["drifted"] == bool(
            exact >= 0.1 and stats.ks_2samp(ref, cur).pvalue < 0.01), (name, judged, exact)
    assert by_column["x"]["drifted"] and not by_column["ids"]["drifted"]


def test_a_column_absent_from_a_version_is_null_there(ctx: JobContext) -> None:
    reference = _versions(ctx.artifacts, [_frame(300, 1, late=False), _frame(200, 2)])
    rows = Rows(reference, ctx)
    whole = read(reference, ctx, FEATURES)
    assert rows.height == 500
    assert rows["late"].null_count() == 300 and rows["late"].equals(whole["late"])
    assert rows.counts("city") == counts(whole["city"])
    rows.checked()


def test_the_stretches_summed_in_chunks_are_the_stretches_summed_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    profile = NumericReference.build(rng.standard_cauchy(50_000), keep_values=False)
    current = np.sort(rng.standard_cauchy(80_001))
    at_once = profile.compare_with_bins(current, presorted=True)[0]
    monkeypatch.setattr(drift_reference, "STRETCH_CHUNK", 1_000)
    chunked = profile.compare_with_bins(current, presorted=True)[0]
    for test in ("ks", "wasserstein", "psi"):
        assert chunked[test].low == pytest.approx(at_once[test].low, rel=1e-12)
        assert chunked[test].high == pytest.approx(at_once[test].high, rel=1e-12)


def test_a_corrupt_snapshot_fails_the_check_before_anything_is_concluded(
        ctx: JobContext) -> None:
    from store.errors import ArtifactError

    reference = _versions(ctx.artifacts, [_frame(1_000, 1)])
    path = ctx.artifacts.path(reference[0]["snapshot_sha"])
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    rows = Rows(reference, ctx)
    with pytest.raises(ArtifactError, match="corrupt"):
        rows.checked()
