"""The inbox watcher: tells when a dropped file is complete, once per version of the file.

A file counts when it is closed after writing (inotify's close event) or renamed in. Under
inotify, a rename from outside the watched tree looks like a creation: a file created and
not opened within `_OPEN_GRACE_S` was renamed in, and counts at once; one that is opened
or written is left alone until it is closed, however long the writer pauses (only if no
close comes for `writing_timeout_s` does it fall back to settling: a close event lost to an
inotify overflow). The polling observer has no open or close events: there a file counts
once its size and mtime have held still for `settle_s`.
Temp names are ignored until renamed. Duplicate events are harmless: the ingest service
drops a file it already has in flight. inotify can drop events under load, so `scan()`
(at start-up and on a schedule) finds whatever the events missed.

A folder inside `<root>/<name>/` (not hidden) is reported to `on_folder`, when given, once
nothing in its tree has changed for `settle_s` (its entries, sizes and mtimes); without
`on_folder` such folders are not looked at.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger("mlops.watcher")

# inotify reports IN_CREATE then IN_OPEN for a file a writer creates; a file renamed in gets
# no IN_OPEN. This is how long a new file may wait for its IN_OPEN.
_OPEN_GRACE_S = 0.05


def _native_observer() -> BaseObserver:
    """inotify with full move events where there is inotify: a file renamed into an inbox
    from outside it then comes as a move, and counts at once (it was complete when renamed,
    as a move inside the inboxes is), instead of as a created file waiting _OPEN_GRACE_S for
    a writer's IN_OPEN."""
    try:
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:  # not Linux: the platform's own observer
        return Observer()
    return InotifyObserver(generate_full_events=True)


def is_temp_name(name: str) -> bool:
    """Names a writer uses while a file is incomplete: never ingested until renamed."""
    return (
        name.startswith((".", "~"))
        or name.endswith((".tmp", ".part", ".crdownload", "~"))
        or name.endswith(".reason.json")
    )


@dataclass(frozen=True)
class FileIdentity:
    """What makes a dropped file "the same file": a rewrite changes it."""

    path: Path
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = path.lstat()
        except OSError:
            return None
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(frozen=True)
class TreeIdentity:
    """What makes a folder's tree "unchanged": anything added, removed or written changes it."""

    path: Path
    inode: int
    entries: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> TreeIdentity | None:
        try:
            top = path.lstat()
        except OSError:
            return None
        entries, size, mtime_ns = 0, 0, top.st_mtime_ns
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    st = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                entries += 1
                size += st.st_size
                mtime_ns = max(mtime_ns, st.st_mtime_ns)
        return cls(path, top.st_ino, entries, size, mtime_ns)


def _identity(path: Path) -> FileIdentity | TreeIdentity | None:
    if path.is_dir() and not path.is_symlink():
        return TreeIdentity.of(path)
    return FileIdentity.of(path)


@dataclass
class _Pending:
    identity: FileIdentity | TreeIdentity | None
    since: float


class InboxWatcher:
    def __init__(
        self,
        root: Path,
        on_ready: Callable[[Path], None],
        *,
        settle_s: float = 0.5,
        polling: bool = False,
        writing_timeout_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_folder: Callable[[Path], None] | None = None,
    ) -> None:
        self.root = root
        self._on_ready = on_ready
        self._on_folder = on_folder
        self._settle_s = settle_s
        self._writing_timeout_s = writing_timeout_s
        self._clock = clock
        self._pending: dict[Path, _Pending] = {}
        self._writing: dict[Path, float] = {}
        self._created: dict[Path, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._polling = polling
        self._settler: threading.Thread | None = None
        self.mode = "stopped"

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handler = _Handler(self)
        observer: BaseObserver
        if self._polling:
            observer, self.mode = PollingObserver(timeout=1.0), "polling"
        else:
            observer, self.mode = _native_observer(), "inotify"
        try:
            observer.schedule(handler, str(self.root), recursive=True)
            observer.start()
        except OSError as exc:
            # inotify limits reached, or a file system without inotify: poll instead.
            log.warning("inotify unavailable (%s); watching %s by polling", exc, self.root)
            observer, self.mode = PollingObserver(timeout=1.0), "polling"
            observer.schedule(handler, str(self.root), recursive=True)
            observer.start()
        self._observer = observer
        self._settler = threading.Thread(target=self._settle_loop, name="inbox-settle",
                                         daemon=True)
        self._settler.start()

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._settler is not None:
            self._settler.join(timeout=5)
        self.mode = "stopped"

    # --- what counts ----------------------------------------------------------------------

    def candidate(self, path: Path) -> bool:
        """A file directly inside inbox/<dataset>/, not hidden, not a temp name."""
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        parts = relative.parts
        return len(parts) == 2 and not parts[0].startswith(".") and not is_temp_name(parts[1])

    def folder_of(self, path: Path) -> Path | None:
        """The folder inside <root>/<name>/ that `path` is (or lies in), if folders are
        reported and neither is hidden."""
        if self._on_folder is None:
            return None
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return None
        if len(parts) < 2 or parts[0].startswith(".") or parts[1].startswith("."):
            return None
        folder = self.root / parts[0] / parts[1]
        if len(parts) == 2 and not (folder.is_dir() and not folder.is_symlink()):
            return None
        return folder

    def scan(self) -> int:
        """Look at every file in the inboxes; each settles before it counts. Returns how many
        were looked at."""
        seen = 0
        try:
            folders = [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()]
        except OSError:
            return 0
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    if self.folder_of(path) is not None:
                        self.touch(path)
                        seen += 1
                elif self.candidate(path):
                    if not self._being_written(path):
                        self.touch(path)
                    seen += 1
        return seen

    def _being_written(self, path: Path) -> bool:
        with self._lock:
            since = self._writing.get(path)
            if since is None:
                return False
            if self._clock() - since > self._writing_timeout_s:
                del self._writing[path]
                return False
            return True

    def writing(self, path: Path) -> None:
        """inotify saw a write: the close event will say when the file is complete."""
        with self._lock:
            self._pending.pop(path, None)
            self._created.pop(path, None)
            self._writing[path] = self._clock()

    def created(self, path: Path) -> None:
        """inotify saw a new file: renamed in (complete) unless it is opened right away."""
        with self._lock:
            self._created[path] = self._clock()

    def opened(self, path: Path) -> None:
        with self._lock:
            just_created = self._created.pop(path, None) is not None
        if just_created:
            self.writing(path)

    def ready(self, path: Path) -> None:
        with self._lock:
            self._pending.pop(path, None)
            self._writing.pop(path, None)
            self._created.pop(path, None)
        if self.candidate(path) and (path.exists() or path.is_symlink()):
            self._on_ready(path)

    def touch(self, path: Path) -> None:
        """Something happened to `path`: it counts once it holds still for settle_s."""
        with self._lock:
            self._pending[path] = _Pending(None, self._clock())

    def forget(self, path: Path) -> None:
        with self._lock:
            self._pending.pop(path, None)
            self._writing.pop(path, None)
            self._created.pop(path, None)

    def _settle_loop(self) -> None:
        interval = min(0.02, max(self._settle_s / 4, 0.005))
        while not self._stop.wait(interval):
            self.settle()

    def settle(self) -> None:
        now = self._clock()
        due: list[Path] = []
        with self._lock:
            for path, since in list(self._created.items()):
                if now - since >= _OPEN_GRACE_S:
                    del self._created[path]
                    due.append(path)
            for path, pending in list(self._pending.items()):
                if now - pending.since < self._settle_s:
                    continue
                identity = _identity(path)
                if identity is None:
                    del self._pending[path]
                elif identity == pending.identity:
                    del self._pending[path]
                    due.append(path)
                else:
                    self._pending[path] = _Pending(identity, now)
        for path in due:
            try:
                if self._on_folder is not None and path.is_dir() and not path.is_symlink():
                    self._on_folder(path)
                else:
                    self._on_ready(path)
            except Exception:
                log.exception("handling %s failed", path)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception:
            log.exception("watcher event %s failed", event)

    def _dispatch(self, event: FileSystemEvent) -> None:
        w = self.w
        # Anything happening in a folder inside an inbox: the folder settles again.
        for where in (event.src_path, getattr(event, "dest_path", "")):
            folder = w.folder_of(Path(os.fsdecode(where))) if where else None
            if folder is not None:
                w.touch(folder)
        if isinstance(event, DirCreatedEvent | DirMovedEvent):
            # A whole folder moved or created in inbox/: whatever is inside it counts too.
            target = Path(os.fsdecode(getattr(event, "dest_path", "") or event.src_path))
            if target.parent == w.root:
                for entry in target.iterdir() if target.is_dir() else []:
                    if w.candidate(entry) or w.folder_of(entry) is not None:
                        w.touch(entry)
            return
        if isinstance(event, FileMovedEvent):
            w.forget(Path(os.fsdecode(event.src_path)))
            dest = Path(os.fsdecode(event.dest_path))
            if w.candidate(dest):
                w.ready(dest)
            return
        path = Path(os.fsdecode(event.src_path))
        if not w.candidate(path):
            return
        if isinstance(event, FileClosedEvent):
            w.ready(path)
        elif w.mode == "inotify" and isinstance(event, FileCreatedEvent):
            w.created(path)
        elif w.mode == "inotify" and isinstance(event, FileOpenedEvent):
            w.opened(path)
        elif w.mode == "inotify" and isinstance(event, FileModifiedEvent):
            w.writing(path)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            w.touch(path)
        elif isinstance(event, FileDeletedEvent):
            w.forget(path)
