"""Four eyes: where a model's policy says `approval = "required"` and `separate_approver =
true`, the token that started a pipeline or trained a version may not approve it, nor move
that version to production itself. Automatic starters (the daemon, an alert, a schedule)
name no token, so any approver's token may approve what they started.

Who trained a version is read from its registration's audit entry (tamper-evident, see
store/audit_chain.py); a version a pipeline trained counts as started by whoever started
that pipeline."""

from __future__ import annotations

from typing import Any

from mlopsd.config import RetrainConfig
from mlopsd.services.errors import ServiceError
from store import audit
from store import pipelines as pipeline_repo
from store.db import Store
from store.errors import NotFound


def token_of(actor: str | None) -> str | None:
    """The token part of an actor (`cli:alice@alice` → `alice`); None for the daemon's own."""
    if not actor or "@" not in actor:
        return None
    return actor.rpartition("@")[2] or None


def applies(policy: RetrainConfig | None) -> bool:
    return policy is not None and policy.approval == "required" and policy.separate_approver


def check(policy: RetrainConfig | None, *, starter: str | None, approver: str,
          what: str) -> None:
    if not applies(policy):
        return
    mine, theirs = token_of(approver), token_of(starter)
    if mine is not None and mine == theirs:
        raise ServiceError(403, f"four eyes: token {mine!r} started {what}, so another "
                           "approver's token must approve it (the model's policy: approval "
                           "= \"required\", separate_approver = true)")


def starter_of_version(store: Store, model: str, version: str) -> str | None:
    actor = audit.registered_by(store, model, version)
    if actor and actor.startswith("pipeline:"):
        try:
            return pipeline_repo.get(store, int(actor.split(":", 1)[1])).actor
        except (NotFound, ValueError):
            return None
    return actor


def check_promotion(store: Store, policy: RetrainConfig | None, model: str, version: str,
                    *, approver: str) -> None:
    """Moving `version` to production by hand: not by the token that trained it."""
    if applies(policy):
        check(policy, starter=starter_of_version(store, model, version), approver=approver,
              what=f"the training of {model}:{version}")


def check_promotion_of(daemon: Any, model: str, version: str | None, *, approver: str) -> None:
    """The API's check before a person moves `version` of `model` to production."""
    declared = daemon.config.models().get(model)
    if version is not None and declared is not None:
        check_promotion(daemon.store, declared.retrain, model, version, approver=approver)
