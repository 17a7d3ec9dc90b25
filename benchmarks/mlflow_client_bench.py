"""MLflow's client against mlopsd and against MLflow's own server, side by side.

    scripts/bench mlflow-client [--repeat 2]

The notebook of tests/test_mlflow_client.py (examples/mlflow/notebook.py: a run with params,
tags and 1,000 `log_metric` calls; `search_runs` with a filter and a metric's history;
delete/restore; LightGBM under `mlflow.lightgbm.autolog()`; `register_model` and
`set_registered_model_alias`), run unchanged by the same client (this venv's
mlflow-skinny) against two servers started here on temp folders, on loopback:

- mlops: `mlopsd` on a temp home, MLFLOW_TRACKING_TOKEN set to its token;
- MLflow: `mlflow server` from the anchors' environment (.venv-anchors, `scripts/bench
  --with-anchors`; else "not installed") on SQLite, with its artifacts proxy
  (`--artifacts-destination`) and its default 4 workers.

The notebook times its phases itself; the script's whole run (a fresh interpreter importing
MLflow, pandas and LightGBM, then the notebook) is timed from outside. Medians of
`--repeat` runs, the sides taking turns; each run uses its own experiment and model, and a
run that others disturbed is tried again (`steady`), keeping the least disturbed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ANCHORS, ROOT, anchor_python, daemon, median, progress
from benchmarks.mlflow_serve import free_port
from benchmarks.report import (
    NOT_INSTALLED,
    Load,
    Measured,
    Row,
    header,
    ratio_at_least,
    render,
    steady,
)
from tests import bikes

NOTEBOOK = ROOT / "examples" / "mlflow" / "notebook.py"
clients: set[str] = set()
"""The MLflow client's version, as the notebook reports it."""
PHASES = [
    ("metric_steps", "1,000 metric steps, one log_metric call each"),
    ("tracked_run", "the tracked run (params, tags, 1,000 steps, end)"),
    ("search", "search_runs with a filter + a metric's history"),
    ("autolog_training", "LightGBM under autolog (20 rounds, model logged)"),
    ("register", "register_model + set_registered_model_alias + get by alias"),
    ("end_to_end", "the notebook's code, end to end (in its process)"),
    ("process", "the script, from process start to exit"),
]


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """`mlflow server` on SQLite in `folder`; its URL once it answers."""
    port = free_port()
    log = (folder / "mlflow-server.log").open("ab")
    proc = subprocess.Popen(
        [str(ANCHORS / "bin" / "mlflow"), "server", "--backend-store-uri",
         f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
         str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: "
                                   f"{(folder / 'mlflow-server.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("mlflow server did not answer in 300 s")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def run_notebook(url: str, token: str | None, folder: Path, repeat: int
                 ) -> tuple[dict[str, float], Load]:
    out = folder / f"notebook-{repeat}.json"
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "GIT_PYTHON_REFRESH": "quiet",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    tries = iter(range(1, 100))

    def once() -> dict[str, float]:
        # Each try its own experiment and model, so every try does the same work.
        name = f"{repeat}-{next(tries)}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(NOTEBOOK), str(bikes.CSV), str(out),
                               f"notebook-{name}", f"bikes-mlflow-{name}"],
                              env=env, capture_output=True, text=True, cwd=folder, check=False)
        took = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(f"the notebook failed against {url}: {done.stderr[-3000:]}")
        summary: dict[str, Any] = json.loads(out.read_text())
        if summary["history"] != 1000 or summary["version_status"] != "READY":
            raise RuntimeError(f"the notebook did not do its work against {url}: {summary}")
        clients.add(summary["mlflow"])
        return {**summary["seconds"], "process": took}

    return steady(once)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    installed = anchor_python("mlflow") is not None
    ours: list[tuple[dict[str, float], Load]] = []
    theirs: list[tuple[dict[str, float], Load]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "mlflow").mkdir()
        d = daemon(root / "home", "")
        try:
            assert d.client is not None
            with (mlflow_server(root / "mlflow") if installed
                  else contextlib.nullcontext(None)) as url:
                for repeat in range(args.repeat):
                    sides = [("mlops", d.client.base_url, d.home.read_token(), ours)]
                    if url is not None:
                        sides.append(("MLflow", url, None, theirs))
                    if repeat % 2:
                        sides.reverse()
                    for name, base, token, found in sides:
                        progress(f"{name}: the notebook, run {repeat + 1}")
                        found.append(run_notebook(base, token, root, repeat))
        finally:
            d.stop()

    def of(runs: list[tuple[dict[str, float], Load]], key: str) -> float:
        return median([r[0][key] for r in runs])

    def load_of(runs: list[tuple[dict[str, float], Load]]) -> Load:
        return max((r[1] for r in runs), key=lambda load: load.others_cores)

    rows = []
    for key, what in PHASES:
        anchor: Measured | str = (Measured.of(of(theirs, key), load_of(theirs)) if theirs
                                  else NOT_INSTALLED)
        goals = [ratio_at_least(1)] if key in ("end_to_end", "process") else []
        rows.append(Row(what, of(ours, key), "s", load_of(ours), anchor, goals,
                        ratio="anchor/ours"))
    server = "mlflow server"
    if installed:
        server += " " + subprocess.run(
            [str(anchor_python("mlflow")), "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True, text=True, check=True).stdout.strip()
    print(header(f"MLflow's client (mlflow-skinny {clients.pop() if clients else '?'}, an "
                 "unchanged notebook) against mlopsd and against mlflow server",
                 medians=f"of {args.repeat}",
                 mlflow_server="SQLite, artifacts proxied, its default 4 workers, loopback"))
    print(render(rows, f"{server} (SQLite)"))


if __name__ == "__main__":
    main()
