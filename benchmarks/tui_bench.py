"""The terminal UI's benchmark (not a test: figures depend on the machine).

    scripts/bench tui [--runs 10000] [--seconds 10] [--rate 100]

1. Start to first paint: a fresh `python -m tui`-like process on a running daemon, from
   the process's start to Textual's first frame, and to the Overview showing the daemon's
   data (target: first paint <= 1.0 s).
2. Experiments on RUNS runs: from the key press to the runs table painted with its data
   (target <= 300 ms).
3. While the daemon publishes RATE events a second (short tracked runs: run.started and
   run.ended each), the app's event loop is sampled every 10 ms: the longest it was late is
   the longest any screen update kept input waiting (target <= 50 ms). Beside it, how much
   of that the UI thread itself worked (the rest it waited for the GIL or for a core the
   daemon and the publisher had: 2 cores), and its longest work between two looks. The
   events come from another process, the UI runs in a process of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import daemon, median, progress
from benchmarks.report import Row, at_most, header, render, steady
from mlopsd.client import Client
from mlopsd.home import Home
from tests import tui_home

FIRST_PAINT = r"""
import sys, time
started = float(sys.argv[1])
from mlopsd.home import Home
from tui.app import MlopsApp

class Timed(MlopsApp):
    def on_ready(self) -> None:
        print(f"paint {time.time() - started:.4f}", flush=True)
        self.set_interval(0.005, self._check)

    def _check(self) -> None:
        screen = self.screen
        if getattr(screen, "loader", None) and screen.loader.loads:
            print(f"data {time.time() - started:.4f}", flush=True)
            self.exit()

Timed(Home(__import__("pathlib").Path(sys.argv[2]))).run(headless=True, size=(120, 40))
"""


def first_paint(home: Path, repeats: int = 5) -> tuple[float, float]:
    paints, datas = [], []
    for _ in range(repeats):
        started = time.time()
        out = subprocess.run([sys.executable, "-c", FIRST_PAINT, str(started), str(home)],
                             capture_output=True, text=True, check=True, timeout=60,
                             env={**os.environ, "TEXTUAL": ""}).stdout
        values = dict(line.split() for line in out.splitlines() if line.strip())
        paints.append(float(values["paint"]))
        datas.append(float(values["data"]))
    return median(paints), median(datas)


def many_runs(client: Client, runs: int) -> None:
    for i in range(runs):
        with client.start_run(experiment="bench-tui", flush_interval_s=60) as run:
            run.log_params({"num_leaves": 15 + i % 32, "seed": i})
            run.log_metrics({"rmse": 40 + (i % 97) / 3, "mae": 30 + (i % 89) / 4})


async def _experiments_open(home: Home, repeats: int) -> list[float]:
    """Key press to the runs table painted with data loaded after the press. The key is
    posted as the terminal would (`pilot.press` also waits for the whole app to settle,
    which is not what a user waits for)."""
    from tui.app import MlopsApp

    times = []
    for _ in range(repeats):
        app = MlopsApp(home)
        async with app.run_test(size=(120, 40)) as pilot:
            while app.connection.state != "connected" or not app.screen.loader.loads:
                await pilot.pause(0.02)
            await pilot.pause(0.3)
            started = time.perf_counter()
            app.simulate_key("3")
            while not (type(app.screen).__name__ == "ExperimentsScreen"
                       and app.screen.loader.loads):
                await asyncio.sleep(0.001)
            painted = asyncio.Event()
            app.screen.call_after_refresh(painted.set)
            await painted.wait()
            times.append(time.perf_counter() - started)
            rows = len(app.screen.query_one("#runs-table").rows)
        assert rows > 0
    return times


PUBLISH = r"""
import sys, time
from pathlib import Path
from mlopsd.client import Client
from mlopsd.home import Home

client = Client.from_home(Home(Path(sys.argv[1])))
interval = 2.0 / float(sys.argv[2])  # a short run sent whole: run.started, run.ended
print("go", flush=True)
next_at = time.perf_counter()
while True:
    with client.start_run(experiment="bench-tui-flood") as run:
        run.log_metric("loss", 1.0)
    next_at += interval
    time.sleep(max(0.0, next_at - time.perf_counter()))
"""


async def _lag_under_events(home: Home, seconds: float, rate: float
                            ) -> tuple[float, float, int, float, float]:
    """The events come from another process, as a notebook's or a training's would: a
    publisher thread in the app's own process would take the GIL from the UI and measure
    itself."""
    from tui.app import MlopsApp

    app = MlopsApp(home)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.connection.state != "connected":
            await pilot.pause(0.02)
        await pilot.press("3")
        await pilot.pause(0.5)
        flood = subprocess.Popen([sys.executable, "-c", PUBLISH, str(home.root), str(rate)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert flood.stdout is not None
            await asyncio.to_thread(flood.stdout.readline)
            seen_before = app.events_seen
            lags: list[tuple[float, float]] = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                asked, ran = time.perf_counter(), time.thread_time()
                await asyncio.sleep(0.01)
                # How late, and how much of it the UI thread itself worked (the rest it
                # waited: for the GIL, or for a core the daemon and the publisher had).
                lags.append((time.perf_counter() - asked - 0.01, time.thread_time() - ran))
        finally:
            flood.kill()
            flood.wait()
        events = app.events_seen - seen_before
    lags.sort()
    worst, worked = lags[-1]
    return worst, lags[int(len(lags) * 0.99)][0], events, worked, max(w for _l, w in lags)


LAG = r"""
import asyncio, json, sys
from pathlib import Path
from benchmarks.tui_bench import _lag_under_events
from mlopsd.home import Home

print(json.dumps(asyncio.run(_lag_under_events(Home(Path(sys.argv[1])), float(sys.argv[2]),
                                               float(sys.argv[3])))))
"""


def lag_in_own_process(home: Path, seconds: float, rate: float
                       ) -> tuple[float, float, int, float, float]:
    """The app in a process of its own, as `mlops tui` runs: in this one, the apps of the
    earlier measures would have left their garbage for its collector to walk."""
    out = subprocess.run([sys.executable, "-c", LAG, str(home), str(seconds), str(rate)],
                         capture_output=True, text=True, check=True, timeout=seconds + 120,
                         env={**os.environ, "TEXTUAL": ""}).stdout
    worst, p99, events, worked, longest = json.loads(out.strip().splitlines()[-1])
    return worst, p99, int(events), worked, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="events a second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = daemon(Path(tmp) / "home", tui_home.CONFIG)
        try:
            client = d.client
            tui_home.fill(d)
            (paint, data), paint_load = steady(lambda: first_paint(d.home.root))
            progress(f"log {args.runs:,} runs")
            many_runs(client, args.runs)
            opened, open_load = steady(lambda: asyncio.run(_experiments_open(d.home, 5)))
            (worst, p99, events, worked, longest), lag_load = steady(lambda: lag_in_own_process(
                d.home.root, args.seconds, args.rate))
        finally:
            d.kill()
    print(header("The terminal UI on a running daemon (no anchor: goals only)"))
    print(render([
        Row("start to first paint (median of 5)", paint * 1000, "ms", paint_load, None,
            [at_most(1000, "ms")], digits=0),
        Row("start to the Overview's data", data * 1000, "ms", paint_load, digits=0),
        Row(f"Experiments on {args.runs:,} runs: key to table (median of 5)",
            median(opened) * 1000, "ms", open_load, None, [at_most(300, "ms")], digits=0),
        Row(f"event loop late, worst, while {events / args.seconds:.0f} events/s arrive",
            worst * 1000, "ms", lag_load, None, [at_most(50, "ms")], digits=1),
        Row("event loop late, p99", p99 * 1000, "ms", lag_load, digits=1),
        Row("the UI thread's own work in the worst", worked * 1000, "ms", lag_load,
            digits=1),
        Row("the UI thread's longest work between two looks", longest * 1000, "ms",
            lag_load, digits=1),
    ], "anchor"))


if __name__ == "__main__":
    main()
