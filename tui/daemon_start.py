"""Find the home's daemon, or start one in the background (unless told not to)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlopsd.client import Client, MlopsError
from mlopsd.home import Home


@dataclass
class Found:
    running: bool
    started_pid: int | None = None
    message: str = ""


def daemon_answers(home: Home) -> bool:
    try:
        with Client.from_home(home, timeout=2.0) as client:
            client.health()
        return True
    except MlopsError:
        return False


def mlopsd_command(home: Home) -> list[str]:
    beside = Path(sys.executable).parent / "mlopsd"
    program = str(beside) if beside.exists() else (shutil.which("mlopsd") or "mlopsd")
    return [program, "--home", str(home.root)]


def ensure_daemon(home: Home, *, start: bool) -> Found:
    """A daemon for `home`: the one running, or one started now in the background (its
    output goes to HOME/logs/mlopsd-tui.out). Does not wait for it: the app connects when
    it answers and says so in its status bar."""
    if daemon_answers(home):
        return Found(True)
    if not start:
        return Found(False, message=f"no daemon is running for {home.root} (and --no-start "
                     f"was given); start it with `mlopsd --home {home.root}`")
    log_dir = home.root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "mlopsd-tui.out", "ab") as out:
        proc = subprocess.Popen(mlopsd_command(home), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=os.environ.copy())
    # Short: the status bar says it. The daemon's output goes to HOME/logs/mlopsd-tui.out.
    return Found(False, proc.pid, f"started mlopsd in the background (pid {proc.pid})")
