"""Moving dropped files within the home: to `.done/`, into quarantine, back to the inbox.

A move is a rename on one file system (atomic), followed by an fsync of both folders so the
move survives a power cut. Nothing is ever overwritten: a taken name gets a -2, -3… suffix.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from mlopsd.atomic import fsync_dir, write_bytes_atomic


def free_name(folder: Path, name: str) -> Path:
    candidate = folder / name
    if not candidate.exists() and not candidate.is_symlink():
        return candidate
    stem, dot, ext = name.partition(".")
    n = 2
    while True:
        candidate = folder / f"{stem}-{n}{dot}{ext}"
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
        n += 1


def move_into(path: Path, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = free_name(folder, name or path.name)
    os.rename(path, dest)
    fsync_dir(folder)
    if path.parent != folder:
        fsync_dir(path.parent)
    return dest


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def quarantine_file(path: Path, folder: Path, reason: bytes) -> Path:
    """Write the reason first, then move the file beside it: a crash in between leaves a
    reason without a file (removed at the next start), never a file without its reason."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = free_name(folder, f"{utc_stamp()}-{path.name}")
    reason_path = reason_path_of(dest)
    write_bytes_atomic(reason_path, reason)
    try:
        os.rename(path, dest)
    except BaseException:
        reason_path.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    fsync_dir(path.parent)
    return dest


def reason_path_of(quarantined: Path) -> Path:
    return quarantined.with_name(quarantined.name + ".reason.json")


def remove_orphan_reasons(quarantine_root: Path) -> int:
    """Reasons whose file never arrived (a crash between the two steps)."""
    removed = 0
    if not quarantine_root.is_dir():
        return 0
    for reason in quarantine_root.glob("*/*.reason.json"):
        if not reason.with_name(reason.name.removesuffix(".reason.json")).exists():
            reason.unlink(missing_ok=True)
            removed += 1
    return removed
