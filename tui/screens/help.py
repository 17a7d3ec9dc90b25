"""`?`: the keys of the screen underneath and of the app, with their ids for `[tui.keys]`."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GENERAL = """\
[b]Everywhere[/b]
  1-8          the screens (also clickable at the top)
  ctrl+p       the command palette: screens and actions such as "riders: roll back to 1.0.0"
  /            filter the table under the cursor (every word must appear); escape clears it
  tab          next pane;  arrows / page keys / mouse move in tables
  ?            this help;  escape closes it;  q quits
Keys and the theme can be changed in mlops.toml: \\[tui] theme = "textual-light" and
\\[tui.keys] "binding.id" = "key" (ids below)."""


def _binding_lines(screen: Screen) -> list[str]:
    """This screen's own keys first (with their ids), then the moves of the widget in
    focus (a table's cursor keys), which the screen's keys must not be buried under."""
    own: list[str] = []
    moves: list[str] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding: Binding = active.binding
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        key = escape(screen.app.get_key_display(binding))
        if binding.id:
            own.append(f"  {key:<12} {escape(binding.description)}  ({binding.id})")
        else:
            moves.append(f"  {key:<12} {escape(binding.description)}")
    return own + (["", "[b]Moving[/b]", *moves] if moves else [])


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__(classes="dialog-screen")
        self.under = under

    def compose(self) -> ComposeResult:
        title = getattr(self.under, "TITLE", None) or type(self.under).__name__
        text = (f"{GENERAL}\n\n[b]This screen: {escape(str(title))}[/b]\n"
                + "\n".join(_binding_lines(self.under)))
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(text, id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
