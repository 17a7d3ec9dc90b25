"""The home is private whatever the umask: the home 0700, and every file the daemon and its
workers write (the store, which holds logged prediction inputs; logs; artifacts; snapshots;
outputs) readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl

from mlopsd.home import Home, init_home
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import EXAMPLE

CONFIG = bikes_config(rounds=20)


def _open_to_others(root: Path) -> list[str]:
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or path.name == "mlopsd.out":  # the test's capture of stdout
            continue
        if mode & 0o077:
            loose.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return loose


def test_everything_in_the_home_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = Home(tmp_path / "home")
        init_home(home)
        # A home made by an earlier release, or by hand, open to others.
        os.chmod(home.root, 0o755)
        os.chmod(home.config, 0o644)
        os.chmod(home.inbox, 0o777)
        d = DaemonProcess(home.root, config=CONFIG).start()
    finally:
        os.umask(old)
    try:
        assert d.client is not None
        month = tmp_path / "jan.csv"
        pl.read_csv(EXAMPLE).head(3000).write_csv(month)
        d.client.upload("bikes", month)
        wait_until(lambda: d.client.list_versions("bikes"), timeout=60, what="bikes@1")
        job = d.client.wait_job(d.client.train("riders").id, timeout=300)
        assert job.state == "succeeded", job.error
        version = d.client.get_model("riders").latest
        assert version is not None
        d.client.promote("riders", version)
        row = pl.read_csv(EXAMPLE).head(1).drop("casual", "registered", "bikers").to_dicts()
        d.client.predict("riders", row)
    finally:
        assert d.stop() == 0
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.db.stat().st_mode) & 0o077 == 0
    assert list(home.artifacts.rglob("sha256/*/*")), "snapshots and models were written"
    assert list(home.job_logs.iterdir()) and (home.logs / "daemon.log").exists()
    assert _open_to_others(home.root) == []
