from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests import tui_home
from tests.daemon_process import DaemonProcess


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def daemon(home: Path) -> Iterator[DaemonProcess]:
    """A daemon of its own for a test that stops, kills or restarts it."""
    d = DaemonProcess(home).start()
    yield d
    d.kill()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon for a module of tests that only talk to it."""
    d = DaemonProcess(tmp_path_factory.mktemp("shared") / "home", "--workers", "2").start()
    yield d
    code = d.stop()
    assert code == 0, d.output()


@pytest.fixture(scope="module")
def filled(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tui_home.Filled]:
    """A daemon filled through the real paths for a module of TUI pilot tests (each module
    its own: their actions change what the daemon holds)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    d = DaemonProcess(tmp_path_factory.mktemp(name) / "home", config=tui_home.CONFIG).start()
    try:
        yield tui_home.fill(d)
    finally:
        d.kill()


BIKESHARE = Path(__file__).resolve().parents[1] / "examples/bikeshare/bikeshare-2011-hourly.csv"


@pytest.fixture(scope="session")
def bike() -> pl.DataFrame:
    """The bikeshare example with a timestamp (`ts`) and a binary target (`busy`)."""
    frame = pl.read_csv(BIKESHARE, schema_overrides={"hr": pl.Int64})
    start = dt.datetime(2011, 1, 1)
    return frame.with_columns(
        ts=pl.lit(start) + pl.duration(days=pl.col("day") - 1, hours=pl.col("hr")),
        busy=pl.col("bikers") > 150,
    )
