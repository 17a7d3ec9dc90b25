"""Prediction traffic for the load suite: client processes (spawn, so their CPU is neither
the daemon's nor the test's GIL), each with its own keep-alive `http.client` connection,
paced and bounded in count and in time. Every request's send time, latency, status and the
version that answered are kept; the test cuts them into phases by its own timestamps
(`time.monotonic` is one clock for every process on Linux)."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.http_clients import connect, post

FAILURE_SAMPLES = 5
"""What the first few failures of each client said, for the assertion message."""


@dataclass(frozen=True)
class Pace:
    """How hard each client pushes, and the bounds that stop it whatever the test does."""

    per_client_rps: float
    max_seconds: float

    @property
    def max_requests(self) -> int:
        return int(self.per_client_rps * self.max_seconds * 1.2) + 100


def _client_loop(base_url: str, path: str, bodies: list[bytes], pace: Pace,
                 ready: Any, stop: Any, out: Any) -> None:
    """One client: a request every 1/rate seconds (never a burst to catch up after a slow
    answer) until told to stop, its time is up or its count is spent."""
    conn = connect(base_url)
    post(conn, path, bodies[0])  # the connection is open before the first phase starts
    ready.put(os.getpid())
    sent_at: list[float] = []
    latency: list[float] = []
    status: list[int] = []
    version: list[str] = []
    failures: list[str] = []
    interval = 1.0 / pace.per_client_rps
    started = time.monotonic()
    next_send = started
    while not stop.is_set() and len(sent_at) < pace.max_requests \
            and time.monotonic() - started < pace.max_seconds:
        pause = next_send - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        body = bodies[len(sent_at) % len(bodies)]
        t0 = time.monotonic()
        try:
            code, reply = post(conn, path, body)
            answered_by = orjson.loads(reply).get("version", "") if code == 200 else ""
        except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:
            code, reply, answered_by = 0, repr(exc).encode(), ""
            conn.close()
            conn = connect(base_url)
        sent_at.append(t0)
        latency.append(time.monotonic() - t0)
        status.append(code)
        version.append(answered_by)
        if code != 200 and len(failures) < FAILURE_SAMPLES:
            failures.append(f"{code} {reply[:200]!r}")
        next_send = max(next_send + interval, time.monotonic())
    conn.close()
    out.put({"sent_at": sent_at, "latency": latency, "status": status, "version": version,
             "failures": failures})


@dataclass
class Requests:
    """Every request of every client, in arrays of the same length."""

    sent_at: np.ndarray
    latency_s: np.ndarray
    status: np.ndarray
    version: np.ndarray
    failure_samples: list[str]

    @property
    def failed(self) -> np.ndarray:
        return self.status != 200


class Clients:
    """N client processes: `start` returns once each has its connection open."""

    def __init__(self, base_url: str, path: str, bodies: list[bytes], n: int,
                 pace: Pace) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._ready, self._out, self._stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self._procs = [ctx.Process(target=_client_loop, daemon=True,
                                   args=(base_url, path, bodies, pace, self._ready,
                                         self._stop, self._out))
                       for _ in range(n)]
        self.pace = pace

    def start(self, timeout: float = 60.0) -> Clients:
        for proc in self._procs:
            proc.start()
        for _ in self._procs:
            self._ready.get(timeout=timeout)
        return self

    def stop(self) -> Requests:
        """Stop them and gather what they recorded (the queue is read before joining: a
        child does not exit while its results sit in a pipe nobody reads)."""
        self._stop.set()
        results = [self._out.get(timeout=60) for _ in self._procs]
        for proc in self._procs:
            proc.join(timeout=30)
        return Requests(
            sent_at=np.concatenate([np.array(r["sent_at"], dtype=float) for r in results]),
            latency_s=np.concatenate([np.array(r["latency"], dtype=float) for r in results]),
            status=np.concatenate([np.array(r["status"], dtype=int) for r in results]),
            version=np.concatenate([np.array(r["version"], dtype=object) for r in results]),
            failure_samples=[f for r in results for f in r["failures"]])

    def kill(self) -> None:
        """After a failed test: nothing of ours is left running."""
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


@dataclass
class Timeline:
    """Phases one after another, by the monotonic time each began; the 1-minute load
    average is read as each one ends (this machine is shared: the figures need it)."""

    marks: list[tuple[str, float]] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    ended: float | None = None

    def begin(self, name: str) -> None:
        if self.marks:
            self.loads.append(os.getloadavg()[0])
        self.marks.append((name, time.monotonic()))

    def end(self) -> None:
        self.loads.append(os.getloadavg()[0])
        self.ended = time.monotonic()

    def phase_of(self, sent_at: np.ndarray) -> np.ndarray:
        """Index of the phase each request was sent in (-1: before the first); requests
        sent after the end count in the last phase."""
        starts = np.array([t for _, t in self.marks])
        return np.searchsorted(starts, sent_at, side="right") - 1


@dataclass(frozen=True)
class PhaseFigures:
    name: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    load1: float
    versions: dict[str, int]


def per_phase(timeline: Timeline, requests: Requests) -> list[PhaseFigures]:
    index = timeline.phase_of(requests.sent_at)
    figures = []
    for i, (name, _) in enumerate(timeline.marks):
        mine = index == i
        latency_ms = requests.latency_s[mine] * 1000
        served, counts = np.unique(requests.version[mine & ~requests.failed],
                                   return_counts=True)
        figures.append(PhaseFigures(
            name=name, requests=int(mine.sum()), failures=int(requests.failed[mine].sum()),
            p50_ms=float(np.percentile(latency_ms, 50)) if latency_ms.size else float("nan"),
            p99_ms=float(np.percentile(latency_ms, 99)) if latency_ms.size else float("nan"),
            load1=timeline.loads[i], versions=dict(zip(served, counts.tolist(), strict=True))))
    return figures


def table(figures: list[PhaseFigures]) -> str:
    lines = [f"{'phase':<10} {'requests':>8} {'failures':>8} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'load1':>6}  versions served"]
    for f in figures:
        served = ", ".join(f"{v}: {n}" for v, n in sorted(f.versions.items()))
        lines.append(f"{f.name:<10} {f.requests:>8} {f.failures:>8} {f.p50_ms:>8.2f} "
                     f"{f.p99_ms:>8.2f} {f.load1:>6.2f}  {served}")
    return "\n".join(lines)


def rss_mb(pid: int) -> float:
    """The process's resident set (VmRSS) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def slope_mb_per_min(times_s: np.ndarray, rss: np.ndarray) -> float:
    """Least-squares slope of RSS against time, in MiB per minute."""
    slope, _ = np.polyfit(times_s / 60, rss, 1)
    return float(slope)
