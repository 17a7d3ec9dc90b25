"""Job worker processes: forked from a forkserver that has the heavy libraries (and the
jobs' own modules) loaded, started without the daemon's entry script, and, when one dies
without a result, told apart by how it died.

The runner owns the processes once started; this module only makes them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

log = logging.getLogger("mlops.runner")

_AF_UNIX_PATH_MAX = 107
_SOCKET_ROOM = 40
"""What multiprocessing adds to the temp folder for the forkserver's socket
(`/pymp-XXXXXXXX/listener-XXXXXXXX`), with some to spare."""

# Loaded once in the forkserver, so each job's fork starts with them imported (the jobs'
# own modules too: 13-28 ms of imports each that every ingest, training or drift paid).
PRELOAD = ["mlopsd.runtime.worker", "numpy", "polars", "lightgbm", "scipy.stats",
           "jobs.ingest.pipeline", "jobs.train.pipeline", "jobs.drift.job"]


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Job targets live in mlopsd.runtime.worker, never in __main__. Unless __main__ is hidden while
    a process starts, multiprocessing makes every child re-run the daemon's entry script
    (importing the whole HTTP stack: ~0.8 s) before its job can begin; with it, ~10 ms.
    (Preloading "__main__" in the forkserver would do it, but not on Python 3.11.)"""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _socket_fits_temp_dir() -> None:
    """The forkserver listens on a Unix socket in the temp folder, and a socket's path
    may not pass 107 bytes: under a long TMPDIR (a CI runner's or pytest's, 70+ characters)
    no worker could start and every job failed with `AF_UNIX path too long`. Python 3.12
    falls back to a system temp folder then; on 3.11 the daemon does so itself."""
    base = tempfile.gettempdir()
    if len(base) + _SOCKET_ROOM <= _AF_UNIX_PATH_MAX:
        return
    for fallback in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(fallback) and os.access(fallback, os.W_OK | os.X_OK):
            tempfile.tempdir = fallback
            log.warning("the temp folder %s is too long a path for the job workers' socket; "
                        "using %s", base, fallback)
            return
    log.error("the temp folder %s is too long a path for the job workers' socket, and no "
              "shorter one can be written: set TMPDIR to a shorter path", base)


class WorkerProcesses:
    def __init__(self) -> None:
        _socket_fits_temp_dir()
        self._ctx: Any = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)

    def warm_up(self) -> None:
        """Start the forkserver now, so the first job does not pay for its imports."""
        threading.Thread(target=_start_forkserver, name="forkserver-warmup",
                         daemon=True).start()

    def start(self, job_id: int, kind: str, params: dict[str, Any], log_path: Path,
              artifacts_root: Path, home_root: Path) -> tuple[BaseProcess, Connection]:
        """A running worker for one job and the end of the pipe it reports on; raises when
        no process could be started (nothing is left open then)."""
        from mlopsd.runtime.worker import run_job

        parent_conn, child_conn = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=run_job,
            name=f"mlops-job-{job_id}",
            args=(child_conn, job_id, kind, params, str(log_path), str(artifacts_root),
                  str(home_root)),
            daemon=True,
        )
        try:
            with _main_module_hidden():
                process.start()
        except BaseException:
            parent_conn.close()
            raise
        finally:
            child_conn.close()
        return process, parent_conn


def _start_forkserver() -> None:
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except Exception as exc:  # each job that starts says so again, as its error
        log.error("the job workers' forkserver could not start (%s): jobs will fail to "
                  "start until it can", exc)


def death_reason(exitcode: int | None) -> str:
    """Why a worker ended without a result, from its exit code."""
    if exitcode is None:
        return "the worker process did not exit"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else exitcode
        hint = {
            "SIGKILL": " (killed: out of memory, or from outside)",
            "SIGSEGV": " (segmentation fault in native code)",
            "SIGABRT": " (aborted by native code)",
            "SIGBUS": " (bus error in native code)",
        }.get(str(name), "")
        return f"the worker process died from {name}{hint} without a result"
    return f"the worker process exited with code {exitcode} without a result"
