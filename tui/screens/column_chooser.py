"""The runs table's column chooser: metrics, params and tags, ticked on or off."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList


class ColumnChooser(ModalScreen[list[str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, available: list[str], current: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.available = available
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="chooser", classes="dialog"):
            yield Label("[b]Columns[/b] (space ticks, enter applies)")
            yield SelectionList[str](*[(c, c, c in self.current) for c in self.available],
                                     id="chooser-list")
            with Horizontal(id="dialog-buttons"):
                yield Button("Apply", variant="primary", id="chooser-apply")
                yield Button("Cancel", id="chooser-cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "chooser-apply":
            self._apply()
        else:
            self.dismiss(None)

    def key_enter(self) -> None:
        self._apply()

    def _apply(self) -> None:
        chosen = set(self.query_one("#chooser-list", SelectionList).selected)
        self.dismiss([c for c in self.available if c in chosen])

    def action_cancel(self) -> None:
        self.dismiss(None)
