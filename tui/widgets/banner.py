"""A banner across the screen while the daemon is away (hidden otherwise)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from tui.messages import Connection


class Banner(Static):
    def __init__(self) -> None:
        super().__init__(id="banner")

    def on_mount(self) -> None:
        self.watch(self.app, "connection", self._show, init=True)

    def _show(self, connection: Connection) -> None:
        self.display = connection.state == "lost"
        if self.display:
            self.update(f"The daemon went away ({escape(connection.detail)}). Reconnecting "
                        "by itself; what you see is as it was.")
