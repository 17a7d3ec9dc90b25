"""Small helpers shared by the repositories: JSON columns and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

MAX_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z in milliseconds since the epoch (MLflow's unit of time): the
last time Python's datetime holds; later ones are refused where they come in."""


def to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def from_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def naive_utc(ts: datetime) -> datetime:
    """What the store keeps: UTC without a zone (a zone-aware value is converted)."""
    return ts if ts.tzinfo is None else ts.astimezone(UTC).replace(tzinfo=None)


def aware(ts: datetime | None) -> datetime | None:
    """Store timestamps are naive UTC; hand them out zone-aware."""
    return None if ts is None else ts.replace(tzinfo=UTC)
