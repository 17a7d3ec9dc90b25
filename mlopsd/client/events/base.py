"""The catalogue's machinery: payloads register themselves by name; the envelope."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

CATALOGUE: dict[str, type[EventData]] = {}
"""Event name → its payload model."""


class EventData(BaseModel):
    """A payload. Subclasses name their event with `name` and are catalogued."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name:
            if name in CATALOGUE:
                raise TypeError(f"event {name!r} is catalogued twice")
            CATALOGUE[name] = cls


class Event(BaseModel):
    """The envelope every event travels in (`stream.lost` alone has no id)."""

    id: int | None = None
    at: str
    type: str
    data: dict[str, Any]
    audit_id: int | None = None

    def payload(self) -> EventData:
        """The typed payload (raises for a name the catalogue does not know)."""
        return payload_of(self.type, self.data)


def payload_of(name: str, data: dict[str, Any]) -> EventData:
    cls = CATALOGUE.get(name)
    if cls is None:
        raise UnknownEvent(name)
    return cls.model_validate(data)


class UnknownEvent(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name[:100]!r} is not in the event catalogue")
