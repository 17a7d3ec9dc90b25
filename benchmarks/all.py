"""Every benchmark, one after another, within 15 minutes.

    scripts/bench all [--quick] [--only serving,drift] [--out FILE]

Without --quick, the sizes are the issue's goals' (1M rows for ingest, drift and training,
200k rows for training too, 10,000 runs, 10,000-row requests) with fewer repeats than each
benchmark's own default; --quick uses small sizes, for trying the benchmarks out (its
figures do not answer the goals). Each benchmark's table is printed as it ends; at the end
a summary: seconds and load per benchmark, goals met and not met. With the anchors'
environment missing (`scripts/bench --with-anchors`), the anchors' columns say
"not installed". A disturbed measurement is tried at most twice here
(MLOPS_BENCH_TRIES=2 unless set), to stay within the budget.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, anchor_python

BUDGET_S = 15 * 60
FULL: list[tuple[str, list[str]]] = [
    ("serving", ["--requests", "2000", "--seconds", "3", "--big-repeat", "10"]),
    ("drift", ["--rows", "1000000", "--repeat", "2"]),
    ("ingest", ["--rows", "1000000", "--repeat", "3", "--small-drops", "10"]),
    # One LightGBM thread on both sides: with 2 threads on 2 cores, a process of someone
    # else's busy on one core made lightgbm.train 28x slower here (OpenMP threads waiting
    # on each other), which would blow the budget and measure the neighbour.
    ("training", ["--rows", "1000000", "--repeat", "2", "--threads", "1"]),
    ("training", ["--rows", "200000", "--repeat", "2", "--threads", "1"]),
    ("tracking", ["--points", "10000", "--runs", "10000"]),
    ("pages", ["--runs", "10000", "--alerts", "100000"]),
    ("tui", ["--runs", "10000", "--seconds", "5"]),
    ("mlflow_client", ["--repeat", "1"]),
]
QUICK: list[tuple[str, list[str]]] = [
    ("serving", ["--requests", "500", "--seconds", "1", "--big-repeat", "3", "--no-training"]),
    ("drift", ["--rows", "100000", "--repeat", "2"]),
    ("ingest", ["--rows", "100000", "--repeat", "2", "--small-drops", "5"]),
    ("training", ["--rows", "100000", "--repeat", "2", "--rounds", "20", "--threads", "1"]),
    ("tracking", ["--points", "1000", "--runs", "1000", "--versions", "100"]),
    ("pages", ["--runs", "1000", "--versions", "100", "--alerts", "10000"]),
    ("tui", ["--runs", "1000", "--seconds", "3"]),
    ("mlflow_client", ["--repeat", "1"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a try")
    parser.add_argument("--only", default="", help="comma-separated names")
    parser.add_argument("--out", type=Path, help="also write the tables to this file")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.only:
        plan = [(name, argv) for name, argv in plan if name in args.only.split(",")]
    anchors = {m: anchor_python(m) is not None for m in ("mlflow", "evidently")}
    print(f"scripts/bench all{' --quick' if args.quick else ''}: {len(plan)} benchmarks; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; anchors "
          + ", ".join(f"{m} {'installed' if ok else 'not installed'}"
                      for m, ok in anchors.items()), flush=True)
    started = time.perf_counter()
    summary, tables = [], []
    for name, argv in plan:
        load = os.getloadavg()[0]
        began = time.perf_counter()
        # At most two tries of a disturbed measurement, to stay within the budget.
        env = {**os.environ, "MLOPS_BENCH_TRIES": os.environ.get("MLOPS_BENCH_TRIES", "2")}
        out = subprocess.run([sys.executable, "-m", f"benchmarks.{name}_bench", *argv],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False, env=env)
        took = time.perf_counter() - began
        print(out.stdout, flush=True)
        command = name.replace("_", "-")  # as scripts/bench names it (mlflow-client)
        tables.append(f"$ scripts/bench {command} {' '.join(argv)}\n{out.stdout}")
        verdicts = [cells[6] for line in out.stdout.splitlines()
                    if len(cells := [c.strip() for c in line.split("|")]) > 7
                    and cells[1] != "measure"]  # not the header
        met, missed = verdicts.count("met"), verdicts.count("NOT MET")
        state = "ok" if out.returncode == 0 else f"FAILED (exit {out.returncode})"
        summary.append(f"{command} {' '.join(argv)}: {took:.0f} s, load average {load:.2f} -> "
                       f"{os.getloadavg()[0]:.2f}; goals met {met}, not met {missed}; {state}")
    total = time.perf_counter() - started
    lines = ["", "Summary", *summary,
             f"total {total:.0f} s ({'within' if total <= BUDGET_S else 'OVER'} the "
             f"{BUDGET_S // 60} minutes)"]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(tables + lines) + "\n")


if __name__ == "__main__":
    main()
