"""The one client code both servers are measured with (mlops and `mlflow models serve`):
plain `http.client` keep-alive connections, each in its own process when there are several
(so their CPU is not the server's or each other's GIL)."""

from __future__ import annotations

import http.client
import multiprocessing
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Target:
    """Where a server answers predictions, and the content type of its bodies."""

    base_url: str
    path: str
    content_type: str = "application/json"


def connect(base_url: str) -> http.client.HTTPConnection:
    host, port = base_url.split("//", 1)[1].rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=60)


def post(conn: http.client.HTTPConnection, path: str, body: bytes,
         content_type: str = "application/json") -> tuple[int, bytes]:
    conn.request("POST", path, body, {"content-type": content_type})
    response = conn.getresponse()
    return response.status, response.read()


def sequential_latency(target: Target, body: bytes, requests: int,
                       warmup: int = 200) -> np.ndarray:
    """Seconds of each of `requests` requests, one after another on one connection."""
    conn = connect(target.base_url)
    for _ in range(warmup):  # connection, caches, first-request paths
        post(conn, target.path, body, target.content_type)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status, reply = post(conn, target.path, body, target.content_type)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{target.path}: {status} {reply[:300]!r}")
    conn.close()
    return np.array(times)


def _client_loop(target: Target, body: bytes, seconds: float, out: Any) -> None:
    """One client process: requests back to back until the time is up."""
    conn = connect(target.base_url)
    for _ in range(20):
        post(conn, target.path, body, target.content_type)
    ok = failed = 0
    latencies = []
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = used.ru_utime + used.ru_stime
    deadline = time.perf_counter() + seconds
    while (now := time.perf_counter()) < deadline:
        try:
            status, _ = post(conn, target.path, body, target.content_type)
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = connect(target.base_url)
            continue
        latencies.append(time.perf_counter() - now)
        if status == 200:
            ok += 1
        else:
            failed += 1
    used = resource.getrusage(resource.RUSAGE_SELF)
    out.put((ok, failed, latencies, used.ru_utime + used.ru_stime - cpu_before))


def clients(target: Target, body: bytes, n: int, seconds: float
            ) -> tuple[float, int, np.ndarray, float]:
    """Requests per second, failures, latencies and the clients' own CPU seconds per
    request, of n client processes."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_client_loop, args=(target, body, seconds, out))
             for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = np.concatenate([np.array(r[2]) for r in results])
    cpu = sum(r[3] for r in results)
    return ok / seconds, failed, latencies, cpu / max(ok + failed, 1)


def median_request(target: Target, body: bytes, content_type: str, repeat: int) -> float:
    """Median seconds of one large request, `repeat` times on one connection."""
    conn = connect(target.base_url)
    status, reply = post(conn, target.path, body, content_type)  # warm-up
    if status != 200:
        raise RuntimeError(f"{target.path}: {status} {reply[:300]!r}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, reply = post(conn, target.path, body, content_type)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{target.path}: {status} {reply[:300]!r}")
    conn.close()
    return float(np.median(times))
