"""The `home_not_writable` alert: a folder of the home refused a job's write.

The job was queued again and no job starts until the folder takes writes
(`mlopsd.runtime.home_writes`); the alert names the folder and the error, one alert per
folder (subject `home:artifacts/tmp`, say), and resolves itself once a file can be
made there again. An alert still open at start-up is judged again: jobs wait for its folder
until it takes writes, then it resolves.

A full disk raises no alert here: the store could not write it (uploads answer 507 and the
daemon's stderr says it instead).
"""

from __future__ import annotations

from pathlib import Path

from mlopsd.runtime.events import EventBus
from mlopsd.runtime.home_writes import HomeWrites
from mlopsd.services.alerts import Alerts
from store import alerts as alert_repo
from store.db import Store

RULE = "home_not_writable"


class HomeWritableAlerts:
    def __init__(self, home_root: Path, store: Store, bus: EventBus,
                 writes: HomeWrites) -> None:
        self.home_root = home_root
        self.alerts = Alerts(store, bus)
        writes.refused_hooks.append(self.refused)
        writes.writable_hooks.append(self.writable)
        for alert in alert_repo.list_alerts(store, state="active", rule=RULE, limit=1000):
            folder = (alert.detail or {}).get("folder")
            if isinstance(folder, str):
                writes.watch(Path(folder), (alert.detail or {}).get("error") or alert.message)

    def refused(self, folder: Path, error: str) -> None:
        self.alerts.raise_(
            rule=RULE, subject=self._subject(folder), severity="critical",
            message=f"the home is not writable: {folder} refused a job's write ({error}); "
                    "the job is queued again and no job starts until the folder can be "
                    "written (checked every second)",
            detail={"folder": str(folder), "error": error})

    def writable(self, folder: Path) -> None:
        self.alerts.resolve(RULE, self._subject(folder),
                            f"resolved by itself: {folder} can be written again; the jobs "
                            "that waited for it run")

    def _subject(self, folder: Path) -> str:
        try:
            inside = folder.relative_to(self.home_root).as_posix()
        except ValueError:
            inside = str(folder)
        return f"home:{inside}"
