"""Who answers a prediction request: the one place that reads the serving slots.

`Dispatcher.route` turns a request's target (a name, an alias or a version, and the
client's key) into a plain `Route`: the version that predicts and how it is named in the
reply, the canary arm whose numbers it counts in, the drill it takes part in, the shadow
that scores it afterwards, and who answers if the version fails (the live version for a
canary, the previous version for the live one, then the configured default). The request
then follows the route; nothing else on the hot path looks at canaries or slots.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from mlopsd.client.wire import UNKNOWN_MODEL
from mlopsd.services.model_names import ModelNames, UnknownModel
from mlopsd.serving.errors import ServingError
from mlopsd.serving.loaded import LoadedModel, LoadError
from mlopsd.serving.rollout import Shadow
from mlopsd.serving.served import NotServed, ServedModels, Unservable
from mlopsd.serving.stats import VersionStats
from store.errors import NotFound

PRODUCTION, CANARY, FALLBACK, FALLBACK_DEFAULT, VERSION = (
    "production", "canary", "fallback", "fallback-default", "version")


@dataclass(frozen=True)
class Route:
    model: LoadedModel
    served_as: str
    """production, canary, fallback (the previous version standing in for a production
    version that cannot load), an alias's name, or version."""
    arm: VersionStats | None = None
    """The canary arm (champion or candidate) whose numbers this request counts in."""
    failure_rate: float = 0.0
    """A failure drill: the share of requests like this one that fail on purpose."""
    delay_s: float = 0.0
    """A latency drill: this request is answered this much later."""
    shadow: Shadow | None = None
    """Scores the same rows after the reply has gone out."""
    backup: LoadedModel | None = None
    """Answers when `model` fails."""
    default: tuple[Any] | None = None
    """The configured answer per row (in a 1-tuple: the value may be None) when the model
    and the backup both fail."""

    @property
    def drilled(self) -> bool:
        return bool(self.failure_rate or self.delay_s)


class Dispatcher:
    def __init__(self, served: ServedModels, *, defaults: dict[str, Any] | None = None,
                 model_names: ModelNames | None = None) -> None:
        self.served = served
        self.defaults = defaults or {}
        self.model_names = model_names

    async def route(self, name: str, alias: str | None, version: str | None,
                    client_key: str = "") -> Route:
        if version is not None or alias not in (None, PRODUCTION):
            model, served_as = await self._pinned(name, alias, version)
            return Route(model, served_as)
        try:
            live = self.served.live(name)
        except NotServed as exc:
            raise await self.not_served(name, exc) from None
        slot = self.served.slot(name)
        if slot is None:  # switched away meanwhile: the version read above answers
            return Route(live, PRODUCTION)
        default = (self.defaults[name],) if name in self.defaults else None
        canary = slot.canary
        if canary is not None and canary.takes(client_key):
            return Route(canary.model, CANARY, arm=canary.candidate,
                         failure_rate=canary.drill_failure_rate, backup=slot.live,
                         default=default)
        if slot.stands_in_for:  # the previous version answers for one that cannot load
            return Route(slot.live, FALLBACK, arm=canary.champion if canary else None)
        failure_rate, delay_s = slot.drill.take() if slot.drill is not None else (0.0, 0.0)
        return Route(slot.live, PRODUCTION, arm=canary.champion if canary else None,
                     failure_rate=failure_rate, delay_s=delay_s, shadow=slot.shadow,
                     backup=slot.previous, default=default)

    async def target(self, name: str, alias: str | None, version: str | None) -> Route:
        """The version a request names, without canary, drill, shadow or backup (an NDJSON
        stream holds one version from its first line to its last)."""
        if version is not None or alias not in (None, PRODUCTION):
            return Route(*await self._pinned(name, alias, version))
        try:
            return Route(self.served.live(name), PRODUCTION)
        except NotServed as exc:
            raise await self.not_served(name, exc) from None

    async def _pinned(self, name: str, alias: str | None,
                      version: str | None) -> tuple[LoadedModel, str]:
        """A version named by number or by an alias other than production (loaded on a
        thread the first time: this loop answers predictions)."""
        try:
            if version is None:
                assert alias is not None
                version, served_as = self.served.alias_version(name, alias), alias
            else:
                served_as = VERSION
            found = self.served.cached(name, version)
            if found is None:
                found = await asyncio.get_running_loop().run_in_executor(
                    None, self.served.version, name, version)
            return found, served_as
        except (NotServed, NotFound) as exc:
            raise await self.not_served(name, exc) from None
        except LoadError as exc:
            raise ServingError(503, str(exc)) from None

    async def not_served(self, name: str, exc: Exception) -> ServingError:
        """A name that is no model at all gets the API's one message for it; a known model
        is told why it does not answer. (Asked only when nothing answers: a prediction
        never waits on the store.)"""
        if isinstance(exc, Unservable):  # it exists, its version cannot be loaded
            return ServingError(503, str(exc), code="unservable")
        await self.check_known(name)
        return ServingError(404, str(exc))

    async def check_known(self, name: str) -> None:
        """ServingError with the one unknown-model 404 unless `name` is a model (the store
        is read on a thread: this loop answers predictions)."""
        if self.model_names is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.model_names.check,
                                                             name)
        except UnknownModel as unknown:
            raise ServingError(404, unknown.message, field=unknown.field,
                               code=UNKNOWN_MODEL) from None
