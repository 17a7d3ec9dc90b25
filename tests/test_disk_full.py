"""A full disk: refusals say so (507), nothing is stuck, and everything goes on once space
returns, without a restart. The home lives on a small tmpfs that the test fills."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from tests import bikes
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import EXAMPLE

CONFIG = bikes_config(ingest="rescan_interval_s = 1")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB file system of its own (tmpfs; needs the right to mount, as CI has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


class Filler:
    """Takes every free byte of the disk but `leave`, until freed (`fill` again takes what
    a refused write gave back)."""

    def __init__(self, disk: Path, leave: int = 0) -> None:
        self.disk, self.leave, self.paths = disk, leave, []
        self.fill()

    def fill(self) -> None:
        path = self.disk / f"filler-{len(self.paths)}"
        self.paths.append(path)
        disk, leave = self.disk, self.leave
        with open(path, "wb") as out:
            chunk = b"\0" * (1 << 20)
            while True:
                free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - leave
                if free <= 0:
                    break
                try:
                    out.write(chunk[: min(len(chunk), free)])
                    out.flush()
                except OSError:
                    break

    def free(self) -> None:
        for path in self.paths:
            path.unlink()


def _start(disk: Path, tmp_path: Path) -> DaemonProcess:
    # Its output goes beside the disk, not on it: what it says on a full disk is the point.
    return DaemonProcess(disk / "home", config=CONFIG, out_path=tmp_path / "mlopsd.out").start()


def _auth(d: DaemonProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {d.home.read_token()}"}


def test_uploads_and_alias_moves_answer_507_and_work_once_space_returns(
        disk: Path, tmp_path: Path) -> None:
    d = _start(disk, tmp_path)
    try:
        assert d.client is not None
        first = bikes.log(d.client, bikes.train(leaves=7), "riders")
        second = bikes.log(d.client, bikes.train(leaves=15), "riders")
        d.client.promote("riders", first)
        month = tmp_path / "jan.csv"
        pl.read_csv(EXAMPLE).head(2000).write_csv(month)
        filler = Filler(disk)
        with httpx.Client(base_url=d.client.base_url, headers=_auth(d), timeout=30) as http:
            upload = http.post("/api/v1/datasets/bikes/files", params={"filename": "jan.csv"},
                               content=month.read_bytes())
            assert upload.status_code == 507, upload.text
            assert upload.json()["error"]["code"] == "disk_full"
            assert "disk" in upload.json()["error"]["message"]
            assert not (d.home.inbox / "bikes" / "jan.csv").exists(), "not acknowledged, not kept"
            assert not list((d.home.inbox / "bikes").glob(".upload-*")), "no temp left"
            filler.fill()
            # A small commit can still fit in the store log's last page: move back and forth
            # until the log must grow.
            live, refused = first, None
            for turn in range(200):
                target = second if live == first else first
                moved = http.post("/api/v1/models/riders/aliases/production",
                                  json={"version": target, "reason": f"turn {turn}"})
                if moved.status_code != 200:
                    refused = moved
                    break
                live = target
            assert refused is not None and refused.status_code == 507, refused and refused.text
            assert "full" in refused.json()["error"]["message"]
            assert d.client.get_model("riders").aliases["production"] == live
            assert http.get("/api/v1/health").status_code == 200
            for _ in range(60):  # refusals are logged: enough to outgrow the log's last page
                assert http.post("/api/v1/datasets/bikes/files",
                                 params={"filename": "jan.csv"},
                                 content=month.read_bytes()).status_code == 507
            wait_until(lambda: "logs/daemon.log cannot be written" in d.output(),
                       what="the log file's failure said on stderr")
            served = http.post("/v1/models/riders/predict", json={"rows": [
                bikes.frame(1).select(bikes.FEATURES).row(0, named=True)]})
            assert served.status_code == 200 and served.json()["version"] == live
            filler.free()
            upload = http.post("/api/v1/datasets/bikes/files", params={"filename": "jan.csv"},
                               content=month.read_bytes())
            assert upload.status_code == 202, upload.text
            moved = http.post("/api/v1/models/riders/aliases/production",
                              json={"version": first if live == second else second,
                                    "reason": "space is back"})
            assert moved.status_code == 200, moved.text
        wait_until(lambda: d.client.list_versions("bikes"), timeout=60, what="bikes@1")
    finally:
        d.stop()
    said = d.output()
    assert "refused POST /api/v1/datasets/bikes/files: the disk is full" in said, said[-3000:]
    assert "logs/daemon.log can be written again" in said, said[-3000:]


def test_a_job_whose_end_cannot_be_recorded_ends_once_space_returns(
        disk: Path, tmp_path: Path) -> None:
    d = _start(disk, tmp_path)
    try:
        assert d.client is not None
        busy = d.client.submit_job("selfcheck", {"seconds": 4})
        # Past its artifact (written at the start), the job only waits: its end is what the
        # full disk meets.
        wait_until(lambda: "trained, reproducible" in d.client.job_log(busy.id).text,
                   timeout=30, what="the job past its artifact")
        filler = Filler(disk)
        waiting = None
        with contextlib.suppress(Exception):
            waiting = d.client.submit_job("selfcheck")  # refused (507) while full
        # The worker ends; its end cannot be written: the job still reads running.
        wait_until(lambda: "cannot be recorded" in d.output(), timeout=30,
                   what="the end kept for later")
        assert d.client.get_job(busy.id).state == "running"
        pid = d.pid
        filler.free()
        done = d.client.wait_job(busy.id, timeout=30)
        assert done.state == "succeeded", done.error
        assert d.pid == pid and d.proc is not None and d.proc.poll() is None
        after = d.client.submit_job("selfcheck")
        assert d.client.wait_job(after.id, timeout=60).state == "succeeded"
        assert waiting is None or d.client.wait_job(waiting.id, timeout=60).state == "succeeded"
    finally:
        d.stop()


def test_a_drop_that_fills_the_disk_is_ingested_once_space_returns(
        disk: Path, tmp_path: Path) -> None:
    d = _start(disk, tmp_path)
    try:
        assert d.client is not None
        rows = pl.concat([pl.read_csv(EXAMPLE)] * 12)  # ~100,000 rows
        # a column that does not compress: the snapshot needs megabytes the disk lacks
        big = rows.with_columns(noise=pl.Series(np.random.default_rng(3).random(rows.height)))
        folder = d.home.inbox / "bikes"
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / ".big.csv.part"
        big.write_csv(staged)
        filler = Filler(disk, leave=256 << 10)  # room for the job's row, not its snapshot
        os.rename(staged, folder / "big.csv")
        wait_until(lambda: "ran out of disk space" in d.output()
                   or "cannot be recorded" in d.output(), timeout=60,
                   what="the ingest to run out of space")
        assert not d.client.list_versions("bikes")
        assert (folder / "big.csv").exists(), "the file waits in the inbox"
        filler.free()
        versions = wait_until(lambda: d.client.list_versions("bikes"), timeout=60,
                              what="bikes@1 once space is back")
        assert versions[0].n_rows == big.height
        wait_until(lambda: (folder / ".done" / "big.csv").exists(), timeout=30,
                   what="the original in .done/")
        assert not list(d.home.quarantine.rglob("*big.csv*")), "never quarantined"
    finally:
        d.stop()
