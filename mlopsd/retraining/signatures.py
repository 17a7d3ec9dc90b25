"""Is a version's input signature compatible with production's? Callers built against
production send its columns with its types: the candidate must take the same inputs — the
same names, dtypes and categorical flags, and the same task — which is also the registry's
rule for a version that is not a new major (`services/training.signature_hash`). New
categories of a categorical input are compatible (production scores an unseen category as
missing; so would the candidate)."""

from __future__ import annotations

from typing import Any


def _inputs(signature: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in signature.get("inputs") or []}


def _kind(item: dict[str, Any]) -> str:
    return f"{item.get('dtype')}{', categorical' if item.get('categorical') else ''}"


def differences(candidate: dict[str, Any], production: dict[str, Any]) -> list[str]:
    """What a caller of production would find changed, one line each; [] when compatible."""
    found = []
    if candidate.get("task") != production.get("task"):
        found.append(f"task: {candidate.get('task')} (production: {production.get('task')})")
    ours, theirs = _inputs(candidate), _inputs(production)
    for name in theirs.keys() - ours.keys():
        found.append(f"input {name!r} ({_kind(theirs[name])}) is not taken any more: "
                     "production's callers send it, the candidate ignores it")
    for name in ours.keys() - theirs.keys():
        found.append(f"input {name!r} ({_kind(ours[name])}) is new: production's callers "
                     "do not send it")
    for name in ours.keys() & theirs.keys():
        if _kind(ours[name]) != _kind(theirs[name]):
            found.append(f"input {name!r} is {_kind(ours[name])} (production: "
                         f"{_kind(theirs[name])})")
    return sorted(found)
