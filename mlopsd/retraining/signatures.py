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


def differences(candidate: dict[str, Any], other: dict[str, Any], *,
                against: str = "production") -> list[str]:
    """What a caller of the version `against` names would find changed, one line each; []
    when compatible."""
    found = []
    if candidate.get("task") != other.get("task"):
        found.append(f"task: {candidate.get('task')} ({against}: {other.get('task')})")
    ours, theirs = _inputs(candidate), _inputs(other)
    for name in theirs.keys() - ours.keys():
        found.append(f"input {name!r} ({_kind(theirs[name])}) is not taken any more: "
                     f"{against}'s callers send it, the candidate ignores it")
    for name in ours.keys() - theirs.keys():
        found.append(f"input {name!r} ({_kind(ours[name])}) is new: {against}'s callers "
                     "do not send it")
    for name in ours.keys() & theirs.keys():
        if _kind(ours[name]) != _kind(theirs[name]):
            found.append(f"input {name!r} is {_kind(ours[name])} ({against}: "
                         f"{_kind(theirs[name])})")
    return sorted(found)
