"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from store.artifacts import ArtifactStore
from store.errors import ArtifactError


def test_put_and_read_back_by_hash(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_bytes(b"model text")
    assert sha == hashlib.sha256(b"model text").hexdigest()
    assert store.path(sha) == tmp_path / "artifacts" / "sha256" / sha[:2] / sha
    assert store.read_bytes(sha) == b"model text"
    assert store.verify(sha) == store.path(sha)


def test_same_bytes_are_stored_once_and_never_overwritten(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_bytes(b"x" * 10_000)
    inode = store.path(sha).stat().st_ino
    assert store.put_bytes(b"x" * 10_000) == sha
    assert store.path(sha).stat().st_ino == inode
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_large_file_streams(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * (1 << 20) + 17))
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_file(source)
    assert sha == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.verify(sha)


def test_corruption_and_absence_are_detected(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_bytes(b"original")
    path = store.path(sha)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.read_bytes(sha)
    with pytest.raises(ArtifactError, match="corrupt"):
        store.verify(sha)
    with pytest.raises(ArtifactError, match="missing"):
        store.read_bytes("0" * 64)
    with pytest.raises(ArtifactError, match="not a sha256"):
        store.path("../../etc/passwd")


def test_partial_writes_of_a_killed_writer_are_cleaned(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    (tmp_path / "artifacts" / "tmp").mkdir(parents=True)
    (tmp_path / "artifacts" / "tmp" / "blob-half").write_bytes(b"half")
    folder = store.tmp_dir("work-export-")  # an export's files, cut off before packing
    (folder / "main.c").write_text("int x;")
    assert store.clean_tmp() == 2
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
