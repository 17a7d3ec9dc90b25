"""Shared by the benchmarks: medians, tables, a daemon on a temp home, child processes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.daemon_process import DaemonProcess


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


def run_python(code: str) -> str:
    """Run code in a fresh interpreter (so its peak memory is its own); return its stdout."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
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
