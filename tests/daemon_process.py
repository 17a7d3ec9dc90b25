"""A real `mlopsd` subprocess on a temp home, for tests that use the daemon as users do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from mlopsd.client import Client
from mlopsd.home import Home, init_home

BIN = Path(sys.executable).parent


def mlopsd_cmd(home: Path, *args: str) -> list[str]:
    return [str(BIN / "mlopsd"), "--home", str(home), *args]


def mlops_cmd(home: Path, *args: str) -> list[str]:
    return [str(BIN / "mlops"), "--home", str(home), *args]


def run_mlops(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(mlops_cmd(home, *args), capture_output=True, text=True, timeout=timeout)


class DaemonProcess:
    def __init__(self, home: Path, *args: str, config: str | None = None,
                 out_path: Path | None = None) -> None:
        self.home = Home(home)
        self._out_path = out_path
        """Where its stdout and stderr go (default: HOME/run/mlopsd.out)."""
        self.args = args
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.client: Client | None = None

    def start(self, timeout: float = 30.0) -> DaemonProcess:
        init_home(self.home)
        if self.config is not None:
            self.home.config.write_text(self.config)
        # To a file, not a pipe: a pipe nobody reads fills up (64 KB) and the daemon's
        # writes to it block.
        self.out_path = self._out_path or self.home.root / "run" / "mlopsd.out"
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(
                mlopsd_cmd(self.home.root, "--port", "0", *self.args),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlopsd exited {self.proc.returncode}: {self.output()}")
            info = _read_json(self.home.daemon_json)
            if info and info.get("pid") == self.proc.pid:
                self.client = Client.from_home(self.home, actor="test")
                self.client.health()
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"mlopsd did not start in {timeout} s: {self.output()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.client:
            self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.client:
            self.client.close()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def output(self) -> str:
        """What the daemon printed so far (all its runs on this home)."""
        try:
            return self.out_path.read_text(errors="replace")
        except (AttributeError, OSError):
            return ""


def _read_json(path: Path) -> dict | None:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
