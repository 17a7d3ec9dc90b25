"""The one place that decides whether a model name is known, and what a misspelled one is
told: "no model named 'ridres' (known: riders)", HTTP 404, code `unknown_model`.

Known means registered in the store, named by a run, or declared under `[[model]]` in
mlops.toml (a declared model has no version until it is trained, and `mlops train` must
still find it). The API
checks every route that names a model before its service is asked (mlopsd/api/model_names.py),
the prediction endpoints and the batch-scoring drops ask when no version answers, so each
command gets the same message however its service would have put it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from mlopsd.client.wire import UNKNOWN_MODEL
from mlopsd.services.errors import ServiceError
from store import models as model_repo
from store.db import Store

_SHOWN = 12
"""At most this many known names in the message: the closest to the one asked for."""


class UnknownModel(ServiceError):
    code = UNKNOWN_MODEL

    def __init__(self, name: str, known: list[str], field: str = "model") -> None:
        super().__init__(404, unknown_model_message(name, known), field)


def unknown_model_message(name: str, known: list[str]) -> str:
    if len(known) > _SHOWN:
        closest = difflib.get_close_matches(name, known, n=_SHOWN, cutoff=0.0)
        shown = ", ".join(closest) + f", … ({len(known)} in all: mlops models)"
    else:
        shown = ", ".join(known) or "none yet"
    return f"no model named {name!r} (known: {shown})"


class ModelNames:
    def __init__(self, store: Store, declared: Callable[[], Iterable[str]]) -> None:
        self.store = store
        self.declared = declared
        """The names under [[model]] in the config in force (it can be reloaded)."""

    def known(self) -> list[str]:
        return sorted({*model_repo.named_models(self.store), *self.declared()})

    def check(self, name: str, field: str = "model") -> None:
        """Raise UnknownModel unless `name` is registered or declared."""
        known = self.known()
        if name not in known:
            raise UnknownModel(name, known, field)
