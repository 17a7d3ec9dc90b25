"""The dropped file itself: what it is, its content hash, its decompressed bytes, and whether
it changed while it was being read.

The daemon owns the file (it moves it away afterwards), so nothing here moves or deletes it,
and nothing follows a symlink: a link could point anywhere on the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jobs.ingest.issues import Rejected, issue

CHUNK = 1 << 20
_ZSTD_CHUNK = 64 << 10
"""Compressed bytes per step: small, since one step's output can be ~1000 times larger."""

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".ndjson": "ndjson",
           ".jsonl": "ndjson"}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}


class Changed(Exception):
    """The file was replaced or rewritten while it was read: the daemon reads it again later."""


@dataclass(frozen=True)
class Source:
    path: Path
    format: str | None
    compression: str | None
    size: int
    stamp: tuple[int, int, int, int]
    """(device, inode, size, mtime_ns) when first seen: any change means it was replaced."""


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def detect(name: str) -> tuple[str | None, str | None]:
    """(format, compression) from the file name; format None when it is not one we read."""
    lower = name.lower()
    compression = None
    for ext, kind in COMPRESSIONS.items():
        if lower.endswith(ext):
            compression, lower = kind, lower[: -len(ext)]
    return FORMATS.get(os.path.splitext(lower)[1]), compression


def inspect(path: Path) -> Source:
    """The file as it is now; Rejected for a symlink or anything but a regular file."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise Rejected(issue(
            "symlink", f"{path.name} is a symbolic link; symlinks are not followed "
            "(drop the file itself into the inbox)"))
    if not stat.S_ISREG(st.st_mode):
        raise Rejected(issue("not_a_file", f"{path.name} is not a regular file"))
    fmt, compression = detect(path.name)
    return Source(path, fmt, compression, st.st_size, _stamp(st))


def _open(source: Source) -> int:
    fd = os.open(source.path, os.O_RDONLY | os.O_NOFOLLOW)
    if _stamp(os.fstat(fd))[:2] != source.stamp[:2]:
        os.close(fd)
        raise Changed(source.path.name)
    return fd


def sha256(source: Source) -> str:
    digest = hashlib.sha256()
    with os.fdopen(_open(source), "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def matches(source: Source, identity: dict[str, int]) -> bool:
    """Whether the file is still the one the daemon judged complete."""
    return (identity["inode"], identity["size"], identity["mtime_ns"]) == source.stamp[1:]


def unchanged(source: Source) -> bool:
    """Whether the path still holds the very file first seen (FileNotFoundError if gone)."""
    return _stamp(os.lstat(source.path)) == source.stamp


@dataclass(frozen=True)
class InflateLimit:
    """How far a compressed drop may inflate: a bomb (1 GiB of zeros is a 1 MB .gz) is cut
    off while it streams, not after it filled the disk or a worker's memory."""

    max_bytes: int = 16 << 30
    max_ratio: float = 200.0
    ratio_after: int = 256 << 20
    """The ratio is judged once this much came out: small files may compress very well."""


class _Guarded:
    """A writer that counts what it is given and stops past the limit."""

    def __init__(self, out: BinaryIO, raw: BinaryIO, source: Source, limit: InflateLimit):
        self.out, self.raw, self.source, self.limit, self.written = out, raw, source, limit, 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        ratio = self.written / max(self.raw.tell(), 1)
        over_size = self.written > self.limit.max_bytes
        if over_size or (self.written > self.limit.ratio_after and ratio > self.limit.max_ratio):
            raise Rejected(_inflate_issue(self.source, self.written, ratio, self.limit,
                                          over_size))
        self.out.write(data)


def _inflate_issue(source: Source, written: int, ratio: float, limit: InflateLimit,
                   over_size: bool) -> dict:
    mib = written / (1 << 20)
    if over_size:
        why = (f"inflates past {limit.max_bytes / (1 << 20):,.0f} MiB (the limit, [ingest] "
               f"max_decompressed_mb) at a compression ratio of {ratio:,.0f}:1")
    else:
        why = (f"inflated to {mib:,.0f} MiB from {source.size / (1 << 20):,.1f} MiB so far: a "
               f"compression ratio of {ratio:,.0f}:1, above the limit of "
               f"{limit.max_ratio:,.0f}:1 ([ingest] max_compression_ratio); refused as a likely "
               "decompression bomb")
    return issue("decompress", f"{source.path.name} {why}; nothing was stored",
                 rule={"compression": source.compression, "max_decompressed_mb":
                       limit.max_bytes >> 20, "max_compression_ratio": limit.max_ratio,
                       "ratio": round(ratio, 1)})


def decompress(source: Source, dest: Path, limit: InflateLimit | None = None) -> int:
    """Stream the decompressed bytes into `dest` (bounded memory and size); returns their
    size. Rejected past `limit` (what was written so far is the caller's temp file)."""
    limit = limit or InflateLimit()
    try:
        with os.fdopen(_open(source), "rb") as raw, dest.open("wb") as out:
            guarded = _Guarded(out, raw, source, limit)
            if source.compression == "gzip":
                with gzip.GzipFile(fileobj=raw) as stream:
                    while chunk := stream.read(CHUNK):
                        guarded.write(chunk)
            else:
                _unzstd(raw, guarded)
            return guarded.written
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise Rejected(_decompress_issue(source, exc)) from exc
    except Exception as exc:  # zstandard.ZstdError, imported lazily
        if type(exc).__name__ != "ZstdError":
            raise
        raise Rejected(_decompress_issue(source, exc)) from exc


def _unzstd(raw: BinaryIO, out: _Guarded) -> None:
    """Frame by frame, so a stream cut short is an error (zstandard's reader just stops)."""
    import zstandard

    context = zstandard.ZstdDecompressor()
    frame, started = context.decompressobj(), False
    while chunk := raw.read(_ZSTD_CHUNK):
        while chunk:
            out.write(frame.decompress(chunk))
            started = True
            if not frame.eof:
                break
            chunk = frame.unused_data  # the next frame begins here
            frame, started = context.decompressobj(), False
    if started:
        raise EOFError("zstd stream ends inside a frame")


def _decompress_issue(source: Source, exc: BaseException) -> dict:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        reason = "the compressed stream ends early (the file is truncated)"
    return issue(
        "decompress",
        f"{source.path.name} could not be decompressed as {source.compression}: {reason}",
        rule={"compression": source.compression},
    )
