"""Moving a stored file's original to `inbox/<dataset>/.done/`, and what happens when
`.done/` cannot take it.

A file whose content is committed (a data version, or labels) but whose move fails
(`.done/` unwritable, a file where the folder should be, a full disk) stays in the inbox and
nowhere else. It is parked here with its identity; a `done_blocked` alert names the files
that wait and why; each later look at the file (an event, the periodic rescan) tries the
move again instead of ingesting the file again. When the last parked file of a dataset has
moved, the alert resolves itself.

Parked files are remembered in memory only: after a restart such a file is read again, found
stored (recorded as a duplicate of its version), and parked again — never quarantined.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from mlopsd.client.events import IngestDone, IngestDoneBlocked
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import move_into
from mlopsd.runtime.watcher import FileIdentity
from mlopsd.services.alerts import Alerts
from store.db import Store

log = logging.getLogger("mlops.ingest")

RULE = "done_blocked"


@dataclass(frozen=True)
class Parked:
    identity: FileIdentity
    dataset: str
    stored_as: str
    """What the file's content is stored as: `bikes@3`, or `labels`."""
    error: str


class DoneMoves:
    def __init__(self, inbox: Path, store: Store, bus: EventBus) -> None:
        self.inbox, self.store, self.bus = inbox, store, bus
        self.alerts = Alerts(store, bus)
        self._parked: dict[Path, Parked] = {}
        self._lock = threading.Lock()

    def prepare(self, dataset: str) -> None:
        """Make `.done/` when a file arrives, not when its first move lands in it: a folder
        made just before the move is not watched yet, so the watcher sees the move's
        source half only, and watchdog holds every later event of the inboxes 0.5 s
        waiting for the other half (the second file dropped into a new dataset was queued
        ~0.46 s late). Failing here changes nothing: the move itself parks the file."""
        with contextlib.suppress(OSError):
            (self.inbox / dataset / ".done").mkdir(exist_ok=True)

    def move(self, path: Path, dataset: str, stored_as: str) -> Path | None:
        """Move `path` into its `.done/`; None when it is gone already or had to be parked."""
        done = self.inbox / dataset / ".done"
        try:
            return move_into(path, done)
        except OSError as exc:
            identity = FileIdentity.of(path)
            if identity is None:
                return None  # moved or deleted by someone else: nothing left to move
            self._park(path, Parked(identity, dataset, stored_as, _describe(exc, done)))
            return None

    def parked(self, path: Path) -> Parked | None:
        with self._lock:
            return self._parked.get(path)

    def retry(self, path: Path) -> bool:
        """For a parked file: try its move again and say True (the caller must not ingest
        it). False for any other file, and for a parked one rewritten or removed since (a
        new file, or none)."""
        with self._lock:
            parked = self._parked.get(path)
        if parked is None:
            return False
        if FileIdentity.of(path) != parked.identity:
            self._unpark(path, parked, moved_to=None)
            return False
        try:
            dest = move_into(path, self.inbox / parked.dataset / ".done")
        except OSError:
            return True  # still blocked: the open alert says so already
        self._unpark(path, parked, moved_to=dest)
        return True

    def _park(self, path: Path, parked: Parked) -> None:
        with self._lock:
            self._parked[path] = parked
            waiting = self._waiting(parked.dataset)
        folder = f"inbox/{parked.dataset}/"
        message = (f"{path.name} is stored as {parked.stored_as} but could not be moved to "
                   f"{folder}.done/ ({parked.error}); it stays in {folder} and moves there by "
                   "itself once .done/ is a writable folder (tried at every rescan)")
        if len(waiting) > 1:
            message += f"; {len(waiting)} files wait"
        with self.store.transaction():
            self.bus.publish(IngestDoneBlocked(dataset=parked.dataset, file=path.name,
                                               stored_as=parked.stored_as, error=parked.error))
            self.alerts.raise_(
                rule=RULE, subject=f"dataset:{parked.dataset}", severity="warning",
                message=message, detail={"folder": str(self.inbox / parked.dataset / ".done"),
                                         "files": waiting})
        log.warning("%s", message)

    def _unpark(self, path: Path, parked: Parked, *, moved_to: Path | None) -> None:
        with self._lock:
            if self._parked.get(path) == parked:
                del self._parked[path]
            left = self._waiting(parked.dataset)
        with self.store.transaction():
            if moved_to is not None:
                log.info("%s moved to %s, now that .done/ takes it", path, moved_to)
                self.bus.publish(IngestDone(dataset=parked.dataset, file=path.name,
                                            done_as=str(moved_to)))
            if not left:
                self.alerts.resolve(RULE, f"dataset:{parked.dataset}",
                                    f"resolved by itself: no file of {parked.dataset} waits "
                                    "for .done/ any more")

    def _waiting(self, dataset: str) -> list[dict[str, str]]:
        return [{"file": p.name, "stored_as": v.stored_as, "error": v.error}
                for p, v in sorted(self._parked.items()) if v.dataset == dataset]


def _describe(exc: OSError, done: Path) -> str:
    if (done.exists() or done.is_symlink()) and not done.is_dir():
        return f"{done} is a file, not a folder"
    what = exc.strerror or type(exc).__name__
    return f"{what}: {exc.filename}" if exc.filename else what
