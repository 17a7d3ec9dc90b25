"""store/writable.py: the folder of the home an error says refused a write, judged by writing
there now. Real refusals: a read-only bind mount (needs the right to mount, as
tests/test_faults.py), met by Python's own file calls and by polars'."""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from store.writable import can_write, refused_path, unwritable_folder
from tests.test_faults import read_only


def _refusal(call: Callable[[], object]) -> OSError:
    with pytest.raises(OSError) as caught:
        call()
    return caught.value


def test_a_read_only_folder_inside_the_home_is_named_by_python_and_polars_errors(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = home / "artifacts" / "tmp"
    folder.mkdir(parents=True)
    with read_only(home / "artifacts"):
        made = _refusal(lambda: tempfile.mkstemp(dir=folder, suffix=".parquet"))
        assert made.errno == errno.EROFS
        written = _refusal(lambda: pl.DataFrame({"a": [1]}).write_parquet(folder / "x.parquet"))
        assert refused_path(made) == Path(made.filename)
        for error in (made, written, f"OSError: {made}", f"{type(written).__name__}: {written}"):
            assert refused_path(error) is not None, error
            assert unwritable_folder(error, home) == folder, error
        assert not can_write(folder) and not can_write(home / "artifacts")
        missing = _refusal(lambda: (home / "artifacts" / "sha256").mkdir())
        assert unwritable_folder(missing, home) == home / "artifacts", "its nearest folder"
        assert unwritable_folder(made, tmp_path / "elsewhere") is None, "not in that home"
    assert can_write(folder)
    assert unwritable_folder(made, home) is None, "writable again: not the cause any more"


def test_errors_that_are_not_a_refused_write_name_no_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    unreadable = PermissionError(errno.EACCES, "Permission denied", str(home / "jan.csv"))
    assert refused_path(unreadable) == home / "jan.csv"
    assert unwritable_folder(unreadable, home) is None, "the folder takes writes: a read refusal"
    full = OSError(errno.ENOSPC, "No space left on device", str(home / "x"))
    assert refused_path(full) is None and refused_path(f"OSError: {full}") is None
    assert refused_path("worker died from SIGKILL without a result") is None
    assert refused_path(None) is None
    quoted = OSError(errno.EROFS, "Read-only file system", str(home / "it's here"))
    assert refused_path(f"job failed: {quoted}") == home / "it's here"


def test_a_path_polars_cut_short_is_completed_with_the_home(tmp_path: Path) -> None:
    home = tmp_path / ("a-home-with-a-long-name-" * 3)
    folder = home / "artifacts" / "tmp"
    folder.mkdir(parents=True)
    whole = str(folder / "work-1.parquet")
    error = (f"ComputeError: Read-only file system (os error 30): ...{whole[-70:]} "
             "(set POLARS_VERBOSE=1 to see full path)")
    assert str(refused_path(error)).startswith("...")
    assert unwritable_folder(error, home) is None, "it takes writes"
    with read_only(home / "artifacts"):
        assert unwritable_folder(error, home) == folder
        assert unwritable_folder(error, tmp_path / "another") is None
