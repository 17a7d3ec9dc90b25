"""The `mlops` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson

from mlopsd.client.events import CATALOGUE
from tests.daemon_process import BIN, DaemonProcess, run_mlops


def test_init_creates_the_home_once(home: Path) -> None:
    first = run_mlops(home, "init")
    assert first.returncode == 0, first.stderr
    assert "initialised" in first.stdout
    assert (home / "token").stat().st_mode & 0o777 == 0o600
    text = (home / "mlops.toml").read_text()
    assert "[daemon]" in text and '# port = 8765' in text
    token = (home / "token").read_text()
    second = run_mlops(home, "init")
    assert "already initialised" in second.stdout
    assert (home / "token").read_text() == token


def test_no_daemon_gives_a_clear_message(home: Path) -> None:
    run_mlops(home, "init")
    result = run_mlops(home, "status")
    assert result.returncode == 1
    assert f"no daemon is running for {home}; start it with `mlopsd --home {home}`" in (
        result.stderr)
    assert "Traceback" not in result.stderr


def test_status_jobs_audit_and_json(daemon: DaemonProcess) -> None:
    home = daemon.home.root
    status = run_mlops(home, "status")
    assert status.returncode == 0, status.stderr
    assert f"pid {daemon.pid}" in status.stdout and "scheduler" in status.stdout
    as_json = orjson.loads(run_mlops(home, "status", "--json").stdout)
    assert as_json["pid"] == daemon.pid
    # --json before or after the command
    assert orjson.loads(run_mlops(home, "--json", "status").stdout)["pid"] == daemon.pid

    submitted = run_mlops(home, "jobs", "submit", "selfcheck", "-p", "seconds=0.5", "--wait",
                          "--json")
    assert submitted.returncode == 0, submitted.stderr
    job = orjson.loads(submitted.stdout)
    assert job["state"] == "succeeded" and job["params"] == {"seconds": 0.5}

    listing = run_mlops(home, "jobs")
    assert "selfcheck" in listing.stdout and "succeeded" in listing.stdout
    assert orjson.loads(run_mlops(home, "jobs", "list", "--json").stdout)[0]["id"] == job["id"]
    log = run_mlops(home, "jobs", "log", str(job["id"]))
    assert "trained, reproducible" in log.stdout
    kinds = orjson.loads(run_mlops(home, "jobs", "kinds", "--json").stdout)
    assert "selfcheck" in [k["name"] for k in kinds]
    audit = orjson.loads(run_mlops(home, "audit", "--json").stdout)
    assert {"job.submit", "daemon.start"} <= {e["action"] for e in audit}


def test_failures_exit_1_with_the_reason(daemon: DaemonProcess) -> None:
    home = daemon.home.root
    failed = run_mlops(home, "jobs", "submit", "selfcheck", "-p", "fail=no luck", "--wait")
    assert failed.returncode == 1
    assert "failed: no luck" in failed.stdout
    bad = run_mlops(home, "jobs", "submit", "selfcheck", "-p", "seconds=-1")
    assert bad.returncode == 1
    assert "seconds: must be between" in bad.stderr and "field: params.seconds" in bad.stderr
    missing = run_mlops(home, "jobs", "show", "4242")
    assert missing.returncode == 1 and "no job with id 4242" in missing.stderr


def test_mlops_home_env_stands_in_for_home(daemon: DaemonProcess) -> None:
    env = {**os.environ, "MLOPS_HOME": str(daemon.home.root)}
    result = subprocess.run([str(BIN / "mlops"), "status", "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["home"] == str(daemon.home.root)


def test_events_follow_with_timeout(daemon: DaemonProcess) -> None:
    result = run_mlops(daemon.home.root, "events", "--after", "0", "--timeout", "1", "--json")
    assert result.returncode == 0, result.stderr
    types = [orjson.loads(line)["type"] for line in result.stdout.splitlines()]
    assert "daemon.started" in types
    text = run_mlops(daemon.home.root, "events", "--after", "0", "--timeout", "1")
    started = next(line for line in text.stdout.splitlines() if " daemon.started " in line)
    assert f"pid={daemon.pid}" in started and "(audit #" in started, started


def test_events_list_prints_the_catalogue(tmp_path) -> None:
    result = run_mlops(tmp_path / "nowhere", "events", "--list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(CATALOGUE)
