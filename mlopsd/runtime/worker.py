"""The entry of a job's worker process: run one job, send back its result, exit.

Runs in a child of the forkserver, which preloads this module and the heavy libraries so a
job starts in milliseconds. The child dies with its parent (PR_SET_PDEATHSIG), so a job
never outlives a killed daemon; it reports over a pipe and never touches the store.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jobs.context import JobContext, JobError
from jobs.registry import KINDS
from store.artifacts import ArtifactStore

_PR_SET_PDEATHSIG = 1
WORKER_NICENESS = 10


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: the runner still reaps its children on a clean stop


def _job_logger(job_id: int, log_path: Path) -> logging.Logger:
    logger = logging.getLogger(f"mlops.job.{job_id}")
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def _usage() -> dict[str, float]:
    """CPU time and peak resident memory of this worker (the forkserver's preloaded
    libraries count in its resident memory, as they would in any process using them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"cpu_s": round(cpu, 3), "max_rss_mb": round(own.ru_maxrss / 1024, 1)}


def run_job(
    conn: Connection,
    job_id: int,
    kind: str,
    params: dict[str, Any],
    log_path: str,
    artifacts_root: str,
    home_root: str,
) -> None:
    _die_with_parent()
    # Jobs are background work: the daemon, which answers predictions, goes first when
    # both want the CPU (a training job on all cores doubled serving's p99 otherwise).
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        log = _job_logger(job_id, Path(log_path))
    except OSError as exc:
        # A read-only or full home: say so as the job's error (an exit without a result
        # would leave only "exited with code 1" to read).
        conn.send(("error", f"cannot open the job's log {log_path}: {exc}"))
        conn.close()
        return

    def emit(type: str, **data: Any) -> None:
        conn.send(("event", type, data))

    artifacts = ArtifactStore(Path(artifacts_root))
    ctx = JobContext(job_id=job_id, log=log, artifacts=artifacts, emit=emit,
                     home=Path(home_root))
    log.info("job %s (%s) started with %s", job_id, kind, params)
    try:
        result = KINDS[kind].load()(params, ctx)
    except JobError as exc:
        log.error("failed: %s", exc)
        conn.send(("usage", _usage()))
        conn.send(("error", str(exc)))
    except Exception as exc:
        log.error("failed with an unexpected error:\n%s", traceback.format_exc())
        conn.send(("usage", _usage()))
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        log.info("succeeded")
        conn.send(("usage", _usage()))
        conn.send(("result", result))
    finally:
        for handler in log.handlers:
            handler.flush()
        conn.close()
