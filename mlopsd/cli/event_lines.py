"""`mlops events` in text: one line per event, its payload read through the catalogue (the
same types the daemon publishes), and `--list`: the catalogue itself."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mlopsd.client.events import CATALOGUE, UnknownEvent, payload_of


def line(at: str | None, event_id: int | None, type_: str, data: dict[str, Any],
         audit_id: int | None = None) -> str:
    """`12:03:04  #42     alert.opened         alert_id=3 rule=… (audit #17)`: the payload's
    fields in the catalogue's order, empty ones left out; an event this client does not
    know (a newer daemon) is shown as it came."""
    try:
        fields = payload_of(type_, data).model_dump(exclude_none=True)
    except (UnknownEvent, ValidationError):
        fields = data
    text = " ".join(f"{k}={_short(v)}" for k, v in fields.items())
    ident = f"#{event_id}" if event_id is not None else "-"
    audited = f" (audit #{audit_id})" if audit_id is not None else ""
    clock = at[11:19] if at else "--:--:--"
    return f"{clock}  {ident:<7} {type_:<22} {text}{audited}"


def catalogue_lines() -> list[str]:
    """Each event name with the first line of what it says."""
    out = []
    for name, cls in sorted(CATALOGUE.items()):
        doc = (cls.__doc__ or "").strip().splitlines()
        fields = ", ".join(cls.model_fields)
        out.append(f"{name:<24} {fields}" + (f"  — {doc[0]}" if doc else ""))
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
