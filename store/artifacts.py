"""Content-addressed artifact store: blobs under `artifacts/sha256/ab/abcdef…`.

Process-safe (plain files, no DuckDB), so worker processes write their outputs here and
hand back only the hash. A blob is written temp + fsync + rename and never overwritten
while intact: the same bytes always land at the same name, so a second writer's rename is
harmless, and a second writer of a blob that rotted on disk puts the right bytes back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from store.errors import ArtifactError

_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "sha256"
        self._tmp = self.root / "tmp"
        self.repaired: list[str] = []
        """Blobs found corrupt when the same bytes were written again, and replaced by them."""

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ArtifactError(f"{sha!r} is not a sha256 hex digest")
        return self._blobs / sha[:2] / sha

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def put_bytes(self, data: bytes) -> str:
        return self.put_stream(iter([data]))

    def put_file(self, source: Path) -> str:
        with Path(source).open("rb") as f:
            return self.put_stream(iter(lambda: f.read(_CHUNK), b""))

    def put_stream(self, chunks: Iterator[bytes]) -> str:
        self._tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            return self._install(tmp, digest.hexdigest())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _install(self, tmp: Path, sha: str) -> str:
        """Move a complete, fsynced temp file to its content address (or drop it when the
        same bytes are already there: a blob is never overwritten)."""
        final = self.path(sha)
        if final.exists():
            if self._intact(final, sha):
                tmp.unlink()
                return sha
            # The stored copy rotted (or was edited); these bytes are the right ones.
            self.repaired.append(sha)
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Read-only and private: blobs are never rewritten, and hold data and models.
        os.chmod(tmp, 0o400)
        tmp.replace(final)
        _fsync_dir(final.parent)
        return sha

    @staticmethod
    def _intact(path: Path, sha: str) -> bool:
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                _copy_into(f, digest)
        except OSError:
            return False
        return digest.hexdigest() == sha

    def tmp_path(self, suffix: str = "") -> Path:
        """A fresh, unique (empty, created) file in `root/tmp` for a writer to fill, then adopt."""
        self._tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="work-", suffix=suffix)
        os.close(fd)
        return Path(name)

    def tmp_dir(self, prefix: str = "work-") -> Path:
        """A fresh, empty folder in `root/tmp` for a writer that makes several files (an
        export) before packing them into one file to adopt; remove it when done (a crash
        leaves it to `clean_tmp`)."""
        self._tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self._tmp, prefix=prefix))

    def adopt(self, tmp_path: Path) -> str:
        """Store a file already written in `root/tmp` under its hash, without copying it.

        The file is taken over: renamed into place, or removed when the blob already exists
        (or when anything fails), so the caller must not use the path afterwards.
        """
        tmp = Path(tmp_path)
        try:
            if tmp.resolve().parent != self._tmp.resolve():
                raise ArtifactError(f"{tmp} is not in {self._tmp}: only files there are adopted")
            digest = hashlib.sha256()
            with tmp.open("rb") as f:
                _copy_into(f, digest)
                # fsync through a read-only descriptor still flushes the file's data on Linux
                os.fsync(f.fileno())
            return self._install(tmp, digest.hexdigest())
        except BaseException:
            if tmp.resolve().parent == self._tmp.resolve():
                tmp.unlink(missing_ok=True)
            raise

    def read_bytes(self, sha: str) -> bytes:
        """The blob's bytes, after checking they still hash to `sha`."""
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactError(f"artifact {sha} is missing from {self._blobs}") from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise ArtifactError(f"artifact {sha} is corrupt: its bytes no longer match its hash")
        return data

    def verify(self, sha: str) -> Path:
        """Check a (possibly large) blob by streaming it; return its path when it is intact."""
        path = self.path(sha)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                _copy_into(f, digest)
        except FileNotFoundError as exc:
            raise ArtifactError(f"artifact {sha} is missing from {self._blobs}") from exc
        if digest.hexdigest() != sha:
            raise ArtifactError(f"artifact {sha} is corrupt: its bytes no longer match its hash")
        return path

    def clean_tmp(self) -> int:
        """Remove temp files (and `tmp_dir` folders) a killed writer left behind; returns how
        many."""
        if not self._tmp.is_dir():
            return 0
        removed = 0
        for leftover in self._tmp.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _copy_into(f: BinaryIO, digest: hashlib._Hash) -> None:
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        digest.update(chunk)
