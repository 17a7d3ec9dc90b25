"""Daemon logging: readable lines on stderr, JSON lines in logs/daemon.log (rotated)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson


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


def setup_daemon_logging(log_dir: Path, level: str, max_bytes: int, backups: int) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    to_file = logging.handlers.RotatingFileHandler(
        log_dir / "daemon.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    to_file.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(stderr)
    root.addHandler(to_file)
    root.setLevel(level.upper())
    # Uvicorn's own handlers would print twice; its records flow to ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("apscheduler").setLevel("WARNING")
