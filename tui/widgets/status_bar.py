"""The bottom line: the daemon's state (who started it, version, pid, address) and the
last thing that happened. Watches the app's `connection`, so every screen shows the same."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from tui.messages import Connection


def describe(connection: Connection) -> str:
    started = f" {escape(connection.started_here)};" if connection.started_here else ""
    if connection.state == "connected":
        return (f"[green]●[/] live: daemon {connection.version}, pid {connection.pid} at "
                f"{connection.url};{started}")
    if connection.state == "lost":
        return f"[red]●[/] daemon away, reconnecting… ({escape(connection.detail)})"
    detail = f": {escape(connection.detail)}" if connection.detail else ""
    return f"[yellow]●[/]{started} connecting to the daemon{detail}"


class StatusBar(Static):
    def __init__(self) -> None:
        super().__init__(id="status-bar")

    def on_mount(self) -> None:
        self.watch(self.app, "connection", self._show, init=True)

    def _show(self, connection: Connection) -> None:
        self.update(describe(connection))
