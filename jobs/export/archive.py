"""An export folder packed into one artifact: a gzipped tar that is the same bytes for the
same files (names sorted, times, owners and modes fixed), so exporting a version twice
gives one artifact."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

from store.artifacts import ArtifactStore


def pack(folder: Path, artifacts: ArtifactStore) -> tuple[str, list[str], int]:
    """(artifact sha, file names relative to the folder, packed bytes)."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    out = artifacts.tmp_path(".tar.gz")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in files:
            info = tarfile.TarInfo(name)
            path = folder / name
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with open(path, "rb") as f:
                tar.addfile(info, f)
    size = out.stat().st_size
    return artifacts.adopt(out), files, size
