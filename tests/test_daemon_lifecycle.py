"""The daemon process: one per home, clean stops, crash recovery, refusals at start."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from mlopsd.home import Home, init_home
from store import jobs as job_repo
from store.db import open_store
from tests.daemon_process import DaemonProcess, mlopsd_cmd, pid_alive, wait_until


def start_fails(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(mlopsd_cmd(home, *args), capture_output=True, text=True, timeout=60)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mlopsd_initialises_a_missing_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    d = DaemonProcess(home)
    d.proc = None
    d.home = Home(home)
    # Start without init_home first: the daemon must create it.
    proc = subprocess.Popen(mlopsd_cmd(home, "--port", "0"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (home / "run" / "daemon.json").exists(), what="daemon.json")
        assert (home / "mlops.toml").is_file()
        assert (home / "token").stat().st_mode & 0o777 == 0o600
        for folder in ["inbox", "quarantine", "score", "outbox", "artifacts", "logs"]:
            assert (home / folder).is_dir(), folder
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_second_daemon_is_refused_naming_the_pid(daemon: DaemonProcess) -> None:
    second = start_fails(daemon.home.root)
    assert second.returncode == 1
    assert f"pid {daemon.pid}" in second.stderr
    assert "already running" in second.stderr
    assert daemon.client is not None and daemon.client.health().status == "ok"


def test_sigterm_exits_0_and_leaves_a_store_that_opens(daemon: DaemonProcess) -> None:
    assert daemon.client is not None
    job = daemon.client.submit_job("selfcheck")
    daemon.client.wait_job(job.id, timeout=60)
    assert daemon.stop() == 0
    assert not daemon.home.daemon_json.exists()
    store = open_store(daemon.home.db)
    assert job_repo.get_job(store, job.id).state == "succeeded"
    store.close()
    log_lines = (daemon.home.logs / "daemon.log").read_text().splitlines()
    assert all(orjson.loads(line)["level"] for line in log_lines), "JSON lines"
    assert any("stopped cleanly" in line for line in log_lines)


def test_kill_9_then_restart_requeues_the_interrupted_job(home: Path) -> None:
    d = DaemonProcess(home).start()
    assert d.client is not None
    job = d.client.submit_job("selfcheck", {"seconds": 2})
    running = wait_until(lambda: (j := d.client.get_job(job.id)).state == "running"
                         and j.worker_pid and j, what="job running")
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait(timeout=10)
    # The worker dies with the daemon, so nothing runs unrecorded.
    wait_until(lambda: not pid_alive(running.worker_pid), timeout=10, what="worker to die")
    assert home.joinpath("run", "daemon.json").exists(), "kill -9 leaves daemon.json behind"

    again = DaemonProcess(home).start()
    try:
        assert again.client is not None
        old = again.client.get_job(job.id)
        assert old.state == "interrupted"
        retry = again.client.list_jobs(kind="selfcheck")[0]
        assert retry.retry_of == job.id and retry.attempt == 2
        assert again.client.wait_job(retry.id, timeout=60).state == "succeeded"
    finally:
        assert again.stop() == 0


def test_a_crashing_worker_fails_its_job_and_the_daemon_lives_on(daemon: DaemonProcess) -> None:
    client = daemon.client
    assert client is not None
    for sig, name in [(signal.SIGSEGV, "SIGSEGV"), (signal.SIGKILL, "SIGKILL")]:
        job = client.submit_job("selfcheck", {"seconds": 60})
        running = wait_until(lambda j=job: (x := client.get_job(j.id)).worker_pid
                             and x.state == "running" and x, what="job running")
        os.kill(running.worker_pid, sig)
        done = client.wait_job(job.id, timeout=30)
        assert done.state == "failed"
        assert name in done.error and "without a result" in done.error
    assert client.wait_job(client.submit_job("selfcheck").id, timeout=60).state == "succeeded"


def test_stale_daemon_json_of_a_dead_pid_is_taken_over(home: Path) -> None:
    h = Home(home)
    init_home(h)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    h.daemon_json.write_bytes(orjson.dumps({"pid": dead.pid, "port": 1, "host": "127.0.0.1"}))
    d = DaemonProcess(home).start()
    try:
        assert d.client is not None and d.client.status().pid == d.pid
    finally:
        assert d.stop() == 0
    assert "taking over" in d.output()


def test_daemon_json_naming_a_live_mlopsd_is_refused(home: Path) -> None:
    h = Home(home)
    init_home(h)
    # A live process whose command line says mlopsd, as a daemon whose lock file was
    # deleted under it would look.
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "mlopsd"])
    try:
        h.daemon_json.write_bytes(orjson.dumps({"pid": impostor.pid, "port": 1}))
        result = start_fails(home)
        assert result.returncode == 1
        assert f"pid {impostor.pid}" in result.stderr
    finally:
        impostor.kill()
        impostor.wait()


def test_port_in_use_is_refused(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = start_fails(home, "--port", str(port))
    assert result.returncode == 4
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr
    assert not (home / "meta.duckdb").exists(), "a refused start touches no store"


def test_config_errors_name_file_line_and_key(home: Path) -> None:
    init_home(Home(home))
    (home / "mlops.toml").write_text("[daemon]\nport = 0\nworkerz = 2\n")
    result = start_fails(home)
    assert result.returncode == 2
    assert f"{home / 'mlops.toml'}:3: daemon.workerz: unknown key" in result.stderr
    (home / "mlops.toml").write_text("[daemon]\nport = = 1\n")
    result = start_fails(home)
    assert result.returncode == 2
    assert f"{home / 'mlops.toml'}:2" in result.stderr and "not valid TOML" in result.stderr
    assert not (home / "meta.duckdb").exists()


def test_corrupt_store_is_refused_and_untouched(home: Path) -> None:
    init_home(Home(home))
    (home / "meta.duckdb").write_bytes(os.urandom(64 * 1024))
    before = digest(home / "meta.duckdb")
    result = start_fails(home, "--port", "0")
    assert result.returncode == 3
    assert "not a DuckDB database" in result.stderr
    assert digest(home / "meta.duckdb") == before
    assert not (home / "run" / "daemon.json").exists()


def test_newer_schema_store_is_refused(home: Path) -> None:
    init_home(Home(home))
    store = open_store(home / "meta.duckdb")
    with store.transaction() as cur:
        cur.execute("INSERT INTO schema_version VALUES (999, 'future', now())")
    store.checkpoint()
    store.close()
    before = digest(home / "meta.duckdb")
    result = start_fails(home, "--port", "0")
    assert result.returncode == 3
    assert "newer than this mlops understands" in result.stderr
    assert digest(home / "meta.duckdb") == before


def test_unwritable_home_is_refused(tmp_path: Path) -> None:
    # /proc refuses new files even for root, which chmod cannot show.
    result = start_fails(Path("/proc/mlops-home-test"))
    assert result.returncode == 5
    assert "cannot create the home /proc/mlops-home-test" in result.stderr


def test_non_loopback_bind_needs_the_token_for_every_call(home: Path) -> None:
    d = DaemonProcess(home, "--host", "0.0.0.0").start()
    try:
        assert d.client is not None
        port = d.client.base_url.rsplit(":", 1)[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            refused = http.get("/api/v1/status")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
        assert d.client.status().auth == "all"
    finally:
        assert d.stop() == 0
    assert "plain HTTP: tokens and data cross the network in clear text" in d.output()

    home.joinpath("mlops.toml").write_text('[daemon]\ntls_terminator = "caddy on https://x"\n')
    d = DaemonProcess(home, "--host", "0.0.0.0", out_path=home / "second.out").start()
    try:
        assert d.client is not None and d.client.status().auth == "all"
    finally:
        assert d.stop() == 0
    assert "clear text" not in (home / "second.out").read_text()


def test_uptime_grows(daemon: DaemonProcess) -> None:
    assert daemon.client is not None
    first = daemon.client.status().uptime_s
    time.sleep(0.2)
    assert daemon.client.status().uptime_s > first


def test_jobs_run_under_a_temp_folder_too_long_for_the_workers_socket(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI runner's or pytest's TMPDIR can be longer than a Unix socket's path allows
    (107 bytes with what multiprocessing adds): every job failed with `AF_UNIX path too
    long` before the daemon fell back to a short temp folder."""
    long_tmp = tmp_path / ("t" * 90)
    long_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    d = DaemonProcess(home).start()
    try:
        assert d.client is not None
        job = d.client.wait_job(d.client.submit_job("selfcheck").id, timeout=60)
        assert job.state == "succeeded", job.error
        assert "too long a path for the job workers' socket" in (
            d.home.root / "logs" / "daemon.log").read_text()
    finally:
        d.kill()
