"""10M rows x 22 inputs on each side: the drift job's peak memory stays under 1 GB (issue 13),
with the libraries a worker preloads counted, and it finds the columns that drifted.

Slow (a minute or two): skipped by default; `scripts/test -m slow` runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jobs.features import signature_from_frame, to_matrix
from jobs.ingest import snapshot
from store.artifacts import ArtifactStore

ROWS = 10_000_000
LIMIT_MB = 1024
RUN = """
import json, logging, sys
import lightgbm, numpy, polars, scipy.stats  # what the worker's forkserver preloads
from pathlib import Path
from jobs.context import JobContext
from jobs.drift import job
from store.artifacts import ArtifactStore
root = Path(sys.argv[1])
params = json.loads((root / "params.json").read_text())
ctx = JobContext(1, logging.getLogger("drift"), ArtifactStore(root / "artifacts"),
                 lambda *a, **k: None, root)
found = job.run(params, ctx)
# VmHWM, not ru_maxrss: that one keeps the peak of the (big) test process across exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": peak / 1024,
                  "profile_sha": found["profile_sha"],
                  "drifted": sorted(c["column"] for c in found["columns"] if c["drifted"])}))
"""


def _frame(rows: int, seed: int) -> pl.DataFrame:
    """The drift benchmark's columns (benchmarks/ingest_bench.py), built without Python
    objects per row."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(10):
        columns[f"f{i}"] = rng.normal(i, 1 + i, rows).round(4)
    for i in range(9):
        columns[f"n{i}"] = rng.integers(0, 1000 * (i + 1), rows)
    columns["city"] = pl.Series(rng.integers(0, 5, rows)).replace_strict(
        dict(enumerate(["berlin", "paris", "rome", "madrid", "lisbon"])), return_dtype=pl.String)
    columns["plan"] = pl.Series(rng.choice(3, rows, p=[0.6, 0.3, 0.1])).replace_strict(
        dict(enumerate(["free", "basic", "pro"])), return_dtype=pl.String)
    columns["day"] = pl.Series(rng.integers(19723, 19723 + 365, rows), dtype=pl.Int32).cast(
        pl.Date)
    columns["g0"] = columns["f0"]
    return pl.DataFrame(columns)


def _snapshot(store: ArtifactStore, frame: pl.DataFrame) -> str:
    tmp = store.tmp_path(".parquet")
    frame.write_parquet(tmp, **snapshot.OPTIONS)  # as ingest writes its snapshots
    return store.adopt(tmp)


@pytest.mark.slow
def test_ten_million_rows_drift_in_under_a_gigabyte(tmp_path: Path) -> None:
    import lightgbm as lgb

    store = ArtifactStore(tmp_path / "artifacts")
    reference = _frame(ROWS, 0)
    features = [c for c in reference.columns if c != "day"]
    train = reference.head(50_000)
    signature = signature_from_frame(train, features)
    signature["task"] = "regression"
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(to_matrix(train, signature), train["f1"].to_numpy() * 2,
                                    feature_name=features), num_boost_round=5)
    params = {"signature": signature, "model_sha": store.put_bytes(
        booster.model_to_string().encode()),
        "reference": [{"dataset": "ref", "version": 1,
                       "snapshot_sha": _snapshot(store, reference)}]}
    del reference
    current = _frame(ROWS, 1).with_columns((pl.col("f0") + 0.5).alias("g0"),
                                           (pl.col("f3") * 1.3).alias("f3"))
    params["current"] = [{"dataset": "cur", "version": 1,
                          "snapshot_sha": _snapshot(store, current)}]
    del current
    for case in ("reference profiled", "stored profile"):
        (tmp_path / "params.json").write_text(json.dumps(params))
        out = subprocess.run([sys.executable, "-c", RUN, str(tmp_path)], capture_output=True,
                             text=True, check=False, cwd=Path(__file__).parents[1])
        assert out.returncode == 0, out.stderr[-3000:]
        found = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{case}: peak {found['peak_mb']:.0f} MB")
        assert found["peak_mb"] <= LIMIT_MB, (case, found)
        assert found["drifted"] == ["f3", "g0"], (case, found)
        params["profile_sha"] = found["profile_sha"]
