"""Learned data-quality rules through a real daemon: ranges and categories come from the
data a model trains on (its production version's training versions, else its selector),
or, for a dataset no model uses, from every version accepted so far; the id column, the
time column and calendar parts (year, month…) are never range-checked by what was learned."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from tests.daemon_process import DaemonProcess
from tests.test_ingest_daemon import client_of, ingests

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "rides"
target = "y"
time_column = "ts"
id_column = "ride_id"
time_parts = ["year", "month", "mnth", "period"]

[[dataset]]
name = "loose"
target = "y"

[[model]]
name = "m"
data = "rides@all"
target = "y"
task = "regression"
exclude = ["ride_id", "ts"]
rounds = 20
early_stopping = 5
min_rows = 50

[model.params]
num_leaves = 7
"""

MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
               "Dec"]


def month_of_rides(period: int, x_low: float, x_high: float, rows: int = 240) -> pl.DataFrame:
    """One month of data from November 2023 on (`period` 1): ids and times go on growing,
    year, month and the month's name move with the calendar, x is drawn from [low, high]."""
    rng = np.random.default_rng(period)
    year, month = (2023, 10 + period) if period <= 2 else (2024, period - 2)
    start = datetime(year, month, 1)
    x = rng.uniform(x_low, x_high, rows)
    return pl.DataFrame({
        "ride_id": np.arange(period * 10_000, period * 10_000 + rows),
        "ts": [start + timedelta(hours=h) for h in range(rows)],
        "year": [year] * rows,
        "month": [month] * rows,
        "mnth": [MONTH_NAMES[month - 1]] * rows,
        "period": [period] * rows,
        "x": x,
        "kind": rng.choice(["a", "b", "c"], rows),
        "y": 3 * x + rng.normal(0, 1, rows),
    })


def drop(d: DaemonProcess, dataset: str, name: str, frame: pl.DataFrame, n: int) -> dict:
    """Drop `frame` as a CSV; the warnings of its ingest, by column."""
    folder = d.home.inbox / dataset
    folder.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / name
    frame.write_csv(staged)
    staged.rename(folder / name)
    row = ingests(d, n, dataset)[0]
    assert row.source_name == name and row.outcome == "accepted", row.issues
    warned: dict[str, list[dict]] = {}
    for issue in row.issues or []:
        warned.setdefault(issue["column"], []).append(issue)
    return warned


def test_learned_ranges_come_from_the_models_training_data(home: Path) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        assert drop(d, "rides", "p1.csv", month_of_rides(1, 0, 10), 1) == {}
        # No production model yet: its selector (rides@all, here version 1) is the reference.
        # Only x (and y, which follows it) are new; id, time and calendar parts are not.
        second = drop(d, "rides", "p2.csv", month_of_rides(2, 10, 20), 2)
        assert set(second) == {"x", "y"}, second
        assert "rides@1: what m's selector rides@all names" in second["x"][0]["message"]

        job = client.wait_job(client.train("m", reason="test").id, timeout=300)
        assert job.state == "succeeded", job.error
        client.promote("m", "1.0.0", reason="test")

        # Inside what m:1.0.0 was trained on (versions 1 and 2), though not inside version 1.
        assert drop(d, "rides", "p3.csv", month_of_rides(3, 2, 18), 3) == {}
        fourth = drop(d, "rides", "p4.csv", month_of_rides(4, 25, 30), 4)
        assert set(fourth) == {"x", "y"}, fourth
        message = fourth["x"][0]["message"]
        assert "rides@1,2: what production m:1.0.0 was trained on" in message, message
        assert 20 < fourth["x"][0]["rule"]["max"] < 23  # 0..20 widened by 10% of its span
        # Still outside the production model's training data, though version 4 held it.
        assert set(drop(d, "rides", "p5.csv", month_of_rides(5, 25, 30), 5)) == {"x", "y"}

        quality = client.alerts(rule="data_quality")
        assert [a.subject for a in quality] == ["dataset:rides"] and quality[0].count == 3
    finally:
        assert d.stop() == 0


def test_a_dataset_no_model_uses_learns_from_every_version_so_far(home: Path) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        loose = [month_of_rides(p, low, high).drop("ride_id", "ts", "period")
                 for p, low, high in [(1, 0, 10), (2, 10, 20), (3, 2, 18)]]
        assert drop(d, "loose", "a.csv", loose[0], 1) == {}
        # year, month and mnth are calendar parts by their names: a new month is no news.
        second = drop(d, "loose", "b.csv", loose[1], 2)
        assert set(second) == {"x", "y"}, second
        assert ("loose@1: every version of its schema 1; no model in mlops.toml trains on it"
                in second["x"][0]["message"])
        assert drop(d, "loose", "c.csv", loose[2], 3) == {}
    finally:
        assert d.stop() == 0
