"""A DataTable refreshed in place: rows are keyed, so new data keeps the cursor on the same
row, the scroll where it was and the selection marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class KeyedTable(DataTable):
    def __init__(self, columns: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._columns = list(columns)
        self.filter_text = ""
        self._rows: list[tuple[str, list[Any]]] = []

    def on_mount(self) -> None:
        for name in self._columns:
            self.add_column(name, key=name)

    def set_columns(self, columns: Sequence[str]) -> None:
        if list(columns) == self._columns:
            return
        self._columns = list(columns)
        self.clear(columns=True)
        for name in self._columns:
            self.add_column(name, key=name)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key((row, 0)).row_key.value

    def sync(self, rows: list[tuple[str, list[Any]]]) -> None:
        """Show `rows` (key, cells), filtered by `filter_text`, keeping cursor and scroll.

        Only what changed is touched: rows gone are removed, new rows added, changed cells
        updated, then the order set. Measuring cells is what costs (a 200-row table
        rebuilt whole kept the event loop busy for ~0.4 s on a loaded machine), so only
        new and changed cells are measured."""
        self._rows = rows
        visible = [(k, c) for k, c in rows if self._matches(c)]
        keys = [k for k, _ in visible]
        order = [r.key.value for r in self.ordered_rows]
        if keys == order and not self._updated_cells:
            if self._update_cells(visible):
                self._measure()
            return
        selected, scroll = self.selected_key, (self.scroll_x, self.scroll_y)
        wanted = set(keys)
        gone = [k for k in order if k not in wanted]
        if len(gone) > len(order) // 2:
            self.clear()
            for key, cells in visible:
                self.add_row(*cells, key=key)
        else:
            for key in gone:
                self.remove_row(key)
            present = set(order) - set(gone)
            self._update_cells([(k, c) for k, c in visible if k in present])
            for key, cells in visible:
                if key not in present:
                    self.add_row(*cells, key=key)
            if [r.key.value for r in self.ordered_rows] != keys:
                self._set_order(keys)
        self._measure()
        if selected in wanted:
            self.move_cursor(row=keys.index(selected), scroll=False)
        self.scroll_to(*scroll, animate=False, immediate=True)

    def _update_cells(self, visible: list[tuple[str, list[Any]]]) -> bool:
        changed = False
        for key, cells in visible:
            for column, value in zip(self._columns, cells, strict=False):
                if self.get_cell(key, column) != value:
                    self.update_cell(key, column, value, update_width=True)
                    changed = True
        return changed

    def _set_order(self, keys: list[str]) -> None:
        """Rows in this order (what DataTable.sort does, with the order given)."""
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def _measure(self) -> None:
        """Measure new and changed cells now. DataTable does it when it next goes idle,
        which did not always come for a table updated from its screen's handler (columns
        stayed as narrow as their first values). Private API (like `_set_order`): textual
        is pinned below 9, and the tests would show a change."""
        if self._updated_cells:
            cells = self._updated_cells.copy()
            self._updated_cells.clear()
            self._update_column_widths(cells)
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(rows)
        self.refresh(layout=True)

    def refilter(self, text: str) -> None:
        self.filter_text = text.lower()
        self.sync(self._rows)

    def _matches(self, cells: list[Any]) -> bool:
        if not self.filter_text:
            return True
        words = " ".join(c.plain if isinstance(c, Text) else str(c) for c in cells).lower()
        return all(part in words for part in self.filter_text.split())
