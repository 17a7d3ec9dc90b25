"""The model card's parts that need no daemon: the job's holdout intervals against a naive
bootstrap, its slices, `[model.card]` refused naming line and key, and a pipeline's gate
and approval as the version's decisions. The card on a real daemon: tests/test_model_cards.py."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jobs.train import evaluate, holdout_stats
from mlopsd.config import ConfigError
from mlopsd.config_load import load_config
from mlopsd.services import card_history
from store import pipelines


@pytest.mark.parametrize(("line", "message"), [
    ('slices = ["a", "b", "c", "d"]', "at most 3"),
    ('slices = ["a", "a"]', "names 'a' twice"),
    ("slices = [1]", "must be a list of column names"),
    ('slices = "a"', "must be a list"),
    ("intended_use = 3", "must be a string"),
    ('limitations = ["fine", 3]', "must be a string or a list of strings"),
    ('assumptions = "nul \\u0000 here"', "NUL"),
    ('colour = "red"', "unknown key"),
])
def test_a_bad_card_section_names_line_and_key(tmp_path: Path, line: str, message: str
                                               ) -> None:
    path = tmp_path / "mlops.toml"
    path.write_text('[[model]]\nname = "m"\ndata = "d@all"\ntarget = "y"\n\n[model.card]\n'
                    f"{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:7: model.card.{line.split()[0]}" in str(err.value), str(err.value)
    assert message in str(err.value)


def test_the_interval_is_the_naive_bootstrap_and_sampled_ones_are_as_wide() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(100, 30, 800)
    p = y + rng.normal(0, 10, 800)
    point = evaluate.metrics("regression", y, p, n_classes=None, threshold=0.5)
    found = holdout_stats.intervals("regression", y, p, point, n_classes=None, threshold=None,
                                    seed=7)
    draw = np.random.default_rng(7)
    naive = [math.sqrt(np.mean((y[i] - p[i]) ** 2))
             for i in (draw.integers(0, 800, size=800) for _ in range(holdout_stats.RESAMPLES))]
    low, high = np.quantile(naive, [0.025, 0.975])
    assert found["metrics"]["rmse"]["low"] == pytest.approx(low, rel=1e-12)
    assert found["metrics"]["rmse"]["high"] == pytest.approx(high, rel=1e-12)
    # a holdout past RESAMPLE_ROWS: a sample's spread, scaled, is about the full one's
    n = holdout_stats.RESAMPLE_ROWS * 4
    y = rng.normal(100, 30, n)
    p = y + rng.normal(0, 10, n)
    point = evaluate.metrics("regression", y, p, n_classes=None, threshold=0.5)
    sampled = holdout_stats.intervals("regression", y, p, point, n_classes=None,
                                      threshold=None, seed=7)
    assert "sample of 10,000 of its 40,000 rows" in sampled["method"]
    mae = sampled["metrics"]["mae"]
    assert mae["low"] < point["mae"] < mae["high"]
    width = mae["high"] - mae["low"]
    expected = 2 * 1.96 * np.std(np.abs(y - p)) / math.sqrt(n)  # the normal approximation
    assert 0.8 < width / expected < 1.25, (width, expected)


def test_slices_group_text_by_top_values_and_numbers_by_quantiles() -> None:
    rng = np.random.default_rng(1)
    n = 600
    words = [f"w{i % 14}" for i in range(n)]
    frame = pl.DataFrame({"word": words, "x": rng.normal(0, 1, n),
                          "few": [i % 3 for i in range(n)]}).with_columns(
        x=pl.when(pl.int_range(n) % 50 == 0).then(None).otherwise(pl.col("x")))
    y = rng.normal(0, 1, n)
    found = {s["column"]: s for s in holdout_stats.slices(
        "regression", y, y + 0.1, frame, n_classes=None, threshold=0.5)}
    word = found["word"]
    assert len(word["groups"]) == holdout_stats.TOP_VALUES + 1
    assert word["groups"][-1]["value"] == "other (4 values)" and "most frequent" in word["how"]
    x = found["x"]
    assert [g["value"] for g in x["groups"]][-1] == holdout_stats.MISSING
    assert sum(g["rows"] for g in x["groups"]) == n and len(x["groups"]) == 6
    assert [g["value"] for g in found["few"]["groups"]] == ["0", "1", "2"]
    assert all(g["metrics"]["mae"] == pytest.approx(0.1) for g in found["few"]["groups"])


def test_a_pipelines_gate_and_approval_are_the_versions_decisions() -> None:
    at = "2026-11-29T10:00:00+00:00"
    run = pipelines.Pipeline(
        7, "riders", "ended", "manual", None, False, "cli:alice", [
            {"step": "gate", "state": "done", "started_at": at, "ended_at": at,
             "detail": {"passed": True, "verdicts": [{"passed": True,
                                                      "detail": "rmse CI lower bound 0.4 > 0"}]}},
            {"step": "approval", "state": "done", "started_at": at, "ended_at": at,
             "detail": {"decision": "approved", "by": "cli:bob", "note": "<i>fine</i>",
                        "at": "2026-11-29T11:00:00+00:00"}}],
        [], "1.1.0", "1.0.0", None, datetime.now(UTC), datetime.now(UTC), None)
    found = card_history._pipeline_decisions(run)
    assert [(d["action"], d["actor"], d.get("reason")) for d in found] == [
        ("gate passed", "mlopsd", None), ("approved", "cli:bob", "<i>fine</i>")]
    assert "rmse CI lower bound 0.4 > 0" in found[0]["detail"]
    assert found[1]["at"] == datetime(2026, 11, 29, 11, tzinfo=UTC)
