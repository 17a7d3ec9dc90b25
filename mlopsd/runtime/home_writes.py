"""Whether the home takes a job's writes; while it does not, no job starts.

Two failures are not a job's own: the disk holding the home is full, or a folder of the home
refuses writes (read-only, or not permitted: a mount gone read-only, an owner or mode
changed). Either way the job is queued again (job_endings.py) and jobs wait until the home
takes writes again, judged afresh at each turn of the dispatcher (about once a second, no
thread of its own): free bytes for a full disk, a temp file made and removed in each folder
that refused a write. Listeners hear when a folder starts and stops refusing (the daemon
raises and resolves a `home_not_writable` alert).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from store.writable import can_write, unwritable_folder

log = logging.getLogger("mlops.runner")

RESUME_FREE_BYTES = 8 << 20
"""Jobs start again once this much is free on a disk that was full."""


@dataclass
class HomeWrites:
    root: Path
    refused_hooks: list[Callable[[Path, str], None]] = field(default_factory=list)
    """(folder, the error that met it): a folder of the home began refusing writes."""
    writable_hooks: list[Callable[[Path], None]] = field(default_factory=list)
    """(folder): a folder that refused writes takes them again."""
    disk_full: bool = False
    refusing: dict[Path, str] = field(default_factory=dict)
    """Folder → the error that found it refusing writes."""

    def refusing_folder(self, error: str | None) -> Path | None:
        """The folder of the home a job's error says refused its write, if it still does."""
        return unwritable_folder(error, self.root)

    def refused(self, folder: Path, error: str) -> None:
        """Jobs wait until `folder` takes writes again; the listeners hear of a new one."""
        if folder in self.refusing:
            return
        self.refusing[folder] = error
        log.error("%s cannot be written (%s): no job starts until it can", folder, error)
        self._tell(self.refused_hooks, folder, error)

    def watch(self, folder: Path, error: str) -> None:
        """A folder found refusing before a restart: jobs wait until it takes writes (the
        listeners know of it already)."""
        self.refusing.setdefault(folder, error)

    def waiting(self) -> bool:
        """Whether jobs wait, judged now: the disk still full, or a folder still refusing."""
        if self.disk_full and _free_bytes(self.root) >= RESUME_FREE_BYTES:
            self.disk_full = False
            log.warning("the disk has space again: jobs start again")
        for folder in list(self.refusing):
            if can_write(folder):
                del self.refusing[folder]
                log.warning("%s can be written again: the jobs that waited for it start",
                            folder)
                self._tell(self.writable_hooks, folder)
        return self.disk_full or bool(self.refusing)

    @staticmethod
    def _tell(hooks: list[Callable[..., None]], *args: object) -> None:
        for hook in hooks:
            try:
                hook(*args)
            except Exception:  # a listener's failure (a full disk, say) must not stop jobs
                log.exception("a listener of the home's writability failed")


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize
