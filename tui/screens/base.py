"""What every screen of the app shares: the screens' row at the top, the banner, the status
bar and the footer around its body; its data loaded off the UI thread and loaded again
when an event that concerns it arrives, when it comes back into view, or on reconnect."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from mlopsd.client.wire import EventOut
from tui.keys import FILTER, HELP, MORE, REFRESH
from tui.loader import Loader
from tui.source import MAX_LIMIT, PAGE, DaemonSource
from tui.widgets.banner import Banner
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.nav_bar import NavBar
from tui.widgets.status_bar import StatusBar

RELOAD_EVERY_S = 0.25
"""A screen reloads at most this often, however many events concern it."""


class MlopsScreen(Screen):
    MODE: ClassVar[str] = ""
    EVENTS: ClassVar[tuple[str, ...]] = ()
    """Event types (or prefixes before a dot) that change what this screen shows."""
    BINDINGS = [HELP, FILTER, REFRESH, MORE]

    def __init__(self) -> None:
        super().__init__(id=f"screen-{self.MODE}")
        self.loader = Loader(self, self.fetch, self.show, self._failed, name=f"{self.MODE}",
                             min_interval=RELOAD_EVERY_S)
        self.page = PAGE
        self.limit = PAGE
        """How many of a long list to ask for: one page more each `]`."""

    @property
    def source(self) -> DaemonSource:
        return self.app.source  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield Banner()
        yield from self.compose_body()
        yield Static("", id="problem", classes="problem")
        yield StatusBar()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    # --- loading -------------------------------------------------------------------------

    def fetch(self) -> Any:
        """Runs in a thread: read what the screen shows (through `self.source`)."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Runs on the UI thread with what `fetch` returned."""
        raise NotImplementedError

    def reload(self) -> None:
        if self.app.connection.state == "connected":  # type: ignore[attr-defined]
            self.loader.request()

    def action_reload(self) -> None:
        self.reload()

    def action_more(self) -> None:
        if self.limit >= MAX_LIMIT:
            self.notify(f"at most {MAX_LIMIT:,} here: narrow the list with /",
                        severity="warning")
            return
        self.limit = min(self.limit + self.page, MAX_LIMIT)
        self.reload()

    def _failed(self, error: str) -> None:
        problem = self.query_one("#problem", Static)
        problem.update(f"[b]could not load:[/b] {escape(error)}")
        problem.display = True

    def clear_problem(self) -> None:
        self.query_one("#problem", Static).display = False

    def on_screen_resume(self) -> None:
        self.reload()

    def daemon_event(self, event: EventOut) -> None:
        if self.concerns(event):
            self.reload()

    def concerns(self, event: EventOut) -> bool:
        if event.type == "stream.lost":  # events were missed: whatever is shown may be old
            return True
        return any(event.type == t or event.type.startswith(t + ".") for t in self.EVENTS)

    def connected(self) -> None:
        self.reload()

    # --- filtering -----------------------------------------------------------------------

    def action_filter(self) -> None:
        bars = self.query(FilterBar)
        if bars:
            bars.first().open()

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        for table in self.query(KeyedTable).results():
            if table.has_class("filterable"):
                table.refilter(message.text)
