"""The artifacts proxy's door: a file MLflow's client uploads (`mlflow-artifacts:/PATH`) is
kept as a content-addressed blob (written temp + fsync + rename by the artifact store) and
its path recorded, in that order: a crash between the two leaves an unnamed blob, never a
path naming missing bytes. Paths are checked here, once: relative, no `.` or `..`
segments, no empty ones, nothing that is not printable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlopsd.services.errors import ServiceError
from store import mlflow_artifacts as artifact_index
from store.artifacts import ArtifactStore
from store.db import Store

MAX_PATH = 1000


def checked_path(path: str, *, field: str = "path") -> str:
    """An artifact path as stored ("2/<run>/artifacts/model/MLmodel"), or a 400 naming
    what is wrong with it."""
    if len(path) > MAX_PATH:
        raise ServiceError(400, f"{field}: longer than {MAX_PATH} characters", field)
    if path.startswith("/") or "\\" in path:
        raise ServiceError(400, f"{field}: {path[:80]!r} must be a relative path with '/'",
                           field)
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ServiceError(400, f"{field}: {path[:80]!r} has an empty, '.' or '..' segment: "
                           "paths may not leave the artifact root", field)
    if any(not ch.isprintable() for ch in path):
        raise ServiceError(400, f"{field}: {path[:80]!r} holds a control character", field)
    return path


class MlflowArtifacts:
    def __init__(self, store: Store, artifacts: ArtifactStore,
                 max_bytes: Callable[[], int]) -> None:
        self.store, self.artifacts, self._max_bytes = store, artifacts, max_bytes

    @property
    def max_bytes(self) -> int:
        """The most kept of one file (the config in force: it can be reloaded)."""
        return self._max_bytes()

    def record(self, path: str, written: Path, size: int) -> str:
        """Adopt a complete, fsynced file the caller wrote with `artifacts.tmp_path()` as
        the bytes at `path`; returns its hash."""
        sha = self.artifacts.adopt(written)
        with self.store.transaction() as cur:
            artifact_index.put(cur, path, sha, size)
        return sha

    def too_large(self, size: int) -> ServiceError:
        return ServiceError(413, f"the file is over {self.max_bytes:,} bytes, the most this "
                            "daemon keeps from MLflow's client ([tracking] max_artifact_mb)",
                            "body")
