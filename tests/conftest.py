from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
