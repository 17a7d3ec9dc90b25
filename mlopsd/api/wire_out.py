"""Store records (dataclasses) as wire models."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

Wire = TypeVar("Wire", bound=BaseModel)


def out(obj: object, cls: type[Wire]) -> Wire:
    """A store dataclass as its wire model."""
    return cls.model_validate(obj, from_attributes=True)
