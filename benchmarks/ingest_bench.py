"""Ingest benchmark: the full file-drop path against plain polars.

    scripts/bench ingest [--rows 1000000] [--repeat 3]

1. A CSV of ROWS x 22 columns (19 numeric, 2 categorical, a date) is dropped into a real
   daemon's inbox; timed from the rename into the inbox until the data version is committed
   (read + coerce + validate + profile + snapshot + commit + move), against
   `polars.read_csv` + `write_parquet` of the same file in a fresh process. Target: at most 2x.
2. Peak memory: the ingest worker's (as the job records it) and the plain polars process's.
3. Drop-to-committed latency of a 1,000-row file, 20 drops. Target: median ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.common import daemon, median, run_python, table
from mlopsd.client import Client

CONFIG = """\
[daemon]
workers = 1

[ingest]
settle_s = 0.2

[[dataset]]
name = "bench"
"""


def make_frame(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(10):
        columns[f"f{i}"] = rng.normal(i, 1 + i, rows).round(4)
    for i in range(9):
        columns[f"n{i}"] = rng.integers(0, 1000 * (i + 1), rows)
    columns["city"] = rng.choice(["berlin", "paris", "rome", "madrid", "lisbon"], rows)
    columns["plan"] = rng.choice(["free", "basic", "pro"], rows, p=[0.6, 0.3, 0.1])
    start = date(2024, 1, 1)
    columns["day"] = [start + timedelta(days=int(d)) for d in rng.integers(0, 365, rows)]
    return pl.DataFrame(columns)


def plain_polars(csv: Path, repeat: int) -> tuple[float, float]:
    code = f"""
import resource, time, polars as pl, tempfile, os
t = time.perf_counter()
df = pl.read_csv({str(csv)!r})
out = os.path.join(tempfile.mkdtemp(), "x.parquet")
df.write_parquet(out)
took = time.perf_counter() - t
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    times, peaks = [], []
    for _ in range(repeat):
        took, peak = map(float, run_python(code).split())
        times.append(took)
        peaks.append(peak)
    return median(times), max(peaks)


def drop(staging: Path, inbox: Path, name: str, data: bytes | None = None,
         source: Path | None = None) -> float:
    staged = staging / name
    if data is not None:
        staged.write_bytes(data)
    elif source is not None:
        os.link(source, staged)
    started = time.perf_counter()
    os.rename(staged, inbox / name)
    return started


class CommitWatch:
    """Follows the event stream: when did each file's `ingest.committed` arrive? (Polling
    the API instead would steal CPU from the worker being measured.)"""

    def __init__(self, client: Client) -> None:
        self._seen: dict[str, float] = {}
        self._cond = threading.Condition()
        follower = Client(client.base_url, actor="bench")
        threading.Thread(target=self._follow, args=(follower,), daemon=True).start()
        time.sleep(0.3)

    def _follow(self, client: Client) -> None:
        for event in client.events(types=["ingest.committed"]):
            with self._cond:
                self._seen[event.data["file"]] = time.perf_counter()
                self._cond.notify_all()

    def wait(self, name: str, timeout: float = 600) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: name in self._seen, timeout):
                raise TimeoutError(f"{name} was not committed in {timeout} s")
            return self._seen[name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-drops", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        staging = root / "home" / "staging"
        staging.mkdir(parents=True)
        frame = make_frame(args.rows)
        csvs = []
        for i in range(args.repeat):
            # Each drop differs by one row, so none is a duplicate of another.
            path = root / f"big{i}.csv"
            pl.concat([frame, make_frame(1, seed=100 + i)]).write_csv(path)
            csvs.append(path)
        size_mb = csvs[0].stat().st_size / 1e6
        polars_s, polars_peak = plain_polars(csvs[0], args.repeat)

        d = daemon(root / "home", CONFIG)
        try:
            client = d.client
            assert client is not None
            committed = CommitWatch(client)
            inbox = d.home.inbox / "bench"
            inbox.mkdir(parents=True, exist_ok=True)
            full, peaks = [], []
            for i, csv in enumerate(csvs):
                name = f"big{i}.csv"
                started = drop(staging, inbox, name, source=csv)
                full.append(committed.wait(name) - started)
                row = next(r for r in client.list_ingests(dataset="bench", limit=5)
                           if r.source_name == name)
                assert row.outcome == "accepted", row.issues
                job = client.get_job(row.job_id)
                peaks.append(job.max_rss_mb or float("nan"))
            latencies = []
            small = make_frame(1000 * args.small_drops, seed=7)
            for i in range(args.small_drops):
                name = f"small{i}.csv"
                chunk = small.slice(i * 1000, 1000)
                path = staging / f"{name}.src"
                chunk.write_csv(path)
                started = drop(staging, inbox, name, data=path.read_bytes())
                latencies.append(committed.wait(name) - started)
        finally:
            d.stop()

    full_s = median(full)
    print(f"\nIngest benchmark: {args.rows:,} rows x 22 columns, CSV {size_mb:.0f} MB, "
          f"median of {args.repeat}; {os.cpu_count()} cores\n")
    print(table(
        [
            ["full path: drop -> committed version", f"{full_s:.2f} s",
             f"{polars_s:.2f} s", f"{full_s / polars_s:.2f}x", "<= 2x"],
            ["peak memory (worker vs process)", f"{max(peaks):.0f} MB",
             f"{polars_peak:.0f} MB", f"{max(peaks) / polars_peak:.2f}x", "bounded"],
            ["1,000-row drop -> committed (median)", f"{median(latencies) * 1000:.0f} ms",
             "-", "-", "<= 1 s"],
            ["1,000-row drop -> committed (max)", f"{max(latencies) * 1000:.0f} ms", "-", "-",
             ""],
        ],
        ["measure", "mlops", "polars read_csv + write_parquet", "ratio", "target"],
    ))


if __name__ == "__main__":
    main()
