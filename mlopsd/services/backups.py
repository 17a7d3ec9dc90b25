"""An online backup of a home as one tar stream: the metadata store (a consistent copy), every
artifact and data snapshot, `mlops.toml`, and the token only when asked; `manifest.json`
last, with every file's SHA-256 and size, what each model serves and the audit chain's head.

The daemon writes nothing outside its home: the copy of the store is made in `HOME/run/`
and streamed to the client (`mlops backup DIR` unpacks it, checking every hash against the
manifest). The store is copied first: every blob it names was written before the row that
names it, so it is in the artifact folder when the folder is walked after the copy.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from mlopsd import __version__
from mlopsd.home import Home
from store.artifacts import ArtifactStore
from store.backup import CopyFacts, consistent_copy
from store.db import Store
from store.errors import DiskFull

FORMAT = 1
BLOCK = 512
CHUNK = 1 << 20


@dataclass
class _File:
    name: str
    size: int
    path: Path | None = None
    data: bytes | None = None
    blob: str | None = None
    """The artifact's hash (its name), checked as it is read."""


@dataclass
class Backup:
    """A backup ready to stream: the store already copied, the files listed."""

    workdir: Path
    facts: CopyFacts
    files: list[_File]
    created_at: datetime
    source: str
    with_token: bool
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)
    corrupt: list[str] = field(default_factory=list)

    def stream(self) -> Iterator[bytes]:
        try:
            for item in self.files:
                yield from self._member(item)
            yield from self._member(_manifest_file(self))
            yield b"\0" * (2 * BLOCK)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _member(self, item: _File) -> Iterator[bytes]:
        info = tarfile.TarInfo(item.name)
        info.size, info.mode, info.mtime = item.size, 0o600, int(self.created_at.timestamp())
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        digest = hashlib.sha256()
        if item.data is not None:
            digest.update(item.data)
            yield item.data
        else:
            assert item.path is not None
            left = item.size
            try:
                with item.path.open("rb") as f:
                    while left > 0 and (chunk := f.read(min(CHUNK, left))):
                        digest.update(chunk)
                        left -= len(chunk)
                        yield chunk
            except FileNotFoundError:  # deleted behind the daemon's back meanwhile
                self.corrupt.append(f"{item.name}: gone from the home while it was read")
            if left > 0:  # short or gone: the member keeps its declared size, in zeros
                self.corrupt.append(f"{item.name}: {left} bytes short of its size")
                while left > 0:
                    pad = b"\0" * min(CHUNK, left)
                    digest.update(pad)
                    left -= len(pad)
                    yield pad
        if item.size % BLOCK:
            yield b"\0" * (BLOCK - item.size % BLOCK)
        sha = digest.hexdigest()
        if item.blob is not None and sha != item.blob:
            self.corrupt.append(f"{item.name}: its bytes no longer match its hash")
        if item.name != "manifest.json":
            self.digests[item.name] = {"sha256": sha, "bytes": item.size}


def prepare(home: Home, store: Store, artifacts: ArtifactStore, *, with_token: bool,
            now: datetime) -> Backup:
    workdir = home.run / f"backup-{uuid.uuid4().hex}"
    workdir.mkdir(mode=0o700)
    try:
        db_copy = workdir / "meta.duckdb"
        facts = consistent_copy(store, db_copy)
        files = [_File("meta.duckdb", db_copy.stat().st_size, path=db_copy)]
        if home.config.exists():
            config = home.config.read_bytes()
            files.append(_File("mlops.toml", len(config), data=config))
        if with_token:
            token = home.token.read_bytes()
            files.append(_File("token", len(token), data=token))
        blobs = artifacts.root / "sha256"
        for path in sorted(blobs.glob("*/*")) if blobs.is_dir() else []:
            if path.is_file() and len(path.name) == 64:
                files.append(_File(f"artifacts/sha256/{path.parent.name}/{path.name}",
                                   path.stat().st_size, path=path, blob=path.name))
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull("no space left in the home to copy the metadata store for the "
                           "backup: nothing was written; free space and retry") from exc
        raise
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Backup(workdir, facts, files, now, str(home.root), with_token)


def _manifest_file(backup: Backup) -> _File:
    facts = backup.facts
    body = orjson.dumps({
        "format": FORMAT,
        "mlops": __version__,
        "created_at": backup.created_at.isoformat(),
        "source_home": backup.source,
        "schema_version": facts.schema_version,
        "audit": {"head": facts.audit_head, "entries": facts.audit_entries},
        "aliases": facts.aliases,
        "token_included": backup.with_token,
        "files": backup.digests,
        "corrupt": backup.corrupt,
    }, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    return _File("manifest.json", len(body), data=body)
