"""The door for the registry's own changes beyond alias moves (those are deploys'): a
version archived, with its audit entry and its event in one store transaction."""

from __future__ import annotations

from mlopsd.client.events import ModelArchived
from mlopsd.runtime.events import EventBus
from store import audit
from store import models as model_repo
from store.db import Store


class Registry:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store, self.bus = store, bus

    def archive(self, model: str, version: str, *, actor: str, reason: str | None = None,
                pipeline_id: int | None = None) -> None:
        """Archive a version (an aliased one is a Conflict: move the alias first)."""
        with self.store.transaction():
            model_repo.set_archived(self.store, model, version)
            entry = audit.append(self.store, actor=actor, action="model.archive",
                                 subject=f"model:{model}", reason=reason,
                                 details={"version": version,
                                          **({"pipeline_id": pipeline_id}
                                             if pipeline_id is not None else {})})
            self.bus.publish(ModelArchived(model=model, version=version, actor=actor,
                                           reason=reason), audit=entry)
