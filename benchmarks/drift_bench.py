"""Drift benchmark: the drift job on a 1M-row x 22-column batch against a 1M-row reference.

    scripts/bench drift [--rows 1000000] [--repeat 3]

The job runs in a fresh process (as in a worker): it reads the current Parquet snapshot
from the artifact store (hash-checked), compares the columns (numeric with the fast path of
jobs/drift/statistics.py, 2 categorical) with the reference's stored profile, writes the
report. The first check of a model version also reads the reference and profiles it
(timed separately); the daemon keeps that profile and passes it to later checks. Timed:
the whole job, median of REPEAT (the libraries a worker has preloaded are imported
first); peak memory of the process. Target: <= 2 s and <= 1 GB. Evidently 0.7.23's
data-drift preset on the same shape took ~166 s and 2.3 GB here (the issue's figures).
With MLOPS_EVIDENTLY_PYTHON naming a Python that has evidently 0.7 (pandas < 3, an
environment of its own: see benchmarks/evidently_drift.py), it runs on the same files with
the same tests, and both times, memory and drifted columns are printed side by side.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl

from benchmarks.common import median, table
from benchmarks.ingest_bench import make_frame
from jobs.features import signature_from_frame
from store.artifacts import ArtifactStore

CODE = """
import json, logging, resource, sys, time
from pathlib import Path
import lightgbm, numpy, polars, scipy.stats  # what the worker's forkserver preloads
from jobs.context import JobContext
from jobs.drift.job import run
from store.artifacts import ArtifactStore
params = json.loads(Path(sys.argv[1]).read_text())
ctx = JobContext(job_id=1, log=logging.getLogger("bench"),
                 artifacts=ArtifactStore(Path(sys.argv[2])), emit=lambda *a, **k: None,
                 home=Path(sys.argv[2]).parent)
started = time.perf_counter()
result = run(params, ctx)
took = time.perf_counter() - started
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      sum(c["drifted"] for c in result["columns"]), result["dataset_drift"],
      result["profile_sha"],
      ",".join(sorted(c["column"] for c in result["columns"] if c["drifted"])) or "-")
"""


def frames(rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    reference = make_frame(rows, seed=0).with_columns(
        pl.col("f0").alias("g0"), (pl.col("f1") * 2).alias("g1"))
    current = make_frame(rows, seed=1).with_columns(
        (pl.col("f0") + 0.5).alias("g0"), (pl.col("f1") * 2).alias("g1"),
        (pl.col("f3") * 1.3).alias("f3"))  # three numeric columns drift
    return reference, current


def main() -> None:
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reference, current = frames(args.rows)
    features = [c for c in reference.columns if c != "day"]
    signature = signature_from_frame(reference.head(10_000), features, [])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        artifacts = ArtifactStore(root / "artifacts")
        shas = []
        for name, frame in (("reference", reference), ("current", current)):
            path = root / f"{name}.parquet"
            frame.drop("day").write_parquet(path)
            shas.append(artifacts.put_file(path))
        params = {"signature": signature,
                  "reference": [{"dataset": "bench", "version": 1, "snapshot_sha": shas[0]}],
                  "current": [{"dataset": "bench", "version": 2, "snapshot_sha": shas[1]}]}
        params_path = root / "params.json"
        params_path.write_text(json.dumps(params))
        first = [run_python_args(CODE, str(params_path), str(root / "artifacts"))
                 for _ in range(args.repeat)]
        # As the daemon does after the first check: the reference's stored profile.
        params_path.write_text(json.dumps({**params, "profile_sha": first[0][4]}))
        runs = [run_python_args(CODE, str(params_path), str(root / "artifacts"))
                for _ in range(args.repeat)]
        theirs = evidently(root / "reference.parquet", root / "current.parquet")
    times = [float(r[0]) for r in runs]
    peak = max(float(r[1]) for r in [*runs, *first])
    drifted, dataset_drift = runs[0][2], runs[0][3]
    took = median(times)
    first_took = median([float(r[0]) for r in first])
    print(f"\nDrift benchmark: {args.rows:,} rows x {len(features)} columns against "
          f"{args.rows:,} reference rows (median of {args.repeat}); {drifted} columns drifted,"
          f" dataset drift {dataset_drift}\n")
    ours = set(runs[0][5].split(",")) - {"-"}
    if theirs is not None:
        their_s, their_mb = theirs["seconds"], theirs["peak_mb"]
        them = {c for c, v in theirs["columns"].items() if v["drifted"]}
        anchor_s, anchor_mb = f"{their_s:.1f} s (measured)", f"{their_mb:.0f} MB (measured)"
    else:
        their_s, anchor_s, anchor_mb, them = 166.0, "166 s (issue's figure)", \
            "2.3 GB (issue's figure)", None
    print(table([
        ["drift report, stored reference profile", f"{took:.2f} s", anchor_s,
         f"{their_s / took:.0f}x", "<= 2 s"],
        ["first report of a version (profiles the reference too)", f"{first_took:.2f} s",
         anchor_s, f"{their_s / first_took:.0f}x", "-"],
        ["peak memory", f"{peak:.0f} MB", anchor_mb, "-", "<= 1 GB"],
        ["drifted columns", ", ".join(sorted(ours)) or "none",
         ", ".join(sorted(them)) if them is not None else "-",
         "same" if them is not None and them == ours else "-", "same verdicts"],
    ], ["measure", "mlops", "Evidently 0.7.23", "ratio", "target"]))


def evidently(reference: Path, current: Path) -> dict | None:
    """Evidently's report on the same files, when a Python with it is named."""
    import json
    import os
    import subprocess

    python = os.environ.get("MLOPS_EVIDENTLY_PYTHON")
    if not python:
        return None
    script = Path(__file__).with_name("evidently_drift.py")
    out = subprocess.run([python, str(script), str(reference), str(current)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_python_args(code: str, *argv: str) -> list[str]:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    return out.stdout.strip().splitlines()[-1].split()


if __name__ == "__main__":
    main()
