"""The table every screen shows its lists in, and the loader that fills the screens: cells
shown as written, drawn as DataTable draws them (faster), many rows gone at once without
losing the cursor, and loads asked for by a stream of events spaced out while what the
user asks for loads at once."""

from __future__ import annotations

import asyncio
import threading
import time
import types
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tests.tui_screen import pilot_test
from tui.format import state_text
from tui.loader import Loader
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ["✓", "name", "state", "score"]


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="quick")


def _rows(n: int, start: int = 0) -> list[tuple[str, list[Any]]]:
    states = ["running", "failed", "succeeded", "cancelled", ""]
    return [(f"r{i}", [Text("✓", style="bold green") if i % 3 == 0 else "",
                       f"run-{i:04d}", state_text(states[i % len(states)]),
                       f"{i / 7:.4g}" if i % 4 else Text("", style="red")])
            for i in range(start, start + n)]


def _line(table: KeyedTable, y: int) -> list[tuple[str, Any]]:
    return [(s.text, s.style) for s in Segment.simplify(table.render_line(y))]


@pilot_test
async def test_cells_are_shown_as_written_never_read_as_markup() -> None:
    app = Tables()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one("#quick", KeyedTable)
        # Names from outside (files dropped, errors) that are not markup, and one that is.
        table.sync([("a", ["", "sales[/].csv", "[b]not bold[/b]", "x[1]"])])
        await pilot.pause()
        shown = "".join(text for text, _style in _line(table, 1))
        assert "sales[/].csv" in shown and "[b]not bold[/b]" in shown and "x[1]" in shown
        table.update_cell("a", "score", "[red]9[/red]", update_width=True)
        await pilot.pause()
        assert "[red]9[/red]" in "".join(text for text, _style in _line(table, 1))


@pilot_test
async def test_cells_are_drawn_exactly_as_datatable_draws_them() -> None:
    app = Tables()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one("#quick", KeyedTable)
        table.sync(_rows(8))
        table.move_cursor(row=2)
        await pilot.pause()
        quick = [_line(table, y) for y in range(table.size.height)]
        # The same table, the same moment, every cell drawn the DataTable way.
        table._render_cell = types.MethodType(DataTable._render_cell, table)
        table._clear_caches()
        for y, line in enumerate(quick):
            assert line == _line(table, y), f"line {y} differs"


@pilot_test
async def test_many_rows_gone_at_once_keep_the_cursor_on_its_row() -> None:
    app = Tables()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#quick", KeyedTable)
        table.sync(_rows(200))
        table.move_cursor(row=120)
        await pilot.pause()
        assert table.selected_key == "r120"
        # Newest first: 50 new runs at the top push 50 off the bottom.
        newer = _rows(50, start=200)[::-1] + _rows(150)
        table.sync(newer)
        await pilot.pause()
        assert [r.key.value for r in table.ordered_rows] == [k for k, _ in newer]
        assert table.row_count == 200
        assert table.selected_key == "r120"
        assert str(table.get_row("r249")[1]) == "run-0249"
        assert not any(r.key.value in {"r150", "r199"} for r in table.ordered_rows)


@pilot_test
async def test_a_stream_of_events_loads_seldom_and_the_user_at_once() -> None:
    fetched: list[float] = []
    lock = threading.Lock()

    def fetch() -> int:
        with lock:
            fetched.append(time.monotonic())
            return len(fetched)

    app = App[None]()
    async with app.run_test() as pilot:
        loader = Loader(app, fetch, lambda _n: None, lambda _e: None,
                        min_interval=0.05, stream_interval=0.5)
        loader.request()
        while loader.loads < 1:
            await pilot.pause(0.01)
        # Forty events, one every 25 ms: without the stream interval, ~20 loads.
        for _ in range(40):
            loader.request(by_events=True)
            await asyncio.sleep(0.025)
        while loader.running:
            await pilot.pause(0.01)
        streamed = len(fetched) - 1
        assert 1 <= streamed <= 4, f"{streamed} loads for a 1 s stream of events"
        # An event has just asked and waits for the stream interval; the user does not.
        loader.request(by_events=True)
        asked = time.monotonic()
        before = len(fetched)
        loader.request()
        while len(fetched) == before:
            await pilot.pause(0.01)
        assert fetched[-1] - asked < 0.4, "the user's load waited for the event stream's gap"


@pilot_test
async def test_a_column_added_at_the_end_keeps_the_rows_and_the_cursor() -> None:
    app = Tables()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#quick", KeyedTable)
        table.sync(_rows(50))
        table.move_cursor(row=30)
        await pilot.pause()
        table.set_columns([*COLUMNS, "loss"])
        table.sync([(key, [*cells, f"{i}.5"]) for i, (key, cells) in enumerate(_rows(50))])
        await pilot.pause()
        assert table.selected_key == "r30" and table.row_count == 50
        assert str(table.get_row("r7")[-1]) == "7.5"
        assert "loss" in "".join(text for text, _style in _line(table, 0))
        table.set_columns(["name", "loss"])  # any other change starts over
        table.sync([(key, [cells[1], "x"]) for key, cells in _rows(3)])
        await pilot.pause()
        assert [str(c) for c in table.get_row("r1")] == ["run-0001", "x"]
