"""Telling a folder of the home that cannot be written from a failure of one's own.

A write refused by the file system — read-only (EROFS: a mount gone read-only), or not
permitted (EACCES, EPERM: an owner or mode changed) — is not the fault of the file or the job
that met it. `unwritable_folder` finds the folder an error names and judges it by writing
there now (a temp file made and removed), so a refused *read* of a file (EACCES on an
unreadable drop) or a folder writable again by the time it is asked is not mistaken for it.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path

REFUSED = (errno.EROFS, errno.EACCES, errno.EPERM)
"""The errors of a file system that refuses a write (rather than lacking space for it)."""

# Python's OSError text: "[Errno 30] Read-only file system: '/home/artifacts/tmp/x'" (the
# path as a repr; a second path after " -> " for a rename). Rust's (polars): "Read-only file
# system (os error 30): /home/artifacts/tmp/x", a path over ~90 characters cut to its end:
# "...me/artifacts/tmp/x (set POLARS_VERBOSE=1 to see full path)".
_PYTHON_TEXT = re.compile(r"\[Errno (\d+)\] [^:\n]*: ('(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")")
_RUST_TEXT = re.compile(r"\(os error (\d+)\): ([^\n]+?)(?: \(set POLARS_VERBOSE=1[^)]*\))?$",
                        re.MULTILINE)
CUT = "..."
"""How polars begins a path it shortened to its last characters."""


def refused_path(error: BaseException | str | None) -> Path | None:
    """The path an error (or a job's error text) says a write to was refused (EROFS, EACCES,
    EPERM), looking through the causes an exception carries; None when it names none. A path
    polars cut short begins with `CUT` (`unwritable_folder` completes it)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, str):
            return _path_in_text(error)
        if isinstance(error, OSError) and error.errno in REFUSED and error.filename:
            return Path(os.fsdecode(error.filename))
        found = _path_in_text(str(error))
        if found is not None:
            return found
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def unwritable_folder(error: BaseException | str | None, home: Path) -> Path | None:
    """The folder inside `home` that `error` says refused a write and that still refuses
    one now; None when the error names no such path, or the folder takes writes."""
    path = refused_path(error)
    if path is not None and str(path).startswith(CUT):
        path = _completed(str(path)[len(CUT):], home)
    if path is None:
        return None
    folder = Path(os.path.abspath(path))
    if not os.path.isdir(folder):
        folder = folder.parent  # the file that could not be made, or a folder not made
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    if not Path(os.path.realpath(folder)).is_relative_to(os.path.realpath(home)):
        return None
    return None if can_write(folder) else folder


def can_write(folder: Path) -> bool:
    """Whether a file can be made in `folder` now (one is made and removed)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def _path_in_text(text: str) -> Path | None:
    for match in _PYTHON_TEXT.finditer(text):
        if int(match.group(1)) in REFUSED:
            with contextlib.suppress(ValueError, SyntaxError):
                return Path(ast.literal_eval(match.group(2)))
    for match in _RUST_TEXT.finditer(text):
        if int(match.group(1)) in REFUSED:
            return Path(match.group(2).strip())
    return None


def _completed(end: str, home: Path) -> Path | None:
    """A path polars cut to its `end`, whole again when it lies in `home`: the end begins
    with the last characters of the home's path (the longest such start is taken)."""
    root = str(home).rstrip("/") + "/"
    for start in range(len(end), 0, -1):
        if end[start - 1] == "/" and root.endswith(end[:start]):
            return Path(root + end[start:])
    return None
