"""`mlflow models serve` on the same LightGBM model text as mlops serves, from the anchors'
side environment (.venv-anchors): saved with mlflow.lightgbm, served with the local
environment (no conda, no virtualenv made per model), one worker — MLflow's default."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import ANCHORS, ROOT
from benchmarks.http_clients import Target, connect, post


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save_model(python: str, model_text: str, folder: Path) -> Path:
    text = folder / "model.txt"
    text.write_text(model_text)
    out = folder / "mlflow-model"
    subprocess.run([python, str(ROOT / "benchmarks" / "mlflow_anchor.py"), "save", str(text),
                    str(out)], check=True, capture_output=True, text=True)
    return out


def start(model_dir: Path, port: int, body: bytes, log: Path) -> tuple[subprocess.Popen, float]:
    """Start the server; returns it and the seconds from its start to the first answered
    prediction (polled every 5 ms, as for mlops)."""
    env = {**os.environ, "PATH": f"{ANCHORS / 'bin'}:{os.environ.get('PATH', '')}",
           "MLFLOW_TRACKING_URI": f"file://{model_dir.parent / 'mlruns'}"}
    started = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(ANCHORS / "bin" / "mlflow"), "models", "serve", "-m", str(model_dir),
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    target = Target(f"http://127.0.0.1:{port}", "/invocations")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow models serve exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            conn = connect(target.base_url)
            status, reply = post(conn, target.path, body)
            conn.close()
            if status == 200:
                return proc, time.perf_counter() - started
            raise RuntimeError(f"mlflow answered {status}: {reply[:300]!r}")
        time.sleep(0.005)
    stop(proc)
    raise RuntimeError("mlflow models serve did not answer in 120 s")


def stop(proc: subprocess.Popen) -> None:
    # Its own session: the server's workers go with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


@contextlib.contextmanager
def serving(model_dir: Path, body: bytes, log: Path) -> Iterator[tuple[Target, float]]:
    proc, start_s = start(model_dir, free_port(), body, log)
    try:
        yield Target(f"http://127.0.0.1:{proc.args[-1]}", "/invocations"), start_s
    finally:
        stop(proc)
