"""The files MLflow's client uploads through the artifacts proxy: each a path (relative to
`mlflow-artifacts:/`, e.g. `2/<run id>/artifacts/model/MLmodel`) naming a blob of the
content-addressed artifact store. A path uploaded again names its new bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.db import Store, utcnow
from store.errors import NotFound


@dataclass(frozen=True)
class StoredFile:
    path: str
    sha: str
    size: int


@dataclass(frozen=True)
class Entry:
    """One item of a folder's listing: a file, or a folder (no size)."""

    path: str
    is_dir: bool
    size: int | None


def put(cur: Any, path: str, sha: str, size: int) -> None:
    """Within the caller's transaction."""
    cur.execute("INSERT INTO mlflow_artifacts VALUES (?, ?, ?, ?) ON CONFLICT (path) DO "
                "UPDATE SET sha = excluded.sha, size = excluded.size, "
                "stored_at = excluded.stored_at", [path, sha, size, utcnow()])


def get(store: Store, path: str) -> StoredFile:
    with store.reading() as cur:
        row = cur.execute("SELECT path, sha, size FROM mlflow_artifacts WHERE path = ?",
                          [path]).fetchone()
    if row is None:
        raise NotFound(f"no artifact at {path!r}")
    return StoredFile(*row)


def _escaped(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def under(store: Store, folder: str) -> list[StoredFile]:
    """Every file below `folder` (at any depth), by path."""
    prefix = folder.rstrip("/") + "/" if folder else ""
    with store.reading() as cur:
        rows = cur.execute("SELECT path, sha, size FROM mlflow_artifacts WHERE path LIKE ? "
                           "ESCAPE '\\' ORDER BY path", [_escaped(prefix) + "%"]).fetchall()
    return [StoredFile(*row) for row in rows]


def listing(store: Store, folder: str) -> list[Entry]:
    """The files and folders directly in `folder`, by name (MLflow's list_artifacts)."""
    prefix = folder.rstrip("/") + "/" if folder else ""
    entries: dict[str, Entry] = {}
    for found in under(store, folder):
        rest = found.path[len(prefix):]
        head, slash, _ = rest.partition("/")
        path = prefix + head
        entries[path] = Entry(path, True, None) if slash else Entry(path, False, found.size)
    return [entries[p] for p in sorted(entries)]
