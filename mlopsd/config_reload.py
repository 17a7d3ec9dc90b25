"""Reloading mlops.toml while the daemon runs: on `mlops reload` (the API) and when the file
changes (polled every 2 s). Model tables (training, monitoring, retraining policies and
schedules) are applied; other sections are read at start-up only, so a change there is
reported as needing a restart and not applied. Each reload is audited with its event."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mlopsd.client.events import ConfigReloaded, ConfigReloadFailed
from mlopsd.config import ConfigError
from mlopsd.config_load import load_config
from store import audit

if TYPE_CHECKING:
    from mlopsd.daemon import Daemon

log = logging.getLogger("mlops.daemon")

RESTART_SECTIONS = ("daemon", "ingest", "tracking", "serving", "monitoring", "dataset",
                    "hook")


class ConfigReload:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._seen = file_mark(daemon.config.path)
        self._lock = threading.Lock()  # the API and the file watch may both ask at once

    def reload(self, *, actor: str) -> dict[str, object]:
        with self._lock:
            return self._apply(actor)

    def _apply(self, actor: str) -> dict[str, object]:
        d = self.daemon
        new = load_config(d.config.path)
        restart = [name for name in RESTART_SECTIONS
                   if getattr(new, name) != getattr(d.config, name)]
        before, after = d.config.models(), new.models()
        changed = sorted(n for n in before.keys() | after.keys()
                         if before.get(n) != after.get(n))
        applied = dataclasses.replace(d.config, model=new.model)
        d.config = applied
        for part in (d.training, d.monitoring, d.deploys, d.ingest, d.ingest.labels,
                     d.scoring):
            part.config = applied
        d.training.models = applied.models()
        schedules = d.retrain_schedules.sync(applied.models())
        self._seen = file_mark(applied.path)
        outcome = {"models_changed": changed, "schedules": schedules,
                   "restart_needed": restart}
        with d.store.transaction():
            entry = audit.append(d.store, actor=actor, action="config.reload",
                                 subject=str(applied.path), details=outcome)
            d.bus.publish(ConfigReloaded(by=actor, **outcome), audit=entry)
        log.info("mlops.toml reloaded by %s: %s", actor, outcome)
        return outcome

    def if_changed(self) -> None:
        """The file watch's tick: reload when mlops.toml's mtime or size moved."""
        d = self.daemon
        mark = file_mark(d.config.path)
        if mark == self._seen:
            return
        self._seen = mark
        try:
            self.reload(actor="mlopsd (mlops.toml changed)")
        except ConfigError as exc:
            log.error("mlops.toml changed but cannot be used, the running config stays: %s",
                      exc)
            with d.store.transaction():
                entry = audit.append(d.store, actor="mlopsd", action="config.reload_failed",
                                     subject=str(d.config.path), reason=str(exc))
                d.bus.publish(ConfigReloadFailed(error=str(exc)), audit=entry)
        except Exception:
            log.exception("reloading mlops.toml failed; the running config stays")


def file_mark(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
