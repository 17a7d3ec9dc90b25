"""What people may queue through `POST /api/v1/jobs`: names, selectors and numbers, never paths.

The other kinds (ingest, labels, score, compare, check_model, check_data, gate_model)
take file paths and artifact hashes that only the daemon's own services fill in, from
files that arrived in the home; letting a caller name them would let a token holder move
or read any file the daemon can reach. Each kind here goes through the service that owns
it, as its own endpoint does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.context import InvalidParams
from jobs.registry import KINDS
from mlopsd.config import DATASET_NAME
from mlopsd.runtime.runner import UnknownJobKind
from mlopsd.selectors import SelectorError, resolve
from store.jobs import Job

MAX_TEXT = 2000


@dataclass(frozen=True)
class PeopleKind:
    name: str
    params: dict[str, str]
    """Each param people may give, and what it is."""
    queue: Callable[[Any, dict[str, Any], str], Job]
    """queue(daemon, params, actor): hands the request to the service that owns the kind."""


def _known(kind: str, params: dict[str, Any], allowed: dict[str, str]) -> None:
    for key in params:
        if key not in allowed:
            raise InvalidParams(key, f"unknown parameter of {kind} (allowed: "
                                     f"{', '.join(allowed) or 'none'})")


def _name(params: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not DATASET_NAME.match(value):
        raise InvalidParams(key, f"must be a name (letters, digits, '_', '.', '-', at most 128, "
                                 f"starting with a letter or digit), got {value!r}"[:300])
    return value


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidParams(key, f"must be text of at most {MAX_TEXT} characters")
    return value


def _number(params: dict[str, Any], key: str, *, low: float, high: float) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or not low <= value <= high:
        raise InvalidParams(key, f"must be a number from {low:g} to {high:g}, got {value!r}"[:300])
    return float(value)


def _selfcheck(daemon: Any, params: dict[str, Any], actor: str) -> Job:
    return daemon.runner.submit("selfcheck", params, actor=actor)


def _train(daemon: Any, params: dict[str, Any], actor: str) -> Job:
    model = _name(params, "model")
    return daemon.training.submit(model, actor=actor, reason=_text(params, "reason"))


def _reproduce(daemon: Any, params: dict[str, Any], actor: str) -> Job:
    model = _name(params, "model")
    version = params.get("version")
    if not isinstance(version, str) or len(version) > 64:
        raise InvalidParams("version", f"must be a version such as '1.2.0', got {version!r}"[:200])
    return daemon.training.reproduce(model, version, actor=actor)


def _selector(params: dict[str, Any], key: str, daemon: Any) -> Any:
    text = params.get(key)
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        raise InvalidParams(key, f"must be a data selector such as 'sales@latest', got {text!r}"
                                 [:300])
    try:
        return resolve(daemon.store, text)
    except SelectorError as exc:
        raise InvalidParams(key, str(exc)) from None


def _materialise(daemon: Any, params: dict[str, Any], actor: str) -> Job:
    resolved = _selector(params, "selector", daemon)
    return daemon.runner.submit("materialise", resolved.job_params(), actor=actor)


def _drift(daemon: Any, params: dict[str, Any], actor: str) -> Job:
    model = _name(params, "model")
    window = _number(params, "window_s", low=1, high=366 * 86400)
    if window is not None:
        if params.get("against") is not None:
            raise InvalidParams("against", "give against or window_s, not both")
        return daemon.monitoring.check_window(model, window, actor=actor)
    against = params.get("against")
    if against is not None:
        _selector(params, "against", daemon)
    return daemon.monitoring.check(model, against, actor=actor)


PEOPLE_KINDS: dict[str, PeopleKind] = {k.name: k for k in [
    PeopleKind("selfcheck", {"seconds": "stay busy this many seconds (0 to 86400)",
                             "fail": "fail on purpose with this message"}, _selfcheck),
    PeopleKind("train", {"model": "a model declared in mlops.toml",
                         "reason": "why (kept in the audit log)"}, _train),
    PeopleKind("reproduce", {"model": "a registered model", "version": "its version, e.g. 1.2.0"},
               _reproduce),
    PeopleKind("materialise", {"selector": "a data selector, e.g. sales@last:3"}, _materialise),
    PeopleKind("drift", {"model": "a model with a production version",
                         "against": "a data selector (default: its dataset's latest version)",
                         "window_s": "instead: its prediction log's last this many seconds"},
               _drift),
]}


class DaemonKind(Exception):
    """A kind only the daemon's services queue (its params carry paths in the home)."""

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"job kind {kind!r} is queued by the daemon itself, from files that arrive in the "
            f"home; people may queue: {', '.join(PEOPLE_KINDS)} (see GET /api/v1/job-kinds)")


def queue(daemon: Any, kind: str, params: dict[str, Any], *, actor: str) -> Job:
    """Queue a job a person asked for; refuses the daemon's own kinds."""
    people = PEOPLE_KINDS.get(kind)
    if people is None:
        if kind in KINDS:
            raise DaemonKind(kind)
        raise UnknownJobKind(kind, list(PEOPLE_KINDS))
    _known(kind, params, people.params)
    return people.queue(daemon, params, actor)
