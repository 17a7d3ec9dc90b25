"""What every screen of the app shares: the screens' row at the top, the banner, the status
bar and the footer around its body; its data loaded off the UI thread and loaded again
when an event that concerns it arrives, when it comes back into view, or on reconnect."""

from __future__ import annotations

import gc
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

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
STREAM_RELOAD_EVERY_S = 1.0
"""... and at most this often while events keep coming (see tui/loader.py)."""


class MlopsScreen(Screen):
    MODE: ClassVar[str] = ""
    EVENTS: ClassVar[tuple[str, ...]] = ()
    """Event types (or prefixes before a dot) that change what this screen shows."""
    BINDINGS = [HELP, FILTER, REFRESH, MORE]

    def __init__(self) -> None:
        super().__init__(id=f"screen-{self.MODE}")
        # Textual starts a new screen at -1, which makes its first two switches re-parse
        # and re-apply the whole stylesheet (~100 ms each on this machine): a screen made
        # now is styled from the current stylesheet as it mounts. (Private: textual is
        # pinned below 9; a theme change still counts up and restyles on the next switch.)
        self._css_update_count = self.app._css_update_count
        self._away = True
        """Not shown since the last load was asked for: showing it again loads."""
        self.loader = Loader(self, self.fetch, self.show, self._failed, name=f"{self.MODE}",
                             min_interval=RELOAD_EVERY_S,
                             stream_interval=STREAM_RELOAD_EVERY_S)
        self.page = PAGE
        """Rows of a long list asked for in one request."""
        self.pages = 1
        """How many pages of it to show: one more each `]`."""
        self._labels: dict[str, str] = {}

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

    def on_mount(self) -> None:
        # A screen's widgets live as long as the app: out of the collector's full passes,
        # which otherwise walk them all and kept the UI from input for 50-140 ms at a time
        # while events streamed in (benchmarks/tui_bench.py). The app freezes what it has
        # once ready; each screen, made later, freezes its own.
        gc.freeze()

    # --- loading -------------------------------------------------------------------------

    def fetch(self) -> Any:
        """Runs in a thread: read what the screen shows (through `self.source`)."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Runs on the UI thread with what `fetch` returned."""
        raise NotImplementedError

    def reload(self, *, by_events: bool = False) -> None:
        if self.app.connection.state == "connected":  # type: ignore[attr-defined]
            self.loader.request(by_events=by_events)

    def action_reload(self) -> None:
        self.reload()

    def action_more(self) -> None:
        if (self.pages + 1) * self.page > MAX_LIMIT:
            self.notify(f"at most {MAX_LIMIT:,} here: narrow the list with /",
                        severity="warning")
            return
        self.pages += 1
        self.reload()

    def set_label(self, selector: str, text: str) -> None:
        """A label's text, changed only when it differs: an update lays the whole screen out
        again, and the screens set their titles on every load."""
        if self._labels.get(selector) != text:
            self._labels[selector] = text
            self.query_one(selector, Label).update(text)

    @staticmethod
    def more_hint(items: Any, what: str = "first") -> str:
        """What a title says when a long list goes on past what is shown."""
        if getattr(items, "next", None) is None:
            return ""
        return f" ({what} {len(items):,}; ] for more, / to narrow)"

    def _failed(self, error: str) -> None:
        problem = self.query_one("#problem", Static)
        problem.update(f"[b]could not load:[/b] {escape(error)}")
        problem.display = True

    def clear_problem(self) -> None:
        self.query_one("#problem", Static).display = False

    def on_screen_resume(self) -> None:
        # A new screen is resumed twice (once made, once switched to): load once.
        if self._away:
            self._away = False
            self.reload()

    def on_screen_suspend(self) -> None:
        self._away = True

    def daemon_event(self, event: EventOut) -> None:
        if self.concerns(event):
            self.reload(by_events=True)

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
