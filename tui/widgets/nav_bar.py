"""The row of screens at the top: each one key away, the current one marked; clickable."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from tui.keys import SCREENS


class NavItem(Static):
    def __init__(self, mode: str, key: str, title: str, current: bool) -> None:
        super().__init__(f"[b]{key}[/b] {title}", classes="nav-item", id=f"nav-{mode}")
        self.mode = mode
        self.set_class(current, "-current")

    def on_click(self) -> None:
        self.app.switch_mode(self.mode)


class NavBar(Horizontal):
    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def compose(self) -> ComposeResult:
        for mode, key, title in SCREENS:
            yield NavItem(mode, key, title, mode == self.current)
