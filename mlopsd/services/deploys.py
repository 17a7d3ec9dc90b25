"""Deploys: blue-green switches on alias moves, canaries, shadows, their promotion, abort
and automatic rollback. Every step goes to the deployment history and the audit log.

A canary or shadow lives in the serving process's memory; a daemon restart ends it (the
history says so) and production serves as the alias says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mlopsd.client.events import (
    DeployAborted,
    DeployCanary,
    DeployDrill,
    DeployEnded,
    DeployPromoted,
    DeployRolledBack,
    DeployShadow,
    ModelAliasMoved,
)
from mlopsd.config import DATASET_NAME, Config
from mlopsd.runtime.events import EventBus
from mlopsd.services.alerts import Alerts
from mlopsd.services.errors import ServiceError
from mlopsd.serving.loaded import LoadedModel, LoadError
from mlopsd.serving.rollout import Canary, CanaryPolicy, Drill, Shadow
from mlopsd.serving.served import PRODUCTION, ServedModels, Slot
from store import audit
from store import deployments as deployment_repo
from store import models as model_repo
from store.audit import AuditEntry
from store.db import Store
from store.models import AliasMove

log = logging.getLogger("mlops.deploys")


_ENDED = {"promoted": DeployPromoted, "aborted": DeployAborted,
          "rolled-back": DeployRolledBack}


class DeployError(ServiceError):
    pass


def _when_committed(store: Store, switch: Callable[[], None]) -> None:
    """What serving does about a change (a switch, a trial's start) happens as the change
    commits — not before (a failed commit would leave serving ahead of the store), and
    before its event is heard (a client that hears it finds serving changed)."""
    tx = store.current()
    assert tx is not None, "within the change's transaction"
    tx.after_commit.insert(0, switch)


class DeployService:
    def __init__(self, config: Config, store: Store, served: ServedModels,
                 bus: EventBus) -> None:
        self.config, self.store, self.served, self.bus = config, store, served, bus
        self.alerts = Alerts(store, bus)
        self.production_moved: list[Callable[[str, str | None, str | None], None]] = []
        """Called (model, from, to) after production moved, e.g. by monitoring: its drift
        stream follows the production version."""
        self._locks: dict[str, threading.RLock] = {}
        self._locks_lock = threading.Lock()
        why = "the daemon restarted"
        with store.transaction():
            ended = deployment_repo.finish_running(store, why)
            for deployment_id, model, version, strategy in ended:
                bus.publish(DeployEnded(model=model, version=version, strategy=strategy,
                                        deployment_id=deployment_id, reason=why))
        if ended:
            log.info("ended %s canary/shadow deploy(s) left running by the last run",
                     len(ended))

    def _lock(self, name: str) -> threading.RLock:
        """One deploy step at a time per model: a person's promote and the watch's rollback
        never interleave."""
        with self._locks_lock:
            return self._locks.setdefault(name, threading.RLock())

    # --- blue-green (alias moves) ---------------------------------------------------------

    def move_alias(self, name: str, alias: str, version: str | None, *, actor: str,
                   reason: str | None, kind: str = "move") -> AliasMove:
        """Move an alias; for `production` a blue-green deploy: the version is loaded and
        checked in a standby first, then the alias moves and the switch is made (a version
        that cannot serve leaves production as it was)."""
        if not DATASET_NAME.match(alias):
            raise DeployError(422, f"{alias[:60]!r}{'…' if len(alias) > 60 else ''} is not an "
                              "alias name (letters, digits, '_', '.', '-', at most 128, starting "
                              "with a letter or digit)", "alias")
        with self._lock(name):
            return self._move_alias(name, alias, version, actor=actor, reason=reason,
                                    kind=kind)

    def _move_alias(self, name: str, alias: str, version: str | None, *, actor: str,
                    reason: str | None, kind: str) -> AliasMove:
        standby, detail = None, None
        if alias == PRODUCTION and version is not None:
            standby, detail = self._standby(name, version)
        candidates: list[Canary | Shadow] = []
        action = "model.rollback" if kind == "rollback" else "model.promote"
        # The alias, the deployment step, the audit entry and the event in one transaction;
        # the switch is made as it commits, before the event is heard.
        with self.store.transaction():
            move = model_repo.move_alias(
                self.store, name, alias, version, actor=actor, reason=reason, kind=kind,
                deploy=("rollback" if kind == "rollback" else "blue-green") if standby
                else None, deploy_detail=detail)
            entry = audit.append(self.store, actor=actor, action=action,
                                 subject=f"model:{name}", reason=reason,
                                 details={"alias": alias, "from": move.from_version,
                                          "to": move.to_version,
                                          **({"deploy": detail} if detail else {})})
            self.bus.publish(ModelAliasMoved(
                model=name, alias=alias, from_version=move.from_version,
                to_version=move.to_version, kind=kind, actor=actor, reason=reason),
                audit=entry)
            if standby is not None:
                slot = self.served.slot(name)
                candidates = [c for c in ((slot.canary, slot.shadow) if slot else ())
                              if c is not None and c.model.version == standby.version]
                _when_committed(self.store, lambda: self.served.switch(name, standby))
            elif alias == PRODUCTION and version is None:
                _when_committed(self.store, lambda: self.served.stop_serving(name))
            else:
                _when_committed(self.store,
                                lambda: self.served.alias_moved(name, alias, version))
        for candidate in candidates:  # it is live now: its trial ends as promoted
            self._end(name, candidate, "promoted", candidate.summary())
        if alias == PRODUCTION:
            for listener in self.production_moved:
                try:
                    listener(name, move.from_version, move.to_version)
                except Exception:  # the move stands; a listener's failure is its own
                    log.exception("after %s moved to %s", name, move.to_version)
        return move

    def _standby(self, name: str, version: str) -> tuple[LoadedModel, dict[str, Any]]:
        started = time.perf_counter()
        try:
            standby = self.served.prepare(name, version)
        except LoadError as exc:
            raise DeployError(409, f"{name}:{version} cannot serve, production is unchanged: "
                              f"{exc}", "version") from None
        return standby, {"checks": ["artifact hash", "signature", "warm-up prediction"],
                         "standby_ready_ms": round((time.perf_counter() - started) * 1000, 2)}

    def canary(self, name: str, version: str, **kwargs: Any) -> dict[str, Any]:
        with self._lock(name):
            return self._canary_locked(name, version, **kwargs)

    def shadow(self, name: str, version: str, **kwargs: Any) -> dict[str, Any]:
        with self._lock(name):
            return self._shadow_locked(name, version, **kwargs)

    def promote(self, name: str, **kwargs: Any) -> AliasMove:
        with self._lock(name):
            return self._promote_locked(name, **kwargs)

    def abort(self, name: str, **kwargs: Any) -> dict[str, Any]:
        with self._lock(name):
            return self._abort_locked(name, **kwargs)

    def drill(self, name: str, **kwargs: Any) -> dict[str, Any]:
        with self._lock(name):
            return self._drill_locked(name, **kwargs)

    # --- canary and shadow ----------------------------------------------------------------

    def _canary_locked(self, name: str, version: str, *, percent: float, actor: str,
                       reason: str | None, policy: CanaryPolicy | None = None,
                       drill_failure_rate: float = 0.0) -> dict[str, Any]:
        slot = self._served_slot(name)
        if slot.canary is not None:
            raise DeployError(409, f"{name} already has a canary ({slot.canary.model.version}): "
                              f"promote or abort it first")
        if version == slot.live.version:
            raise DeployError(409, f"{name}:{version} is already live", "version")
        if not 0 < percent <= 100:
            raise DeployError(422, f"percent must be in (0, 100], got {percent}", "percent")
        standby, detail = self._standby(name, version)
        policy = policy or self._policy()
        with self.store.transaction():
            deployment_id = deployment_repo.start(
                self.store, model=name, strategy="canary", from_version=slot.live.version,
                to_version=version, actor=actor, reason=reason,
                detail={**detail, "percent": percent, "policy": policy.__dict__,
                        "drill_failure_rate": drill_failure_rate})
            canary = Canary(standby, percent, deployment_id, policy, drill_failure_rate)
            entry = audit.append(self.store, actor=actor, action="deploy.canary",
                                 subject=f"model:{name}", reason=reason,
                                 details={"version": version, "percent": percent,
                                          "deployment_id": deployment_id})
            self.bus.publish(DeployCanary(model=name, version=version, percent=percent,
                                          deployment_id=deployment_id), audit=entry)
            _when_committed(self.store, lambda: self.served.set_canary(name, canary))
        return canary.summary()

    def _shadow_locked(self, name: str, version: str, *, actor: str, reason: str | None
                       ) -> dict[str, Any]:
        slot = self._served_slot(name)
        if slot.shadow is not None:
            raise DeployError(409, f"{name} already has a shadow ({slot.shadow.model.version}):"
                              " abort it first")
        standby, detail = self._standby(name, version)
        with self.store.transaction():
            deployment_id = deployment_repo.start(
                self.store, model=name, strategy="shadow", from_version=slot.live.version,
                to_version=version, actor=actor, reason=reason, detail=detail)
            shadow = Shadow(standby, deployment_id)
            entry = audit.append(self.store, actor=actor, action="deploy.shadow",
                                 subject=f"model:{name}", reason=reason,
                                 details={"version": version,
                                          "deployment_id": deployment_id})
            self.bus.publish(DeployShadow(model=name, version=version,
                                          deployment_id=deployment_id), audit=entry)
            _when_committed(self.store, lambda: self.served.set_shadow(name, shadow))
        return shadow.summary()

    def _promote_locked(self, name: str, *, actor: str, reason: str | None) -> AliasMove:
        """The canary (or else the shadow) becomes production, blue-green."""
        slot = self._served_slot(name)
        candidate = slot.canary or slot.shadow
        if candidate is None:
            raise DeployError(409, f"{name} has no canary or shadow to promote")
        # The switch ends the canary (or shadow) of that version as promoted.
        return self._move_alias(name, PRODUCTION, candidate.model.version, actor=actor,
                                reason=reason or f"promoted from {candidate.summary()['strategy']}",
                                kind="move")

    def _abort_locked(self, name: str, *, actor: str, reason: str | None,
                      state: str = "aborted", only: Canary | Shadow | None = None
                      ) -> dict[str, Any]:
        slot = self._served_slot(name)
        ended = [c for c in (slot.canary, slot.shadow) if c is not None
                 and (only is None or c is only)]
        if not ended:
            raise DeployError(409, f"{name} has no canary or shadow to abort")
        summaries = []
        for candidate in ended:
            summary = candidate.summary()
            with self.store.transaction():
                entry = audit.append(self.store, actor=actor, action=f"deploy.{state}",
                                     subject=f"model:{name}", reason=reason,
                                     details={"version": candidate.model.version,
                                              "deployment_id": candidate.deployment_id})
                self._end(name, candidate, state, summary, reason=reason, audited=entry)
            summaries.append(summary)
        return {"model": name, "state": state, "ended": summaries}

    def _end(self, name: str, candidate: Canary | Shadow, state: str,
             summary: dict[str, Any], *, reason: str | None = None,
             audited: AuditEntry | None = None) -> None:
        """The trial leaves its slot; its deployment row ends with its event (one
        transaction: the caller's, with its audit entry, when it has one open)."""
        if isinstance(candidate, Canary):
            self.served.set_canary(name, None)
        else:
            self.served.set_shadow(name, None)
        with self.store.transaction():
            if deployment_repo.finish(self.store, candidate.deployment_id, state, summary):
                self.bus.publish(_ENDED[state](
                    model=name, version=candidate.model.version,
                    strategy=summary["strategy"], deployment_id=candidate.deployment_id,
                    reason=reason), audit=audited)

    def _drill_locked(self, name: str, *, failure_rate: float, requests: int, actor: str,
                      reason: str | None, delay_s: float = 0.0) -> dict[str, Any]:
        """Make the live version fail on purpose for `requests` requests."""
        slot = self._served_slot(name)
        with self.store.transaction():
            entry = audit.append(self.store, actor=actor, action="deploy.drill",
                                 subject=f"model:{name}", reason=reason,
                                 details={"version": slot.live.version,
                                          "failure_rate": failure_rate,
                                          "delay_s": delay_s, "requests": requests})
            self.bus.publish(DeployDrill(model=name, version=slot.live.version,
                                         failure_rate=failure_rate, requests=requests,
                                         delay_s=delay_s), audit=entry)
            _when_committed(self.store, lambda: self.served.set_drill(
                name, Drill(failure_rate, requests, delay_s)))
        return {"model": name, "version": slot.live.version, "failure_rate": failure_rate,
                "requests": requests,
                "fallback": (f"version {slot.previous.version}" if slot.previous else
                             "the configured default" if name in self.config.serving.fallback
                             else "none: the drill's requests will fail with a 500")}

    def status(self, name: str) -> dict[str, Any]:
        slot = self._served_slot(name)
        return {"model": name, "live": slot.live.version,
                "previous": slot.previous.version if slot.previous else None,
                "canary": slot.canary.summary() if slot.canary else None,
                "shadow": slot.shadow.summary() if slot.shadow else None}

    # --- the watch ------------------------------------------------------------------------

    def check_canaries(self) -> None:
        """Roll back every canary its policy condemns (run every second by the scheduler)."""
        for name, slot in self.served.served().items():
            canary = slot.canary
            if canary is None:
                continue
            why = canary.verdict()
            if why is None:
                continue
            with self._lock(name):
                current = self.served.slot(name)
                if current is None or current.canary is not canary:
                    continue  # promoted or aborted by a person meanwhile
                log.warning("auto-rollback of %s canary %s: %s", name, canary.model.version,
                            why)
                with self.store.transaction():
                    self._abort_locked(name, actor="mlopsd", reason=f"auto-rollback: {why}",
                                       state="rolled-back", only=canary)
                    self.alerts.raise_(rule="canary_rolled_back", subject=f"model:{name}",
                                       severity="critical",
                                       message=f"canary {name}:{canary.model.version} was "
                                               f"rolled back: {why}",
                                       detail=canary.summary())

    def _served_slot(self, name: str) -> Slot:
        slot = self.served.slot(name)
        if slot is None:
            raise DeployError(409, f"{name} has no production version serving: promote one "
                              f"first (mlops promote {name} VERSION)")
        return slot

    def canary_policy(self) -> CanaryPolicy:
        """The `[serving]` canary policy (a retraining pipeline adapts its min_requests)."""
        return self._policy()

    def _policy(self) -> CanaryPolicy:
        s = self.config.serving
        return CanaryPolicy(min_requests=s.canary_min_requests,
                            error_margin=s.canary_error_margin,
                            latency_margin=s.canary_latency_margin,
                            latency_floor_ms=s.canary_latency_floor_ms)

