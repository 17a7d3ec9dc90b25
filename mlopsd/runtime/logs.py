"""Daemon logging: readable lines on stderr, JSON lines in logs/daemon.log (rotated)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson

LOG_QUEUE = 10_000
STOP_WAIT_S = 3.0


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(records)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.dropped:
            record.msg = f"({self.dropped} log records dropped before this one) {record.msg}"
        try:
            self.queue.put_nowait(record)
            self.dropped = 0
        except queue.Full:
            self.dropped += 1


class _Writer(threading.Thread):
    """The one thread that writes log records: if a handler blocks (a full pipe), only it
    waits."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None],
                 handlers: list[logging.Handler]) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.records, self.handlers = records, handlers

    def run(self) -> None:
        while (record := self.records.get()) is not None:
            for handler in self.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)

    def stop(self) -> None:
        """Write out what is queued, but never wait on a blocked handler for long."""
        with contextlib.suppress(queue.Full):
            self.records.put(None, timeout=STOP_WAIT_S)
        self.join(timeout=STOP_WAIT_S)


_writer: _Writer | None = None


def stop_logging() -> bool:
    """Write out what is queued (at exit). False when the writer is stuck on a blocked
    handler."""
    global _writer
    if _writer is None:
        return True
    _writer.stop()
    done = not _writer.is_alive()
    _writer = None
    return done


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class _LogFile(logging.handlers.RotatingFileHandler):
    """logs/daemon.log that says once, on stderr, when it cannot be written (a full disk),
    instead of a traceback per record; the records still reach stderr, which is written
    first."""

    failing = False

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if self.failing and self.stream is not None:
            self.failing = False
            sys.stderr.write("mlopsd: logs/daemon.log can be written again\n")

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failing:
            self.failing = True
            error = sys.exc_info()[1]
            sys.stderr.write(f"mlopsd: logs/daemon.log cannot be written ({error}); log "
                             "records go to stderr only until it can\n")
        # A failed write can leave the stream half-open: reopen on the next record.
        with contextlib.suppress(Exception):
            if self.stream is not None:
                self.stream.close()
        self.stream = None  # type: ignore[assignment]


def setup_daemon_logging(log_dir: Path, level: str, max_bytes: int, backups: int) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    to_file = _LogFile(
        log_dir / "daemon.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
        delay=True,
    )
    to_file.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    # Threads only put records on a bounded queue; one listener thread writes them. A
    # stderr nobody reads (a full pipe) once froze every thread that logged, and with
    # them the daemon; now the listener waits alone, and records beyond the queue are
    # dropped (counted on the next record that fits).
    records: queue.Queue[logging.LogRecord | None] = queue.Queue(LOG_QUEUE)
    root.addHandler(_DroppingQueueHandler(records))
    global _writer
    stop_logging()
    _writer = _Writer(records, [stderr, to_file])
    _writer.start()
    root.setLevel(level.upper())
    # Uvicorn's own handlers would print twice; its records flow to ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("apscheduler").setLevel("WARNING")
