"""Checks for job parameters, shared by the kinds: each raises InvalidParams naming the
field (a dotted path such as `spec.columns.temp.min`), so the API answers 422 with it."""

from __future__ import annotations

from typing import Any

from jobs.context import InvalidParams


def no_unknown_keys(given: dict, known: set[str], where: str = "") -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise InvalidParams(f"{where}{extra[0]}",
                            "unknown key (allowed: " + ", ".join(sorted(known)) + ")")


def an_object(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidParams(field, f"must be an object, got {type(value).__name__}")
    return value


def a_name(value: Any, field: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidParams(field, f"must be a non-empty string, got {value!r}")
    return value
