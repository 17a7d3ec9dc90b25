"""Small text helpers shared by the screens: times, numbers, sparklines, verdicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from rich.text import Text

# the screens take every text helper from here; the figures are the CLI reports' too
from mlopsd.client.numbers import number as number

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float | None], width: int = 12) -> str:
    """The last `width` values as bars scaled to their own range (blank: no value)."""
    points = list(values)[-width:]
    known = [v for v in points if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(" " if v is None else BARS[int((v - low) / span * (len(BARS) - 1))]
                   for v in points)


def when(moment: datetime | str | None, now: datetime | None = None) -> str:
    """A time as the UI shows it: UTC, to the second."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def verdict(drifted: bool | None) -> Text:
    if drifted is None:
        return Text("no verdict", style="dim")
    return Text("DRIFT", style="bold red") if drifted else Text("ok", style="green")


def state_text(state: str) -> Text:
    style = {"running": "bold yellow", "queued": "yellow", "succeeded": "green",
             "failed": "bold red", "cancelled": "dim", "interrupted": "red",
             "open": "bold red", "acknowledged": "yellow", "resolved": "green",
             "awaiting_approval": "bold magenta", "done": "green",
             "rolled-back": "bold red", "promoted": "green"}.get(state, "")
    return Text(state, style=style)


def short(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
