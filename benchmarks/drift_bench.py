"""Drift benchmark, through a real daemon as a user meets it, beside Evidently.

    scripts/bench drift [--rows 1000000] [--repeat 3] [--no-evidently]

1. A reference of ROWS x 22 inputs (19 numeric, 2 categorical, one more numeric) plus a
   target is dropped into the daemon's inbox (dataset `driftref`), and REPEAT models are
   trained on it (5 rounds: the model is not what is measured) and promoted. A current
   batch of ROWS rows, three columns shifted, is dropped as dataset `driftcur` (which no
   model watches, so no check starts by itself).
2. First report: `POST /models/driftN/drift` against `driftcur@1` for each model (its
   reference not yet profiled), timed from the POST until the report is read back over
   the API (queue, worker, job, report committed, `GET /drift/ID`); median of REPEAT.
3. Stored profile: the same check on one model again, REPEAT times.
4. Peak memory: the drift jobs' workers' peak resident memory, as the job records it
   (ru_maxrss of the worker, the libraries its forkserver preloaded included).
5. Evidently 0.7's data-drift preset (Wasserstein and Jensen-Shannon at 0.1, as mlops'
   `auto` for large references) on the same two snapshots and the same 22 columns, in the
   anchors' environment (`scripts/bench --with-anchors`; else "not installed"), at the
   workers' niceness; its time is reading the files plus the report, its memory the
   process's peak.

Goals (issue 13): first report <= 1.2 s and >= 50x Evidently; peak <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import ROOT, anchor_python, as_worker, daemon, median, progress, table
from benchmarks.ingest_bench import drop, make_frame
from benchmarks.report import (
    NOT_INSTALLED,
    LoadWatch,
    Measured,
    Row,
    at_most,
    header,
    ratio_at_least,
    render,
    steady,
)
from benchmarks.training_bench import EventTimes, with_target
from mlopsd.client import Client
from store.artifacts import ArtifactStore

MODEL = """
[[model]]
name = "drift{i}"
data = "driftref@1"
target = "y"
task = "regression"
exclude = ["day"]
rounds = 5
early_stopping = 5
"""
CONFIG = """\
[[dataset]]
name = "driftref"
target = "y"

[[dataset]]
name = "driftcur"
"""


PHASES = [
    ("open: the current snapshots' schemas and sizes (their hashes checked on a thread)",
     "open_s"),
    ("reference: profiled (read, sort, summarise; scores on 100,000 rows) or read back",
     "reference_s"),
    ("compare: current columns read, sorted, judged; scores on 100,000 rows", "compare_s"),
    ("performance: labelled rows, if any", "performance_s"),
    ("report: snapshots' hashes waited for, report stored", "report_s"),
]


def phases(first: list[dict[str, Any]], stored: list[dict[str, Any]]) -> str:
    """The job's phases (its result's `timings`), the rest of the worker, and the daemon's
    part (queue, worker start, report committed and read back), for both kinds of report."""
    def each(runs: list[dict[str, Any]], of: Any) -> str:
        return f"{median([of(r) for r in runs]):.3f} s"

    rows = [[what, *(each(runs, lambda r, key=key: r["timings"].get(key, 0.0))
                     for runs in (first, stored))] for what, key in PHASES]
    rows.append(["worker, outside the phases", *(each(runs, lambda r: r["job_s"] - sum(
        r["timings"].values())) for runs in (first, stored))])
    rows.append(["POST -> worker start, worker end -> report read", *(each(
        runs, lambda r: r["seconds"] - r["job_s"]) for runs in (first, stored))])
    return table(rows, ["phase", "first report", "stored profile"])


def frames(rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    reference = with_target(make_frame(rows, seed=0)).with_columns(pl.col("f0").alias("g0"))
    current = with_target(make_frame(rows, seed=1), seed=2).with_columns(
        (pl.col("f0") + 0.5).alias("g0"),
        (pl.col("f3") * 1.3).alias("f3"))  # two numeric columns drift
    return reference, current.drop("y")


def check(client: Client, ended: EventTimes, model: str) -> dict[str, Any]:
    """One drift check as a user makes it: POST, wait for the job, read the report."""
    started = time.perf_counter()
    job = client.drift_check(model, "driftcur@1")
    _, kind = ended.wait(job.id)
    done = client.get_job(job.id)
    if kind != "job.succeeded":
        raise RuntimeError(f"drift job {job.id} failed: {done.error}")
    report = client.drift_report(done.result["report_id"])
    took = time.perf_counter() - started
    return {"seconds": took, "peak_mb": done.max_rss_mb or float("nan"),
            "job_s": (done.ended_at - done.started_at).total_seconds(),
            "drifted": sorted(c["column"] for c in report.columns if c["drifted"]),
            "profile": report.profile_sha, "timings": done.result.get("timings") or {}}


def evidently(reference: Path, current: Path, columns: list[str]) -> dict[str, Any] | None:
    python = anchor_python("evidently")
    if python is None:
        return None
    watch = LoadWatch()
    out = subprocess.run([python, str(ROOT / "benchmarks" / "evidently_drift.py"),
                          str(reference), str(current), ",".join(columns)],
                         capture_output=True, text=True, check=False, preexec_fn=as_worker)
    if out.returncode:
        raise RuntimeError(f"evidently failed: {out.stderr[-2000:]}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    found["load"] = watch.done()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()
    reference, current = frames(args.rows)
    config = CONFIG + "".join(MODEL.format(i=i) for i in range(args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        staging = root / "home" / "staging"
        staging.mkdir(parents=True)
        for name, frame in (("reference", reference), ("current", current)):
            frame.write_parquet(root / f"{name}.parquet")
        d = daemon(root / "home", config)
        try:
            client = d.client
            assert client is not None
            committed = EventTimes(client, ["ingest.committed"], "file")
            ended = EventTimes(client, ["job.succeeded", "job.failed", "job.cancelled"],
                               "job_id")
            progress("ingest the reference, train and promote the models")
            for dataset, name in (("driftref", "reference"), ("driftcur", "current")):
                inbox = d.home.inbox / dataset
                inbox.mkdir(parents=True, exist_ok=True)
                drop(staging, inbox, f"{name}.parquet", source=root / f"{name}.parquet")
                committed.wait(f"{name}.parquet")
            for i in range(args.repeat):
                job = client.wait_job(client.train(f"drift{i}").id, timeout=1800)
                if job.state != "succeeded":
                    raise RuntimeError(f"training drift{i} failed: {job.error}")
                client.promote(f"drift{i}", job.result["version"], reason="bench")
            progress("first reports")
            first, first_load = steady(lambda: [check(client, ended, f"drift{i}")
                                                for i in range(args.repeat)], tries=1)
            progress("reports with the stored profile")
            stored, stored_load = steady(lambda: [check(client, ended, "drift0")
                                                  for _ in range(args.repeat)])
            snapshots = {v.dataset: ArtifactStore(d.home.artifacts).path(v.snapshot_sha)
                         for v in [*client.list_versions("driftref"),
                                   *client.list_versions("driftcur")]}
        finally:
            d.stop()
        columns = [c for c in current.columns if c != "day"]
        progress("Evidently")
        theirs = None if args.no_evidently else evidently(
            snapshots["driftref"], snapshots["driftcur"], columns)

    first_s = median([r["seconds"] for r in first])
    stored_s = median([r["seconds"] for r in stored])
    peak = max(r["peak_mb"] for r in [*first, *stored])
    ours = set(stored[0]["drifted"])
    if theirs is None:
        anchor_s: Measured | str = NOT_INSTALLED
        anchor_mb: Measured | str = NOT_INSTALLED
        them = NOT_INSTALLED
    else:
        anchor_s = Measured.of(theirs["read_s"] + theirs["seconds"], theirs["load"],
                               f"report {theirs['seconds']:.1f} s")
        anchor_mb = Measured.of(theirs["peak_mb"], theirs["load"])
        them = ", ".join(sorted(c for c, v in theirs["columns"].items() if v["drifted"]))
    rows = [
        Row("first report (reference not yet profiled): POST -> report read", first_s, "s",
            first_load, anchor_s, [at_most(1.2, "s"), ratio_at_least(50)],
            ratio="anchor/ours"),
        Row("  the job alone (worker start -> end), median", median(
            [r["job_s"] for r in first]), "s", first_load),
        Row("report with the stored reference profile: POST -> report read", stored_s, "s",
            stored_load, anchor_s, [ratio_at_least(50)], ratio="anchor/ours"),
        Row("  the job alone (worker start -> end), median", median(
            [r["job_s"] for r in stored]), "s", stored_load),
        Row("peak memory (the drift workers' as recorded / Evidently's process)", peak, "MB",
            first_load, anchor_mb, [at_most(1024, "MB")], digits=0),
    ]
    print(header(f"Drift benchmark: {args.rows:,} rows x {len(columns)} inputs against "
                 f"{args.rows:,} reference rows, through the daemon",
                 medians=f"of {args.repeat}", Evidently_at="the workers' niceness"))
    print(render(rows, f"Evidently {theirs['version']}" if theirs else "Evidently"))
    print(f"\ndrifted columns: mlops {', '.join(sorted(ours)) or 'none'}; Evidently {them}")
    print("\nWhere the drift job's time goes (medians, from the job's result)\n")
    print(phases(first, stored))


if __name__ == "__main__":
    main()
