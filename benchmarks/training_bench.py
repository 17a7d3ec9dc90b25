"""Training benchmark: the full training job against a bare `lightgbm.train`.

    scripts/bench training [--rows 1000000] [--repeat 3] [--rounds 100] [--threads 2]

1. A Parquet file of ROWS x 22 columns (19 numeric, 2 categorical, a date) plus a regression
   target `y` is dropped into a real daemon's inbox and committed as a data version.
2. `client.train(model)`, timed from the submit until the job has succeeded (queueing, worker
   start, load, split, train, evaluate, store, and the daemon registering the run and the
   model version; the end is taken from the event stream), median of REPEAT. The phases come
   from the job (its result's `timings`, else its log).
3. The anchor, in a fresh process: the same snapshot, the same random split (the job's own
   `split`), the same matrices (`jobs.features`) and the same effective LightGBM params (the
   job's own `effective_params`, less early stopping, which needs a validation set); timed is
   only `lightgbm.train` (Dataset construction included), and separately that plus predicting
   the holdout rows, and `lightgbm.train` with the job's params in full (early stopping
   included) and the holdout as its validation set (what early stopping and the holdout
   curve need: the job's own train step). Median of REPEAT, at the workers' niceness
   (nice 10, as the job's worker). Goal (issue 13): job <= 1.10x `lightgbm.train` with the
   same params and validation set; the job against a bare train is printed beside it.

THREADS LightGBM threads on both sides (`scripts/bench all` uses 1: two threads on two shared
cores wait on each other whenever a neighbour holds a core). Both sides train exactly
ROUNDS rounds: the config cannot switch early stopping off (0 is
refused, leaving it out means 50), so the model sets `early_stopping = ROUNDS`, which can
never stop before the last round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import polars as pl

from benchmarks.common import daemon, median, progress, run_python, table
from benchmarks.ingest_bench import drop, make_frame
from benchmarks.report import LoadWatch, Measured, Row, header, ratio_at_most, render, steady
from mlopsd.client import Client, MlopsError
from store.artifacts import ArtifactStore

DATASET, MODEL = "trainbench", "trainbench-model"
HOLDOUT, SEED = 0.2, 42
LGB_PARAMS = {"num_leaves": 63, "learning_rate": 0.1}

CONFIG = """\
[[dataset]]
name = "{dataset}"
target = "y"

[[model]]
name = "{model}"
data = "{dataset}@latest"
target = "y"
task = "regression"
exclude = ["day"]
rounds = {rounds}
early_stopping = {rounds}
seed = {seed}
num_threads = {threads}

[model.split]
holdout = {holdout}
seed = {seed}

[model.params]
{params}
"""

PHASES = ("load", "split", "train", "evaluate", "card", "store")
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (.*)$")


def with_target(frame: pl.DataFrame, seed: int = 1) -> pl.DataFrame:
    """A regression target from a few columns, plus noise."""
    rng = np.random.default_rng(seed)
    signal = (0.8 * frame["f0"].to_numpy() - 0.3 * frame["f3"].to_numpy()
              + frame["n2"].to_numpy() / 1000
              + 2.0 * (frame["city"] == "rome").to_numpy()
              + 3.0 * (frame["plan"] == "pro").to_numpy())
    noise = rng.normal(0, 1, frame.height)
    return frame.with_columns(pl.Series("y", (signal + noise).round(4)))


class EventTimes:
    """When each awaited event arrived, keyed from its data, from the event stream (polling
    the API instead would steal CPU from the worker being measured)."""

    def __init__(self, client: Client, types: list[str], key: str) -> None:
        self._seen: dict[object, tuple[float, str]] = {}
        self._cond = threading.Condition()
        follower = Client(client.base_url, actor="bench")
        threading.Thread(target=self._follow, args=(follower, types, key), daemon=True).start()
        time.sleep(0.3)

    def _follow(self, client: Client, types: list[str], key: str) -> None:
        with contextlib.suppress(httpx.HTTPError, MlopsError):  # the daemon stopped
            for event in client.events(types=types):
                with self._cond:
                    self._seen[event.data[key]] = (time.perf_counter(), event.type)
                    self._cond.notify_all()

    def wait(self, value: object, timeout: float = 1800) -> tuple[float, str]:
        with self._cond:
            if not self._cond.wait_for(lambda: value in self._seen, timeout):
                raise TimeoutError(f"no event for {value!r} in {timeout} s")
            return self._seen[value]


def log_marks(text: str) -> dict[str, float]:
    """From a train job's log: its start and end (epoch seconds) and each phase's duration."""
    marks: dict[str, float] = {}
    for line in text.splitlines():
        found = _LOG_LINE.match(line)
        if not found:
            continue
        at = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        message = found[2]
        if message.startswith("job ") and " started with " in message:
            marks["worker_start"] = at
        elif message == "succeeded":
            marks["worker_end"] = at
        elif (phase := re.fullmatch(r"(\w+) in ([\d.]+) s", message)) and phase[1] in PHASES:
            marks[f"{phase[1]}_s"] = float(phase[2])
    return marks


def spent(marks: list[dict[str, float]], start: str, end: str) -> float:
    return median([mark[end] - mark[start] for mark in marks])


def bare_lightgbm(snapshot: Path, exclude: list[str], rounds: int, threads: int,
                  repeat: int) -> dict[str, list[float]]:
    spec = {"task": "regression", "lgb_params": LGB_PARAMS, "seed": SEED, "num_threads": threads,
            "rounds": rounds, "early_stopping": None}
    split_params = {"split": {"holdout": HOLDOUT, "seed": SEED}, "time_column": None,
                    "target": "y"}
    code = f"""
import json, time
import lightgbm as lgb, polars as pl
from jobs.features import signature_from_frame, to_matrix
from jobs.train.fit import effective_params
from jobs.train.split import split

frame = pl.read_parquet({str(snapshot)!r})
y = frame.get_column("y").cast(pl.Float64).to_numpy()
parts = split(frame, y, None, {split_params!r})
features = [c for c in frame.columns if c != "y" and c not in {exclude!r}]
columns = frame.select(features)
train_rows, holdout_rows = columns[parts.train], columns[parts.holdout]
signature = signature_from_frame(train_rows, features)
x_train, x_holdout = to_matrix(train_rows, signature), to_matrix(holdout_rows, signature)
y_train = y[parts.train]
categorical = [i for i, item in enumerate(signature["inputs"]) if item["categorical"]]
params = effective_params({spec!r}, None)
rounds = params.pop("num_iterations")
y_holdout = y[parts.holdout]
train, both, valid = [], [], []
for _ in range({repeat}):
    started = time.perf_counter()
    train_set = lgb.Dataset(x_train, y_train, categorical_feature=categorical)
    lgb.train({{**params, "early_stopping_round": rounds}}, train_set, num_boost_round=rounds,
              valid_sets=[lgb.Dataset(x_holdout, y_holdout, reference=train_set)])
    valid.append(time.perf_counter() - started)
    started = time.perf_counter()
    booster = lgb.train(dict(params), lgb.Dataset(x_train, y_train,
                        categorical_feature=categorical), num_boost_round=rounds)
    trained = time.perf_counter()
    booster.predict(x_holdout, num_threads=params["num_threads"])
    done = time.perf_counter()
    assert booster.current_iteration() == rounds
    train.append(trained - started)
    both.append(done - started)
print(json.dumps({{"train": train, "both": both, "valid": valid,
                  "params": {{**params, "num_iterations": rounds}},
                  "rows": [len(parts.train), len(parts.holdout)], "features": features}}))
"""
    return json.loads(run_python(code).splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = CONFIG.format(dataset=DATASET, model=MODEL, rounds=args.rounds, seed=SEED,
                           threads=args.threads, holdout=HOLDOUT,
                           params="\n".join(f"{k} = {v!r}" for k, v in LGB_PARAMS.items()))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        staging = root / "home" / "staging"
        staging.mkdir(parents=True)
        source = root / "train.parquet"
        with_target(make_frame(args.rows)).write_parquet(source)
        size_mb = source.stat().st_size / 1e6

        d = daemon(root / "home", config)
        try:
            client = d.client
            assert client is not None
            committed = EventTimes(client, ["ingest.committed"], "file")
            ended = EventTimes(client, ["job.succeeded", "job.failed", "job.cancelled"],
                               "job_id")
            inbox = d.home.inbox / DATASET
            inbox.mkdir(parents=True, exist_ok=True)
            drop(staging, inbox, source.name, source=source)
            committed.wait(source.name)
            version = max(client.list_versions(DATASET), key=lambda v: v.version)
            assert version.n_rows == args.rows, version
            snapshot = ArtifactStore(d.home.artifacts).path(version.snapshot_sha)

            totals, marks, jobs, sources = [], [], [], set()
            progress("training jobs")
            job_watch = LoadWatch()
            spare, tries = 2, 0  # jobs run again when the load moved during one
            while len(totals) < args.repeat:
                one = LoadWatch()
                wall, started = time.time(), time.perf_counter()
                job = client.train(MODEL)
                at, kind = ended.wait(job.id)
                finished = client.get_job(job.id)
                assert kind == "job.succeeded" and finished.state == "succeeded", finished.error
                tries += 1
                if one.done().changed() and spare > 0:
                    spare -= 1
                    progress("the load moved during a job: one more")
                    continue
                totals.append(at - started)
                mark = log_marks(client.job_log(job.id).text)
                timings = (finished.result or {}).get("timings")
                if timings:
                    mark.update(timings)
                sources.add("the job's result" if timings else "the job's log (the stored "
                            "result has no timings)")
                mark["submit"], mark["end"] = wall, wall + (at - started)
                marks.append(mark)
                jobs.append(finished)
            run = client.get_run(jobs[-1].result["run_id"])
            job_load = job_watch.done(1 + tries - args.repeat)  # 1 + the extra jobs
        finally:
            d.stop()

        progress("lightgbm.train")
        bare, bare_load = steady(lambda: bare_lightgbm(snapshot, ["day"], args.rounds,
                                                       args.threads, args.repeat))

    job_params = {k.removeprefix("lgb."): v for k, v in run.params.items()
                  if k.startswith("lgb.")}
    expected = {**bare["params"], "early_stopping_round": args.rounds}
    same = {k: str(v) for k, v in expected.items()} == {k: str(v) for k, v in job_params.items()}
    job_s, train_s, both_s = median(totals), median(bare["train"]), median(bare["both"])
    valid_s = median(bare["valid"])

    print(header(f"Training benchmark: {args.rows:,} rows x 22 columns + target (Parquet "
                 f"{size_mb:.0f} MB), {bare['rows'][0]:,} training / {bare['rows'][1]:,} "
                 f"holdout rows, {len(bare['features'])} features, regression",
                 rounds=args.rounds, LightGBM_threads=args.threads,
                 medians=f"of {args.repeat}", both_sides_at="nice 10 (the workers')"))
    print(f"LightGBM params (both sides{'' if same else ', NOT the same as the job'}): "
          f"{bare['params']}" + ("" if same else f"\njob: {job_params}") + "\n")

    def baseline(seconds: float, note: str) -> Measured:
        return Measured.of(seconds, bare_load, note)

    print(render([
        Row("train job end to end (submit -> succeeded)", job_s, "s", job_load,
            baseline(valid_s, "lightgbm.train, same params + validation set"),
            [ratio_at_most(1.10)]),
        Row("  the same job against a bare lightgbm.train", job_s, "s", job_load,
            baseline(train_s, "bare lightgbm.train")),
        Row("  the same job against a bare train + predicting the holdout", job_s, "s",
            job_load, baseline(both_s, "bare train + predict")),
    ], "lightgbm.train"))

    start = spent(marks, "submit", "worker_start")
    phases = {p: median([mark[f"{p}_s"] for mark in marks]) for p in PHASES}
    inside = spent(marks, "worker_start", "worker_end") - sum(phases.values())
    after = spent(marks, "worker_end", "end")
    rows = [["submit -> worker running (queue, fork, log)", f"{start:.3f} s", ""]]
    notes = {"load": "verify snapshot hash, read Parquet, labels",
             "split": "split, signature, to_matrix (train + holdout)",
             "train": f"lightgbm.train + holdout valid set (bare: {train_s:.3f} s)",
             "evaluate": "model text round trip, metrics (predictions kept from training)",
             "card": "bootstrap intervals of the holdout metrics, slices",
             "store": "model text into the artifact store"}
    rows += [[p, f"{phases[p]:.3f} s", notes[p]] for p in PHASES]
    rows += [["worker, outside the phases", f"{inside:.3f} s", "params check, versions, result"],
             ["worker done -> job succeeded", f"{after:.3f} s",
              "result over the pipe, register run + version, event"]]
    print(f"\nWhere the job's time goes (medians; phases from {', '.join(sorted(sources))}; "
          "log timestamps are to the millisecond)\n")
    print(table(rows, ["phase", "time", "what"]))


if __name__ == "__main__":
    main()
