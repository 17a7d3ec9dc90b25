"""The dialog before any action that changes what is served or decided: it says exactly
what will change and asks for the reason that goes into the audit log. Enter confirms,
escape cancels; nothing is sent without a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass
class ActionSpec:
    title: str
    changes: list[str]
    """What will change, one line each."""
    confirm: str = "Confirm"
    reason_label: str | None = "Reason (recorded in the audit log)"
    """None: the daemon keeps no reason for this action, so none is asked."""
    number_label: str | None = None
    """When set, a number is asked for too (a canary's share of requests)."""
    number_default: float = 10.0
    extra: list[str] = field(default_factory=list)


@dataclass
class ActionInput:
    reason: str
    number: float | None = None


class ConfirmAction(ModalScreen[ActionInput | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, spec: ActionSpec) -> None:
        super().__init__(classes="dialog-screen")
        self.spec = spec

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"[b]{escape(self.spec.title)}[/b]", id="dialog-title")
            yield Static("\n".join(f"• {escape(line)}" for line in self.spec.changes),
                         id="dialog-changes")
            if self.spec.number_label:
                yield Label(self.spec.number_label)
                yield Input(str(self.spec.number_default), id="dialog-number",
                            type="number")
            if self.spec.reason_label:
                yield Label(self.spec.reason_label)
                yield Input(placeholder="why (required)", id="dialog-reason")
            yield Static("", id="dialog-error", classes="problem")
            with Horizontal(id="dialog-buttons"):
                yield Button(self.spec.confirm, variant="primary", id="dialog-confirm")
                yield Button("Cancel", id="dialog-cancel")

    def on_mount(self) -> None:
        self.query_one("#dialog-error").display = False
        inputs = self.query(Input)
        if inputs:
            inputs.last().focus()
        else:
            self.query_one("#dialog-confirm", Button).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "dialog-confirm":
            self._confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _confirm(self) -> None:
        asked = self.query("#dialog-reason")
        reason = asked.first(Input).value.strip() if asked else ""
        number: float | None = None
        error = self.query_one("#dialog-error", Static)
        if self.spec.number_label:
            try:
                number = float(self.query_one("#dialog-number", Input).value)
            except ValueError:
                error.update("a number, please")
                error.display = True
                return
        if asked and not reason:
            error.update("a reason is needed: it is recorded with the change")
            error.display = True
            self.query_one("#dialog-reason", Input).focus()
            return
        self.dismiss(ActionInput(reason, number))
