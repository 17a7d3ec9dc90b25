"""Serving benchmark: a real daemon and `mlflow models serve` answering over loopback HTTP,
the same model, the same rows, the same client code (benchmarks/http_clients.py).

    scripts/bench serving [--requests 5000] [--seconds 5] [--big-rows 10000]

The model: LightGBM regression on the bikeshare example, 11 features (2 categorical), 100
trees of 31 leaves, logged through the SDK and promoted; MLflow serves the same model text
saved with mlflow.lightgbm (in .venv-anchors, `scripts/bench --with-anchors`; else its
column says "not installed"). Both servers run at this process's niceness. MLflow is sent
its own JSON form (`dataframe_split`) of the same rows, already encoded (categories as
LightGBM's codes: its pyfunc would not encode strings).

1. Single-row latency, one client, p50/p99 of REQUESTS (goal p50 <= 0.25 ms, p99 <= 1 ms).
2. Single-row requests/s with 1 and 8 clients for SECONDS (goal with 8: >= 30x MLflow).
   Beside them, the floor (benchmarks/empty_server.py): the same client against an ASGI app
   that answers a constant on the daemon's own server stack, p50 and 8 clients' req/s; no
   Python server on this machine answers faster than that app.
3. BIG_ROWS rows in one request: JSON rows, JSON columns, Arrow IPC, Parquet, against the
   in-process `Booster.predict` of the same rows (goal <= 5x for JSON rows, <= 3x for the
   columnar forms); MLflow's `dataframe_split` of the same rows beside them.
4. Start to first prediction, mlops and MLflow, from process start.
5. Single-row p99 while a training job runs in a worker (goal <= 2x idle p99).
6. Blue-green switches and rollbacks under 8 clients: failed requests (goal 0).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from benchmarks import empty_server, mlflow_serve
from benchmarks.common import anchor_python, daemon, median, niceness, progress
from benchmarks.http_clients import Target, clients, median_request
from benchmarks.http_clients import sequential_latency as latency
from benchmarks.report import (
    NOT_INSTALLED,
    Measured,
    Row,
    at_most,
    header,
    measure,
    ratio_at_least,
    ratio_at_most,
    render,
    steady,
)
from benchmarks.serving_extra import p99_during_training, start_to_first_prediction
from jobs.features import to_matrix
from mlopsd.client import Client
from tests import bikes

PATH = "/v1/models/riders/predict"
TRAIN_CONFIG = """\
[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "heavy"
data = "bikes@latest"
target = "bikers"
task = "regression"
exclude = ["casual", "registered"]
rounds = 3000

[model.params]
num_leaves = 255
learning_rate = 0.01
"""


def bodies(trained: bikes.Trained, rows: int) -> dict[str, tuple[bytes, str]]:
    """The same `rows` rows in each form mlops takes."""
    full = trained.frame.select(bikes.FEATURES)
    features = pl.concat([full] * (rows // full.height + 1)).head(rows)
    arrow, parquet = io.BytesIO(), io.BytesIO()
    features.write_ipc_stream(arrow)
    features.write_parquet(parquet)
    return {
        "JSON rows": (orjson.dumps({"rows": features.to_dicts()}), "application/json"),
        "JSON columns": (orjson.dumps({"columns": features.to_dict(as_series=False)}),
                         "application/json"),
        "Arrow IPC": (arrow.getvalue(), "application/vnd.apache.arrow.stream"),
        "Parquet": (parquet.getvalue(), "application/vnd.apache.parquet"),
    }


def mlflow_body(trained: bikes.Trained, frame: pl.DataFrame) -> bytes:
    """MLflow's JSON form of the same rows, encoded as training encoded them."""
    matrix = to_matrix(frame.select(bikes.FEATURES), trained.signature)
    return orjson.dumps({"dataframe_split": {"columns": bikes.FEATURES,
                                             "data": matrix.tolist()}},
                        option=orjson.OPT_SERIALIZE_NUMPY)


def in_process(trained: bikes.Trained, rows: int, repeat: int = 20) -> Measured:
    """`Booster.predict` of the same rows in this process (matrix made beforehand), with
    LightGBM's default threads, as the daemon predicts large requests."""
    full = trained.frame.select(bikes.FEATURES)
    matrix = to_matrix(pl.concat([full] * (rows // full.height + 1)).head(rows),
                       trained.signature)

    def run() -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            trained.booster.predict(matrix)
            times.append(time.perf_counter() - started)
        return median(times)

    return measure(run, note="in-process predict")


def ceiling(client_cpu: float, theirs: dict[str, Any] | None) -> str:
    """What the client processes alone allow on this machine's cores, beside what 30x the
    anchor would need: a goal above the ceiling cannot be met here by any server."""
    cores = os.cpu_count() or 1
    text = f"with a server costing nothing, {cores} cores allow at most " \
           f"{cores / client_cpu:,.0f} req/s"
    if theirs is not None:
        text += f"; 30x MLflow needs {30 * theirs['conc'][0]:,.0f}"
    return text


def server_figures(target: Target, body: bytes, args: argparse.Namespace
                   ) -> dict[str, Any]:
    """The single-row figures, each measured again when the load moved during it."""
    single, single_load = steady(lambda: latency(target, body, args.requests) * 1000)
    seq, seq_load = steady(lambda: clients(target, body, 1, args.seconds)[0])
    conc, conc_load = steady(lambda: clients(target, body, 8, args.seconds))
    return {"p50": (float(np.percentile(single, 50)), single_load),
            "p99": (float(np.percentile(single, 99)), single_load),
            "seq": (seq, seq_load), "conc": (conc[0], conc_load),
            "conc_p99": (float(np.percentile(conc[2], 99)) * 1000, conc_load),
            "conc_failed": conc[1], "client_cpu": conc[3]}


def mlflow_figures(trained: bikes.Trained, row: pl.DataFrame, big: pl.DataFrame,
                   args: argparse.Namespace, tmp: Path) -> dict[str, Any] | None:
    python = anchor_python("mlflow")
    if python is None:
        return None
    model_dir = mlflow_serve.save_model(python, trained.booster.model_to_string(), tmp)
    one, many = mlflow_body(trained, row), mlflow_body(trained, big)
    log = tmp / "mlflow-serve.log"
    with mlflow_serve.serving(model_dir, one, log) as (target, _):
        found = server_figures(target, one, args)
        found["big"] = steady(lambda: median_request(target, many, "application/json",
                                                     args.big_repeat))
    def starts() -> float:
        times = []
        for _ in range(3):
            proc, start_s = mlflow_serve.start(model_dir, mlflow_serve.free_port(), one, log)
            mlflow_serve.stop(proc)
            times.append(start_s)
        return median(times)

    found["start"] = steady(starts)
    version = subprocess.run([python, "-c", "import mlflow; print(mlflow.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    found["version"] = version
    return found


def swaps_under_load(client: Client, target: Target, body: bytes, swaps: int = 5
                     ) -> tuple[int, int]:
    """8 clients predicting while production switches between two versions and back."""
    result: dict[str, Any] = {}

    def load() -> None:
        result["rps"], result["failed"], _, _ = clients(target, body, 8, 8.0)

    runner = threading.Thread(target=load)
    runner.start()
    time.sleep(2.0)
    for _ in range(swaps):
        client.promote("riders", "1.1.0", reason="bench swap")
        time.sleep(0.3)
        client.rollback("riders", reason="bench rollback")
        time.sleep(0.3)
    runner.join()
    return int(result["rps"] * 8.0), result["failed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--big-rows", type=int, default=10_000)
    parser.add_argument("--big-repeat", type=int, default=20)
    parser.add_argument("--no-training", action="store_true",
                        help="skip the p99 while a training job runs")
    args = parser.parse_args()
    trained = bikes.train("regression", leaves=31, rounds=100)
    second = bikes.train("regression", leaves=31, rounds=120)
    row = trained.frame.slice(7, 1).select(bikes.FEATURES)
    body = orjson.dumps({"rows": row.to_dicts()})
    full = trained.frame.select(bikes.FEATURES)
    big = pl.concat([full] * (args.big_rows // full.height + 1)).head(args.big_rows)
    forms = bodies(trained, args.big_rows)
    baseline = in_process(trained, args.big_rows)

    progress("the floor: an ASGI app answering a constant")
    with empty_server.serving(body) as empty_target:
        empty = server_figures(empty_target, body, args)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        d = daemon(home, TRAIN_CONFIG)
        try:
            client = d.client
            assert client is not None
            client.promote("riders", bikes.log(client, trained, "riders"))
            bikes.log(client, second, "riders", data="bikes@2")
            target = Target(client.base_url, PATH)
            progress("mlops: single rows")
            ours = server_figures(target, body, args)
            progress("mlops: large requests")
            large = {name: steady(lambda b=b, c=c: median_request(
                Target(client.base_url, PATH, c), b, c, args.big_repeat))
                for name, (b, c) in forms.items()}
            progress("mlops: switches under load")
            sent, swap_failed = swaps_under_load(client, target, body)
            busy = None
            if not args.no_training:
                progress("mlops: p99 while training")
                busy = p99_during_training(d, target, body, args.requests)
        finally:
            d.stop()
        progress("mlops: start to first prediction")
        start = steady(lambda: median([start_to_first_prediction(home, body)
                                       for _ in range(3)]))
        progress("MLflow serve")
        theirs = mlflow_figures(trained, row, big, args, Path(tmp))

    def anchor(key: str, scale: float = 1.0) -> Measured | str:
        if theirs is None:
            return NOT_INSTALLED
        value, load = theirs[key]
        return Measured.of(value * scale, load)

    p50, p50_load = ours["p50"]
    p99 = ours["p99"][0]
    rows = [
        Row("1-row predict p50, 1 client", p50, "ms", p50_load, anchor("p50"),
            [at_most(0.25, "ms")], ratio="anchor/ours", digits=3),
        Row("1-row predict p99, 1 client", p99, "ms", p50_load, anchor("p99"),
            [at_most(1, "ms")], ratio="anchor/ours", digits=3),
        Row("1-row req/s, 1 client", ours["seq"][0], "req/s", ours["seq"][1], anchor("seq"),
            digits=0),
        Row("1-row req/s, 8 clients", ours["conc"][0], "req/s", ours["conc"][1],
            anchor("conc"), [ratio_at_least(30)], digits=0),
        Row("  8 clients: p99 (failures)", ours["conc_p99"][0], "ms", ours["conc"][1],
            anchor("conc_p99"), ratio="anchor/ours",
            note=f"{ours['conc_failed']} failed"),
        Row("  8 clients: the clients' own CPU per request", ours["client_cpu"] * 1e6, "us",
            ours["conc"][1], digits=0, note=ceiling(ours["client_cpu"], theirs)),
        Row("  the floor: an ASGI app answering a constant, 1-row p50", empty["p50"][0], "ms",
            empty["p50"][1], anchor("p50"), ratio="anchor/ours", digits=3,
            note="uvicorn + httptools + uvloop, as the daemon; same client"),
        Row("  the floor: an ASGI app answering a constant, 8 clients", empty["conc"][0],
            "req/s", empty["conc"][1], anchor("conc"), digits=0,
            note="no Python server here can pass this"),
    ]
    for name, (seconds, load) in large.items():
        goal = ratio_at_most(5 if name == "JSON rows" else 3)
        rows.append(Row(f"{args.big_rows:,} rows, {name} vs in-process predict",
                        seconds * 1000, "ms", load,
                        Measured.of(baseline.value * 1000, baseline.load, baseline.note),
                        [goal]))
    rows.append(Row(f"{args.big_rows:,} rows, JSON rows vs MLflow dataframe_split",
                    large["JSON rows"][0] * 1000, "ms", large["JSON rows"][1],
                    anchor("big", 1000), ratio="anchor/ours"))
    rows.append(Row("start to first prediction", start[0], "s", start[1],
                    anchor("start"), [at_most(2, "s")], ratio="anchor/ours"))
    if busy is not None:
        busy_p99, busy_load = busy
        rows.append(Row("1-row p99 while a training job runs in a worker", busy_p99,
                        "ms", busy_load, None, [at_most(2 * p99, "ms")], digits=3,
                        note="goal: 2x idle p99"))
    rows.append(Row(f"failed requests, 10 switches under 8 clients ({sent:,} sent)",
                    swap_failed, "", None, None, [at_most(0)], digits=0))
    mlflow = f"MLflow {theirs['version']} serve" if theirs else "MLflow serve"
    print(header("Serving benchmark: loopback, keep-alive, one client script for both",
                 both_servers_at_nice=niceness(), model="100 trees x 31 leaves, 11 features"))
    print(render(rows, mlflow))


if __name__ == "__main__":
    main()

