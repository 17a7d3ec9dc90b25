"""Shared by the benchmarks: medians, tables, a daemon on a temp home, child processes,
the anchors' side environment and the workers' niceness."""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlopsd.runtime.worker import WORKER_NICENESS
from tests.daemon_process import DaemonProcess

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT / ".venv-anchors"
"""The anchors' side environment (MLflow, Evidently): `scripts/bench --with-anchors`."""


def as_worker() -> None:
    """For a baseline's process (preexec_fn): the niceness the daemon's job workers run at,
    so both sides of a comparison get the CPU on the same terms."""
    os.nice(WORKER_NICENESS)


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


@functools.cache
def anchor_python(module: str) -> str | None:
    """The side environment's Python when it has `module`, else None ("not installed")."""
    python = ANCHORS / "bin" / "python"
    if not python.exists():
        return None
    found = subprocess.run([str(python), "-c", f"import importlib.util as u, sys; "
                            f"sys.exit(u.find_spec({module!r}) is None)"], check=False)
    return str(python) if found.returncode == 0 else None


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    text = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
              for r in text]
    return "\n".join(lines)


def run_python(code: str, *argv: str, worker_nice: bool = True) -> str:
    """Run code in a fresh interpreter (so its peak memory is its own), by default at the
    workers' niceness (it is the baseline of a job); return its stdout."""
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                            text=True, check=False, cwd=ROOT,
                            preexec_fn=as_worker if worker_nice else None)
    if result.returncode:
        raise RuntimeError(f"baseline failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout.strip()


def wait_for(predicate: Callable[[], object], timeout: float = 600, interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("benchmark condition not reached")


def daemon(home: Path, config: str) -> DaemonProcess:
    return DaemonProcess(home, config=config).start()


_STARTED = time.perf_counter()


def progress(what: str) -> None:
    """A line on stderr, so a long run shows where it is (the table goes to stdout)."""
    print(f"[{time.perf_counter() - _STARTED:6.1f} s, load {os.getloadavg()[0]:.2f}] {what}",
          file=sys.stderr, flush=True)
