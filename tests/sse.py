"""A plain Server-Sent Events reader for tests: what a browser's EventSource or any SSE
library sees — `id:`, `event:` and `data:` lines — read over real HTTP, resuming with the
`Last-Event-ID` header as such clients do."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True)
class Frame:
    id: int | None
    event: str
    data: dict[str, Any]


def read_events(base_url: str, *, until: Callable[[list[Frame]], bool],
                last_event_id: int | None = None, after: int | None = None,
                timeout: float = 120.0, on_frame: Callable[[Frame], None] | None = None
                ) -> list[Frame]:
    """Read frames until `until(frames)` holds; an AssertionError after `timeout` seconds
    (keep-alive comments arrive every 15 s, so a quiet stream is noticed too)."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    params = {"after": after} if after is not None else {}
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=timeout)) as http, \
            http.stream("GET", "/api/v1/events", headers=headers, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        try:
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    break
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    continue
                if "data" not in fields:
                    continue
                frame = Frame(int(fields["id"]) if "id" in fields else None,
                              fields.get("event", "message"), orjson.loads(fields["data"]))
                fields = {}
                frames.append(frame)
                if on_frame is not None:
                    on_frame(frame)
                if until(frames):
                    return frames
        except httpx.ReadTimeout:
            pass
    raise AssertionError(f"the condition did not hold within {timeout} s; got "
                         f"{[(f.id, f.event) for f in frames][-20:]}")


def saw(event: str, **data: Any) -> Callable[[list[Frame]], bool]:
    """A condition: a frame of `event` whose payload holds `data`."""
    def check(frames: list[Frame]) -> bool:
        return any(f.event == event and all(f.data["data"].get(k) == v
                                            for k, v in data.items()) for f in frames)
    return check
