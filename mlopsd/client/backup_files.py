"""The client's side of backups: unpack the daemon's tar stream into a folder, checking every
file against the manifest that ends it, and make a new home from such a folder (`mlops
restore`, no daemon needed). Plain files only: the client never opens the store.

Both write into a hidden sibling folder and rename it into place at the end, so a backup or
a restore cut off half-way leaves no folder that looks whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from mlopsd.atomic import fsync_dir
from mlopsd.home import Home, init_home

MANIFEST = "manifest.json"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup folder or stream that is not whole; the message says what and where."""


class _Chunks:
    """A read()-able view of an iterator of byte chunks (what tarfile's stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the backup stream names {name!r}, outside its folder")
    return path



def _check_new(dest: Path, what: str) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{what} {dest} exists and is not an empty folder: choose a new one")
    if not dest.parent.is_dir():
        raise BackupError(f"{what} {dest}: its folder {dest.parent} does not exist")


def _fresh(dest: Path, what: str) -> Path:
    _check_new(dest, what)
    work = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    return work


def _install(work: Path, dest: Path) -> None:
    if dest.exists():
        dest.rmdir()  # empty, checked before
    work.replace(dest)
    fsync_dir(dest.parent)


def receive(chunks: Iterable[bytes], dest: Path) -> dict[str, Any]:
    """Unpack a backup stream into `dest` (a new or empty folder); returns its manifest."""
    work = _fresh(dest, "backup folder")
    try:
        seen: dict[str, dict[str, Any]] = {}
        with tarfile.open(fileobj=_Chunks(chunks), mode="r|") as tar:  # type: ignore[arg-type]
            for member in tar:
                if not member.isfile():
                    raise BackupError(f"the backup stream holds {member.name!r}, not a file")
                target = work / _safe_name(member.name)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                seen[member.name] = _write(source, target)
        manifest = _manifest(work)
        _check(manifest, {k: v for k, v in seen.items() if k != MANIFEST}, "the stream")
        _install(work, dest)
    except tarfile.TarError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BackupError(f"the backup stream was cut off or damaged ({exc}); nothing was "
                          f"kept in {dest}") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _write(source: Any, target: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(target, 0o600)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{folder} has no {MANIFEST}: not a whole backup") from None
    except orjson.JSONDecodeError as exc:
        raise BackupError(f"{path} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{path} has no list of files: not a backup's manifest")
    return manifest


def _check(manifest: dict[str, Any], found: dict[str, dict[str, Any]], where: str) -> None:
    listed = manifest["files"]
    for name, expected in listed.items():
        got = found.get(name)
        if got is None:
            raise BackupError(f"{name} is in the manifest but not in {where}")
        if got != expected:
            raise BackupError(f"{name} in {where} does not match the manifest: "
                              f"{got['bytes']} bytes with SHA-256 {got['sha256'][:12]}…, "
                              f"the manifest says {expected['bytes']} bytes with "
                              f"{expected['sha256'][:12]}…")
    extra = sorted(set(found) - set(listed))
    if extra:
        raise BackupError(f"{where} holds files the manifest does not list: {extra[:5]}")


def _hash_file(path: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def check_folder(folder: Path) -> dict[str, Any]:
    """A backup folder's manifest, after checking every file in it against it."""
    manifest = _manifest(folder)
    found = {p.relative_to(folder).as_posix(): _hash_file(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    _check(manifest, found, str(folder))
    return manifest


def restore(backup: Path, home_root: Path) -> dict[str, Any]:
    """Make a new home at `home_root` from a backup folder (checked first); a token is made
    when the backup holds none. Returns the manifest."""
    _check_new(home_root, "home")  # before hashing a large backup for nothing
    manifest = check_folder(backup)
    work = _fresh(home_root, "home")
    try:
        for name in manifest["files"]:
            target = work / _safe_name(name)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with (backup / name).open("rb") as source:
                _write(source, target)
        init_home(Home(work))  # the folders, and a token when none came with the backup
        _install(work, home_root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest
