"""`scripts/demo` stops as people stop it — Ctrl-C in its terminal (SIGINT to its process
group) or SIGTERM to the script — at once, with exit code 0, its daemon stopped cleanly and
none of its processes left behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.daemon_process import pid_alive, wait_until

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo"


def _processes_of(home: Path) -> list[int]:
    """Processes whose environment names this home (the demo exports MLOPS_HOME)."""
    marker = f"MLOPS_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_the_demo_stops_cleanly(tmp_path: Path, how: str) -> None:
    home = tmp_path / "home"
    out = tmp_path / "demo.out"
    env = {**os.environ, "MLOPS_HOME": str(home)}
    with open(out, "wb") as sink:
        demo = subprocess.Popen([str(DEMO)], env=env, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        # Stopped while a step runs in the foreground (the first job, then the drops).
        wait_until(lambda: b"== the daemon" in out.read_bytes(), timeout=180,
                   what="the demo's first step")
        daemon_pid = orjson.loads((home / "run" / "daemon.json").read_bytes())["pid"]
        if how == "ctrl-c":
            os.killpg(demo.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        else:
            demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    text = out.read_text(errors="replace")
    assert code == 0, text
    assert "demo stopped; the daemon stopped cleanly" in text
    assert not pid_alive(daemon_pid)
    assert not (home / "run" / "daemon.json").exists(), "the daemon's clean stop removes it"
    # The daemon's worker fork server ends when it sees the daemon gone, a moment later.
    wait_until(lambda: _processes_of(home) == [], timeout=30,
               what="no process of the demo left running")
