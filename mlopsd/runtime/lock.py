"""One daemon per home: an exclusive flock on run/daemon.lock, plus run/daemon.json.

The kernel drops a flock when its holder dies, so a crashed daemon never blocks the next
one. daemon.json is checked too: a live `mlopsd` named there means someone removed the lock
file under a running daemon, and starting a second one would corrupt the store.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import orjson


class LockHeld(Exception):
    def __init__(self, home: Path, pid: int | None) -> None:
        self.pid = pid
        if pid:
            message = (
                f"another mlopsd (pid {pid}) is already running for {home}; "
                f"stop it first (kill -TERM {pid})"
            )
        else:
            message = f"another process holds the daemon lock of {home}"
        super().__init__(message)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_mlopsd(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _pid_alive(pid)
    return b"mlopsd" in cmdline


def read_daemon_json(path: Path) -> dict | None:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


@dataclass
class DaemonLock:
    lock_path: Path
    daemon_json: Path
    home: Path
    _fd: int | None = None
    took_over_from: int | None = None

    def acquire(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise LockHeld(self.home, int(holder) if holder.isdigit() else None) from None
        previous = read_daemon_json(self.daemon_json)
        if previous and isinstance(previous.get("pid"), int) and previous["pid"] != os.getpid():
            pid = previous["pid"]
            if _pid_alive(pid) and _is_mlopsd(pid):
                os.close(fd)
                raise LockHeld(self.home, pid)
            self.took_over_from = pid
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        self.daemon_json.unlink(missing_ok=True)
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
