"""Which version answers for each model, and the blue-green switch between versions.

Each model with a `production` alias has a live slot. Promoting loads the new version into
a standby (artifact hash, signature, warm-up prediction), and only when that passes is the
alias moved in the store and the slot switched: one reference assignment, so a request
holds the version it started with until it finishes. The version it replaced stays loaded,
so a rollback switches back without loading anything. Other versions (named by number or
by another alias) are loaded on demand and kept in a small LRU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mlopsd.serving.loaded import LoadedModel, LoadError, load
from mlopsd.serving.rollout import Canary, Drill, Shadow
from store import models as model_repo
from store.artifacts import ArtifactStore
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.serving")

PRODUCTION = "production"


class NotServed(Exception):
    """No version answers for this name (no production alias, unknown alias or version)."""


class Unservable(NotServed):
    """The model has a production version, but it cannot be loaded (a 503, not a 404)."""


@dataclass
class Slot:
    live: LoadedModel
    previous: LoadedModel | None = None
    canary: Canary | None = None
    shadow: Shadow | None = None
    drill: Drill | None = None
    stands_in_for: str | None = None
    """The production version `live` answers for because it cannot be loaded (the previous
    one serves, marked as a fallback, until it is repaired or another is promoted)."""


@dataclass(frozen=True)
class LoadFailure:
    version: str
    reason: str
    corrupt: bool
    """The artifact is missing or no longer matches its hash."""


class ServedModels:
    def __init__(self, store: Store, artifacts: ArtifactStore, *, cache_size: int = 8,
                 fallback_to_previous: bool = True) -> None:
        self.store, self.artifacts = store, artifacts
        self.fallback_to_previous = fallback_to_previous
        self._slots: dict[str, Slot] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.failed: dict[str, LoadFailure] = {}
        """Model name → why its production version could not be loaded at start."""
        self.switch_hooks: list[Callable[[str], None]] = []
        """Called with the model's name after a version becomes its live one."""

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Load every production version (a failure is logged and reported, and the other
        models still serve)."""
        for model in model_repo.list_models(self.store):
            for alias, version in model.aliases.items():
                self._aliases[(model.name, alias)] = version
            version = model.aliases.get(PRODUCTION)
            if version is None:
                continue
            try:
                self._slots[model.name] = Slot(self._load(model.name, version))
            except (LoadError, NotFound) as exc:
                self.failed[model.name] = LoadFailure(version, str(exc),
                                                      getattr(exc, "corrupt", False))
                log.error("cannot serve %s@production (%s): %s", model.name, version, exc)
                if self.fallback_to_previous:
                    self._stand_in(model.name, version)

    def _stand_in(self, name: str, version: str) -> None:
        """The version production pointed at before answers in its place, if it loads."""
        previous = model_repo.rollback_target(self.store, name, PRODUCTION)
        if previous is None or previous == version:
            return
        try:
            stand_in = self._load(name, previous)
        except (LoadError, NotFound) as exc:
            log.error("the previous version %s:%s cannot stand in either: %s", name, previous,
                      exc)
            return
        self._slots[name] = Slot(stand_in, stands_in_for=version)
        log.warning("%s:%s answers for %s@production (%s) until it is repaired or another "
                    "version is promoted", name, previous, name, version)

    def problems(self) -> dict[str, str]:
        """Per model whose production version cannot serve: why, and who answers instead."""
        out = {}
        for name, failure in list(self.failed.items()):
            slot = self._slots.get(name)
            instead = (f"{slot.live.version} answers in its place (marked as a fallback)"
                       if slot is not None and slot.stands_in_for else "requests get a 503")
            hint = (f"; `mlops reproduce {name}:{failure.version}` repairs it if it retrains "
                    "to the same bytes" if failure.corrupt else "")
            out[name] = f"{failure.version} cannot serve: {failure.reason}; {instead}{hint}"
        return out

    def retry(self, name: str) -> LoadedModel:
        """Load the production version that failed at start again (after a repair) and make
        it live; LoadError if it still cannot serve."""
        failure = self.failed.get(name)
        if failure is None:
            raise NotServed(f"{name}@production did not fail to load")
        loaded = self._load(name, failure.version)
        self.switch(name, loaded)
        return loaded

    # --- lookup (the hot path) ------------------------------------------------------------

    def live(self, name: str) -> LoadedModel:
        slot = self._slots.get(name)
        if slot is None:
            failure = self.failed.get(name)
            if failure:
                raise Unservable(f"{name}@production ({failure.version}) cannot serve: "
                                 f"{failure.reason}" + (
                                     f"; repair it with `mlops reproduce {name}:"
                                     f"{failure.version}` or promote another version"
                                     if failure.corrupt else ""))
            raise NotServed(f"model {name!r} has no production version (promote one: "
                            f"mlops promote {name} VERSION)")
        return slot.live

    def alias_version(self, name: str, alias: str) -> str:
        version = self._aliases.get((name, alias))
        if version is None:
            raise NotServed(f"model {name!r} has no alias {alias!r}")
        return version

    def cached(self, name: str, version: str) -> LoadedModel | None:
        """A loaded version, without loading (None when it would need loading)."""
        slot = self._slots.get(name)
        if slot is not None:
            for loaded in (slot.live, slot.previous):
                if loaded is not None and loaded.version == version:
                    return loaded
        with self._lock:
            found = self._cache.get(f"{name}:{version}")
            if found is not None:
                self._cache.move_to_end(found.key)
            return found

    def version(self, name: str, version: str) -> LoadedModel:
        """A version by number, loading it if needed (slow the first time: call it off the
        event loop)."""
        return self.cached(name, version) or self._load(name, version)

    def served(self) -> dict[str, Slot]:
        return dict(self._slots)

    def aliases_of(self, name: str) -> dict[str, str]:
        return {alias: version for (model, alias), version in list(self._aliases.items())
                if model == name}

    # --- deploys --------------------------------------------------------------------------

    def prepare(self, name: str, version: str) -> LoadedModel:
        """The standby for a switch: loaded, hash-checked and warmed up (or LoadError)."""
        return self.version(name, version)

    def slot(self, name: str) -> Slot | None:
        return self._slots.get(name)

    def switch(self, name: str, standby: LoadedModel) -> LoadedModel | None:
        """Make `standby` the live version of `name`; returns the one it replaced. A canary
        or shadow of the same version ends with it (it is live now); others go on."""
        with self._lock:
            slot = self._slots.get(name)
            before = slot.live if slot else None
            canary = slot.canary if slot and slot.canary and (
                slot.canary.model.version != standby.version) else None
            shadow = slot.shadow if slot and slot.shadow and (
                slot.shadow.model.version != standby.version) else None
            self._slots[name] = Slot(standby, before if before is not standby else
                                     (slot.previous if slot else None), canary, shadow)
            self._aliases[(name, PRODUCTION)] = standby.version
            self.failed.pop(name, None)
        log.info("%s now serves %s (was %s)", name, standby.version,
                 before.version if before else "nothing")
        for hook in self.switch_hooks:
            hook(name)
        return before

    def set_canary(self, name: str, canary: Canary | None) -> Canary | None:
        """Start (or with None, end) the canary of a served model; returns the one before."""
        with self._lock:
            slot = self._slots[name]
            before, slot.canary = slot.canary, canary
        return before

    def set_shadow(self, name: str, shadow: Shadow | None) -> Shadow | None:
        with self._lock:
            slot = self._slots[name]
            before, slot.shadow = slot.shadow, shadow
        return before

    def set_drill(self, name: str, drill: Drill | None) -> None:
        with self._lock:
            self._slots[name].drill = drill

    def stop_serving(self, name: str) -> None:
        with self._lock:
            slot = self._slots.pop(name, None)
            self._aliases.pop((name, PRODUCTION), None)
        if slot is not None:
            self._remember(slot.live)

    def alias_moved(self, name: str, alias: str, version: str | None) -> None:
        with self._lock:
            if version is None:
                self._aliases.pop((name, alias), None)
            else:
                self._aliases[(name, alias)] = version

    # --- loading --------------------------------------------------------------------------

    def _load(self, name: str, version: str) -> LoadedModel:
        record = model_repo.get_version(self.store, name, version)
        loaded = load(self.artifacts, record)
        self._remember(loaded)
        return loaded

    def _remember(self, loaded: LoadedModel) -> None:
        with self._lock:
            self._cache[loaded.key] = loaded
            self._cache.move_to_end(loaded.key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
