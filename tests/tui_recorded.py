"""The daemon's replies recorded once and replayed, so the TUI's snapshot tests draw the
same screens every time (times, ids, pids and ports fixed). Recorded from a real daemon
filled through the real paths (`python -m tests.regen_tui_snapshots`); the pilot tests,
not these, check behaviour against a live daemon."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mlopsd.client import wire
from mlopsd.home import Home
from tui.messages import Connection
from tui.source import DaemonSource

RECORDED = Path(__file__).parent / "golden" / "tui_replies.json"
CONNECTION = Connection("connected", version="0.1.0", pid=4242, url="http://127.0.0.1:8765")


def _key(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    # A time range asked for "the last two minutes" is the same question whenever it is
    # asked: the recorded answer carries its own times.
    kwargs = {k: v for k, v in kwargs.items() if k != "since"}
    return json.dumps([method, list(args), sorted(kwargs.items())], default=str)


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return {"type": type(value).__name__, "data": value.model_dump(mode="json",
                                                                         by_alias=True)}
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return {"type": type(value[0]).__name__, "list": True,
                "data": [v.model_dump(mode="json", by_alias=True) for v in value]}
    return {"type": None, "data": value}


def _decode(entry: dict[str, Any]) -> Any:
    if entry["type"] is None:
        return entry["data"]
    cls = getattr(wire, entry["type"])
    if entry.get("list"):
        return [cls.model_validate(v) for v in entry["data"]]
    return cls.model_validate(entry["data"])


class RecordingSource(DaemonSource):
    def __init__(self, home: Home, **kwargs: Any) -> None:
        super().__init__(home, **kwargs)
        self.recorded: dict[str, Any] = {}
        self._record_lock = threading.Lock()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        value = super()._call(method, *args, **kwargs)
        with self._record_lock:
            self.recorded[_key(method, args, kwargs)] = _encode(value)
        return value

    def drift_report_full(self, report: Any) -> Any:
        full = super().drift_report_full(report)
        with self._record_lock:
            self.recorded[_key("drift_report_full", (report.id,), {})] = _encode(full)
        return full

    def save(self, path: Path = RECORDED) -> None:
        path.write_text(json.dumps(self.recorded, indent=0, sort_keys=True) + "\n")


class ReplaySource(DaemonSource):
    def __init__(self, home: Home, path: Path = RECORDED) -> None:
        super().__init__(home, actor="test:tui")
        self.replies = json.loads(path.read_text())

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _decode(self.replies[_key(method, args, kwargs)])

    def drift_report_full(self, report: Any) -> Any:
        return _decode(self.replies[_key("drift_report_full", (report.id,), {})])
