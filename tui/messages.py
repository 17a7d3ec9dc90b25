"""What the background workers tell the screens. Workers never touch widgets; they post
these, and handlers on the UI thread change what is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from mlopsd.client.wire import EventOut


class DaemonEvent(Message):
    """An event from the daemon's stream."""

    def __init__(self, event: EventOut) -> None:
        super().__init__()
        self.event = event


@dataclass
class Connection:
    """What the status bar and the banner show about the daemon."""

    state: str
    """connecting, connected or lost"""
    detail: str = ""
    version: str = ""
    pid: int | None = None
    url: str = ""
    started_here: str = ""
    """Said when `mlops tui` started the daemon itself."""


class ConnectionChanged(Message):
    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection


class ActionDone(Message):
    """An action (promote, ack, cancel, …) came back from the daemon."""

    def __init__(self, what: str, ok: bool, detail: str = "", result: Any = None) -> None:
        super().__init__()
        self.what, self.ok, self.detail, self.result = what, ok, detail, result
