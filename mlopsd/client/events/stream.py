"""The stream itself: `stream.lost`, which events are telemetry, and the JSON schema of
the whole catalogue."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from mlopsd.client.events.base import CATALOGUE, EventData


class StreamLost(EventData):
    """Sent (without an id) when events a client asked for are no longer kept (`expired`:
    older than the daemon keeps; `unknown`: an id this daemon never gave), or when it fell
    too far behind. The stream goes on after `resume_after`."""

    name: ClassVar[str] = "stream.lost"
    missed: int | None
    """How many events were missed; None when it cannot be known."""
    reason: Literal["expired", "unknown"]
    oldest_kept_id: int | None
    resume_after: int


TELEMETRY = frozenset({"train.iteration", "serving.stats", "job.progress", "score.progress",
                       "run.metrics"})
"""Numbers while something runs, rather than a change of state."""


def json_schema() -> dict[str, Any]:
    """A JSON schema (2020-12) of the envelope with its payload, one branch per event name;
    `x-events` lists the names with their payload's definition."""
    defs: dict[str, Any] = {}
    branches, names = [], {}
    for name, cls in sorted(CATALOGUE.items()):
        schema = cls.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[cls.__name__] = schema
        names[name] = {"$ref": f"#/$defs/{cls.__name__}",
                       "description": (cls.__doc__ or "").strip() or None}
        branches.append({
            "properties": {"type": {"const": name},
                           "data": {"$ref": f"#/$defs/{cls.__name__}"}},
        })
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "mlops-events",
        "title": "mlops events",
        "description": "An event as the daemon streams it (GET /api/v1/events): the "
                       "envelope, its `type` one of the catalogued names and `data` that "
                       "name's payload.",
        "type": "object",
        "required": ["at", "type", "data"],
        "properties": {
            "id": {"type": ["integer", "null"]},
            "at": {"type": "string"},
            "type": {"enum": sorted(CATALOGUE)},
            "data": {"type": "object"},
            "audit_id": {"type": ["integer", "null"]},
        },
        "oneOf": branches,
        "$defs": defs,
        "x-events": names,
    }
