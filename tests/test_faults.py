"""Faults around a running daemon (issue 14, "Faults"): the home turning read-only, a model
artifact deleted behind the daemon's back, a worker killed in the middle of a training or an
ingest, alert hooks that hang. Each gives a clear error or alert, loses nothing, and leaves
the daemon up. (A full disk: tests/test_disk_full.py; a corrupt artifact at start:
tests/test_corrupt_artifact.py; hooks that fail fast: tests/test_hooks.py.)

The read-only home is a read-only bind mount laid over the folder while the daemon runs, so
every path opened afterwards meets EROFS, as after `mount -o remount,ro` (which a busy file
system refuses). Running as root ignores `chmod`, so it needs the right to mount."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import polars as pl
import pytest

from mlopsd.client.errors import ApiError
from mlopsd.client.wire.monitoring import AlertOut
from tests import bikes
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, pid_alive, wait_until
from tests.test_ingest_daemon import EXAMPLE

READ_ONLY = "Read-only file system"


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only for everyone (root too) until the block ends."""
    made = subprocess.run(["mount", "--bind", str(folder), str(folder)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {made.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)],
                            capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot make a bind mount read-only here: {ro.stderr.strip()}")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _auth(d: DaemonProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {d.home.read_token()}"}


def _up(d: DaemonProcess) -> None:
    assert d.proc is not None and d.proc.poll() is None, d.output()[-3000:]
    assert d.client is not None and d.client.health().status == "ok"


def _drop(d: DaemonProcess, dataset: str, name: str, text: str | bytes) -> Path:
    """As upstream systems do: written under a temp name beside, then renamed in."""
    folder = d.home.inbox / dataset
    folder.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / f".{dataset}-{name}.part"
    staged.write_bytes(text.encode() if isinstance(text, str) else text)
    os.rename(staged, folder / name)
    return folder / name


def _model_versions(d: DaemonProcess, model: str) -> list[str]:
    assert d.client is not None
    try:
        return [v.version for v in d.client.model_versions(model)]
    except ApiError as exc:
        assert exc.status == 404, exc  # no version registered yet
        return []


def _month(tmp_path: Path, rows: int = 800) -> Path:
    path = tmp_path / "jan.csv"
    pl.read_csv(EXAMPLE).head(rows).write_csv(path)
    return path


# --- (a) the home turns read-only ---------------------------------------------------------


def test_a_read_only_home_makes_jobs_wait_saying_why_and_they_run_once_writable(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config(rounds=5)).start()
    try:
        assert d.client is not None
        with read_only(d.home.root):
            job = d.client.submit_job("selfcheck")
            alert = wait_until(lambda: _home_alert(d), timeout=60,
                               what="the home_not_writable alert")
            _says_not_writable(alert, d, d.home.job_logs)
            waiting = d.client.get_job(job.id)
            assert waiting.state == "queued" and waiting.attempt == 2, waiting
            assert READ_ONLY in (waiting.error or "") and "logs/jobs" in (waiting.error or ""), \
                waiting.error
            later = d.client.submit_job("selfcheck")
            _up(d)
            assert d.client.get_job(job.id).state == "queued", "reads still answer; it waits"
        done = d.client.wait_job(job.id, timeout=60)
        assert done.state == "succeeded", done.error
        after = d.client.wait_job(later.id, timeout=60)
        assert after.state == "succeeded", after.error
        assert after.attempt == 1, "a job queued meanwhile did not start while the home refused"
        _resolved(d, alert.id)
        _up(d)
    finally:
        assert d.stop() == 0


def test_an_upload_into_a_read_only_home_is_refused_saying_why(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config()).start()
    try:
        month = _month(tmp_path)
        with read_only(d.home.root), httpx.Client(base_url=d.client.base_url,
                                                   headers=_auth(d), timeout=30) as http:
            refused = http.post("/api/v1/datasets/bikes/files", params={"filename": "jan.csv"},
                                content=month.read_bytes())
            _up(d)
            assert refused.status_code == 503, refused.text
            assert "read-only" in refused.json()["error"]["message"].lower(), refused.text
            assert "nothing was stored" in refused.json()["error"]["message"], refused.text
    finally:
        d.kill()


def test_a_training_into_read_only_artifacts_waits_and_trains_once_writable(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config(rounds=5)).start()
    try:
        assert d.client is not None
        d.client.upload("bikes", _month(tmp_path))
        wait_until(lambda: d.client.list_versions("bikes"), timeout=60, what="bikes@1")
        with read_only(d.home.artifacts):
            job = d.client.train("riders")
            alert = wait_until(lambda: _home_alert(d), timeout=120,
                               what="the home_not_writable alert")
            _says_not_writable(alert, d, d.home.artifacts)
            waiting = d.client.get_job(job.id)
            assert waiting.state == "queued", waiting
            assert READ_ONLY in (waiting.error or ""), waiting.error
            assert _model_versions(d, "riders") == []
            _up(d)
        trained = d.client.wait_job(job.id, timeout=120)
        assert trained.state == "succeeded", trained.error
        assert trained.attempt == 2
        assert _model_versions(d, "riders") == ["1.0.0"]
        _resolved(d, alert.id)
    finally:
        assert d.stop() == 0


def test_a_drop_while_artifacts_are_read_only_waits_and_is_ingested_once_writable(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home",
                      config=bikes_config(ingest="rescan_interval_s = 1")).start()
    try:
        assert d.client is not None
        month = _month(tmp_path)
        with read_only(d.home.artifacts):
            dropped = _drop(d, "bikes", "jan.csv", month.read_bytes())
            alert = wait_until(lambda: _home_alert(d), timeout=60,
                               what="the ingest to meet the read-only folder")
            _says_not_writable(alert, d, d.home.artifacts)
            [ingest] = d.client.list_jobs(kind="ingest")
            assert ingest.state == "queued" and ingest.attempt == 2, ingest
            _up(d)
            assert d.client.quarantine() == [], "the file is not at fault"
            assert dropped.read_bytes() == month.read_bytes(), "it waits in the inbox"
        versions = wait_until(lambda: d.client.list_versions("bikes"), timeout=60,
                              what="bikes@1 once writable")
        assert versions[0].n_rows == 800
        ran = d.client.wait_job(ingest.id, timeout=30)  # its version commits before it ends
        assert ran.state == "succeeded" and ran.attempt == 2, "the same job, run again"
        _resolved(d, alert.id)
    finally:
        d.kill()


def test_a_home_alert_left_open_by_a_stop_is_judged_again_at_start(tmp_path: Path) -> None:
    config = bikes_config(ingest="rescan_interval_s = 1")
    d = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        assert d.client is not None
        with read_only(d.home.artifacts):
            _drop(d, "bikes", "jan.csv", _month(tmp_path).read_bytes())
            alert = wait_until(lambda: _home_alert(d), timeout=60, what="the alert")
            assert d.stop() == 0
    finally:
        d.kill()
    d = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        assert d.client is not None
        _resolved(d, alert.id)
        versions = wait_until(lambda: d.client.list_versions("bikes"), timeout=60,
                              what="bikes@1 after the restart")
        assert versions[0].n_rows == 800
    finally:
        assert d.stop() == 0


def _home_alert(d: DaemonProcess) -> AlertOut | None:
    assert d.client is not None
    found = d.client.alerts(state="active", rule="home_not_writable")
    return found[0] if found else None


def _says_not_writable(alert: AlertOut, d: DaemonProcess, folder: Path) -> None:
    """The alert names the folder (or one inside it: `artifacts/tmp/`) and why."""
    assert "the home is not writable" in alert.message, alert.message
    assert str(folder) in alert.message and READ_ONLY in alert.message, alert.message
    named = Path(alert.detail["folder"])
    assert named.is_relative_to(folder), alert.detail
    assert alert.subject == f"home:{named.relative_to(d.home.root).as_posix()}", alert.subject


def _resolved(d: DaemonProcess, alert_id: int) -> None:
    assert d.client is not None
    wait_until(lambda: d.client.get_alert(alert_id).state == "resolved", timeout=30,
               what="the home_not_writable alert resolved")
    assert "can be written again" in (d.client.get_alert(alert_id).note or "")


# --- (b) an artifact deleted behind the daemon's back -------------------------------------


def test_a_deleted_model_artifact_is_named_by_verify_and_refused_when_served(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config()).start()
    try:
        assert d.client is not None
        live = bikes.log(d.client, bikes.train(leaves=7), "riders")
        other = bikes.log(d.client, bikes.train(leaves=15), "riders")
        d.client.promote("riders", live)
        assert d.client.verify_home().ok
        sha = d.client.model_version("riders", other).artifact_sha
        (d.home.artifacts / "sha256" / sha[:2] / sha).unlink()

        checked = d.client.verify_home()
        assert not checked.ok
        said = orjson.dumps(checked.model_dump(mode="json")).decode()
        assert f"riders:{other}" in said or f"riders {other}" in said, said
        assert "missing" in said, said

        row = bikes.frame(1).select(bikes.FEATURES).row(0, named=True)
        with httpx.Client(base_url=d.client.base_url, headers=_auth(d), timeout=30) as http:
            pinned = http.post(f"/v1/models/riders/versions/{other}/predict",
                               json={"rows": [row]})
            assert 400 <= pinned.status_code < 600 and pinned.status_code != 500, pinned.text
            message = pinned.json()["error"]["message"]
            assert other in message and "missing" in message, message
            served = http.post("/v1/models/riders/predict", json={"rows": [row]})
            assert served.status_code == 200 and served.json()["version"] == live, served.text
        _up(d)
    finally:
        assert d.stop() == 0


# --- (c) a worker killed in the middle of its job -----------------------------------------


def _kill_worker_when_running(d: DaemonProcess, job_id: int, when: str) -> int:
    assert d.client is not None
    running = wait_until(lambda: (j := d.client.get_job(job_id)).state == "running"
                         and j.worker_pid and when in d.client.job_log(job_id).text and j,
                         timeout=120, interval=0.02, what=f"job {job_id} at '{when}'")
    os.kill(running.worker_pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(running.worker_pid), what="the worker to die")
    return running.worker_pid


def test_a_training_whose_worker_is_killed_fails_saying_so_and_stores_no_version(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config(rounds=3000)).start()
    try:
        assert d.client is not None
        d.client.upload("bikes", _month(tmp_path, rows=8000))
        wait_until(lambda: d.client.list_versions("bikes"), timeout=60, what="bikes@1")
        job = d.client.train("riders")
        _kill_worker_when_running(d, job.id, "")
        done = d.client.wait_job(job.id, timeout=60)
        assert done.state == "failed"
        assert "SIGKILL" in (done.error or "") and "without a result" in (done.error or ""), \
            done.error
        assert _model_versions(d, "riders") == []
        assert not list((d.home.artifacts / "tmp").glob("*")), "no half-written artifact"
        _up(d)
    finally:
        assert d.stop() == 0


def test_an_ingest_whose_worker_is_killed_is_run_again_and_stored_once(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=bikes_config()).start()
    try:
        assert d.client is not None
        big = pl.concat([pl.read_csv(EXAMPLE)] * 12)  # ~100,000 rows: a second or more
        data = big.write_csv().encode()
        dropped = _drop(d, "bikes", "big.csv", data)
        first = wait_until(lambda: d.client.list_jobs(kind="ingest"), interval=0.02,
                           what="the ingest job")[0]
        _kill_worker_when_running(d, first.id, "ingest")
        killed = d.client.wait_job(first.id, timeout=60)
        assert killed.state == "failed" and "SIGKILL" in (killed.error or ""), killed.error
        versions = wait_until(lambda: d.client.list_versions("bikes"), timeout=120,
                              what="the ingest run again")
        assert [(v.version, v.n_rows) for v in versions] == [(1, big.height)]
        # The original moves to .done/ after its version commits: wait for the move.
        wait_until(lambda: not dropped.exists(), timeout=30, what="the original moved")
        assert (d.home.inbox / "bikes" / ".done" / "big.csv").read_bytes() == data
        assert d.client.quarantine() == []
        _up(d)
    finally:
        assert d.stop() == 0


# --- (d) alert hooks that hang -------------------------------------------------------------


class _HangingServer:
    """Accepts connections on loopback and then says nothing (`trickle`: one byte of a
    never-ending status line every 0.3 s, so no single read ever times out)."""

    def __init__(self, trickle: bool = False) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.trickle, self.accepted, self.held = trickle, 0, []
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self.accepted += 1
            self.held.append(conn)
            if self.trickle:
                threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            for byte in b"HTTP/1.1 200 OK" + b"X" * 10_000:
                if self.stopped.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(0.3)

    def close(self) -> None:
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def _hook_config(tmp_path: Path, lines: Path, hooks: str) -> str:
    return f"""\
[ingest]
settle_s = 0.2

[[hook]]
kind = "file"
target = "{lines}"

{hooks}
"""


def _alerts_keep_flowing(d: DaemonProcess, lines: Path, datasets: list[str]) -> list[float]:
    """Drops a broken file into each dataset's inbox, one after the other: each opens an
    alert of its own, which the file hook must get. Returns the health calls' seconds."""
    assert d.client is not None
    latencies = []
    for n, dataset in enumerate(datasets):
        _drop(d, dataset, "broken.csv", "a,b\n1,2,3\n")
        deadline = time.monotonic() + 30
        while not (lines.exists() and len(lines.read_text().splitlines()) > n):
            assert time.monotonic() < deadline, f"alert {n + 1} never reached the file hook"
            started = time.monotonic()
            d.client.health()
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
    got = [orjson.loads(line) for line in lines.read_text().splitlines()]
    assert [g["subject"] for g in got] == [f"dataset:{ds}" for ds in datasets]
    return latencies


def test_a_webhook_and_a_command_that_hang_are_timed_out_and_later_alerts_go_out(
        tmp_path: Path) -> None:
    server = _HangingServer()
    lines = tmp_path / "alerts.jsonl"
    config = _hook_config(tmp_path, lines, f"""\
[[hook]]
kind = "webhook"
target = "http://127.0.0.1:{server.port}/alerts"
timeout_s = 1
retries = 1

[[hook]]
kind = "command"
target = "sleep 30"
timeout_s = 1
retries = 0
""")
    d = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        latencies = _alerts_keep_flowing(d, lines, ["first", "second", "third"])
        assert max(latencies) < 1.0, f"the daemon stalled: {max(latencies):.2f} s"
        log = d.home.logs / "daemon.log"
        wait_until(lambda: log.read_text().count("given up") >= 6, timeout=60,
                   what="each hanging delivery given up")
        said = log.read_text()
        assert "webhook" in said and "timed out" in said.lower(), said[-3000:]
        assert "sleep 30" in said and "timed out after 1" in said.lower(), said[-3000:]
        assert server.accepted >= 6, "each webhook delivery was tried twice"
        _up(d)
    finally:
        assert d.stop() == 0
        server.close()


def test_a_webhook_that_answers_one_byte_at_a_time_is_cut_off_at_its_timeout(
        tmp_path: Path) -> None:
    server = _HangingServer(trickle=True)
    lines = tmp_path / "alerts.jsonl"
    config = _hook_config(tmp_path, lines, f"""\
[[hook]]
kind = "webhook"
target = "http://127.0.0.1:{server.port}/alerts"
timeout_s = 1
retries = 0
""")
    d = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        _alerts_keep_flowing(d, lines, ["first", "second"])
        log = d.home.logs / "daemon.log"
        wait_until(lambda: log.read_text().count("given up") >= 2, timeout=30,
                   what="both trickling deliveries given up")
        _up(d)
    finally:
        assert d.stop() == 0
        server.close()
